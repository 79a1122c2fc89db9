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
        var Status: String
        var ExitCode: Int?
        var OOMKilled: Bool?
    }
    struct ConfigSection: Decodable { var Labels: [String: String]? }
    var Id: String
    var Name: String
    var State: StateSection
    var Config: ConfigSection
    var NetworkSettings: DockerNetworkSettings?

    var container: DockerContainer {
        DockerContainer(
            id: Id, name: Name.hasPrefix("/") ? String(Name.dropFirst()) : Name, state: State.Status,
            labels: Config.Labels ?? [:], addresses: NetworkSettings?.addresses ?? [:],
            exitCode: State.ExitCode, oomKilled: State.OOMKilled ?? false)
    }
}

/// One entry of `GET /containers/json`.
struct DockerListEntry: Decodable {
    var Id: String
    var Names: [String]?
    var State: String
    var Labels: [String: String]?
    var NetworkSettings: DockerNetworkSettings?

    var container: DockerContainer {
        let name = Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? Id
        return DockerContainer(
            id: Id, name: name, state: State, labels: Labels ?? [:], addresses: NetworkSettings?.addresses ?? [:])
    }
}

struct DockerNetworkSettings: Decodable {
    struct Endpoint: Decodable { var IPAddress: String? }
    var Networks: [String: Endpoint]?

    var addresses: [String: String] {
        (Networks ?? [:]).compactMapValues { $0.IPAddress.flatMap { $0.isEmpty ? nil : $0 } }
    }
}
