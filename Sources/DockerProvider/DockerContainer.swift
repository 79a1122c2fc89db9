import Foundation

/// What the provider reads of a container, from inspect (`GET /containers/{id}/json`) or from
/// a list entry (`GET /containers/json`): its name, state, labels and network addresses.
struct DockerContainer: Sendable, Equatable {
    var id: String
    var name: String
    /// The engine's state word: created, running, paused, restarting, removing, exited, dead.
    var state: String
    var labels: [String: String]
    /// Network name -> the container's IP address on it.
    var addresses: [String: String]
    /// Known from inspect only.
    var exitCode: Int?
    var oomKilled = false
}

/// `GET /containers/{id}/json`, the fields the provider reads.
struct DockerInspectDocument: Decodable {
    struct StateSection: Decodable {
        var status: String
        var exitCode: Int?
        var oomKilled: Bool?

        enum CodingKeys: String, CodingKey {
            case status = "Status"
            case exitCode = "ExitCode"
            case oomKilled = "OOMKilled"
        }
    }
    struct ConfigSection: Decodable {
        var labels: [String: String]?

        enum CodingKeys: String, CodingKey { case labels = "Labels" }
    }
    var id: String
    var name: String
    var state: StateSection
    var config: ConfigSection
    var networkSettings: DockerNetworkSettings?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case name = "Name"
        case state = "State"
        case config = "Config"
        case networkSettings = "NetworkSettings"
    }

    var container: DockerContainer {
        DockerContainer(
            id: id, name: name.hasPrefix("/") ? String(name.dropFirst()) : name, state: state.status,
            labels: config.labels ?? [:], addresses: networkSettings?.addresses ?? [:],
            exitCode: state.exitCode, oomKilled: state.oomKilled ?? false)
    }
}

/// One entry of `GET /containers/json`.
struct DockerListEntry: Decodable {
    var id: String
    var names: [String]?
    var state: String
    var labels: [String: String]?
    var networkSettings: DockerNetworkSettings?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case names = "Names"
        case state = "State"
        case labels = "Labels"
        case networkSettings = "NetworkSettings"
    }

    var container: DockerContainer {
        let name = names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? id
        return DockerContainer(
            id: id, name: name, state: state, labels: labels ?? [:], addresses: networkSettings?.addresses ?? [:])
    }
}

struct DockerNetworkSettings: Decodable {
    struct Endpoint: Decodable {
        var ipAddress: String?

        enum CodingKeys: String, CodingKey { case ipAddress = "IPAddress" }
    }
    var networks: [String: Endpoint]?

    enum CodingKeys: String, CodingKey { case networks = "Networks" }

    var addresses: [String: String] {
        (networks ?? [:]).compactMapValues { $0.ipAddress.flatMap { $0.isEmpty ? nil : $0 } }
    }
}
