import Foundation
import Providers

/// The container operations, each one Engine API call, with the statuses that mean success.
extension DockerEngineClient {
    enum Created {
        case created
        /// 409: a container of that name exists (the engine's answer to a repeated create).
        case nameTaken
    }

    /// A missing image is `notFound` (retried: building it heals the key) naming `image`'s setting.
    func createContainer(name: String, body: Data, image: ImageChoice) async throws -> Created {
        let answer = try await send("POST", "/containers/create", query: [("name", name)], json: body, operation: "create")
        switch answer.status {
        case 201:
            return .created
        case 409:
            return .nameTaken
        case 400 where (Self.engineMessage(answer.body) ?? "").hasPrefix("Conflict."):
            // Engines of the 17.09 era answered a name conflict with 400 (moby#35022).
            return .nameTaken
        case 404:
            throw ProviderError(
                .notFound, provider: "instances", operation: "create",
                message:
                    "Docker Engine: image \(image.name) (\(image.setting)) is not in the engine: \(Self.engineMessage(answer.body) ?? "no such image")"
            )
        default:
            throw failure(answer, operation: "create")
        }
    }

    /// 304 (already started) is success.
    func startContainer(_ id: String) async throws {
        let answer = try await send("POST", "/containers/\(id)/start", operation: "start")
        guard answer.status == 204 || answer.status == 304 else { throw failure(answer, operation: "start") }
    }

    /// Nil when there is no such container.
    func inspectContainer(_ id: String) async throws -> DockerContainer? {
        let answer = try await send("GET", "/containers/\(id)/json", operation: "inspect")
        if answer.status == 404 { return nil }
        guard answer.status == 200 else { throw failure(answer, operation: "inspect") }
        return try decode(DockerInspectDocument.self, answer, operation: "inspect").container
    }

    /// Every container (running or not) carrying all these labels (`key=value`): one call.
    func listContainers(labels: [String]) async throws -> [DockerContainer] {
        let filters = String(decoding: try JSONEncoder().encode(["label": labels]), as: UTF8.self)
        let answer = try await send(
            "GET", "/containers/json", query: [("all", "true"), ("filters", filters)], operation: "list")
        guard answer.status == 200 else { throw failure(answer, operation: "list") }
        return try decode([DockerListEntry].self, answer, operation: "list").map(\.container)
    }

    /// SIGTERM, then SIGKILL after `graceSeconds`; 304 (not running) and 404 are success.
    func stopContainer(_ id: String, graceSeconds: Int) async throws {
        let answer = try await send(
            "POST", "/containers/\(id)/stop", query: [("t", String(graceSeconds))], operation: "terminate",
            extraMilliseconds: graceSeconds * 1_000)
        guard [204, 304, 404].contains(answer.status) else { throw failure(answer, operation: "terminate") }
    }

    /// Removes the container and its anonymous volumes; 404 is success.
    func removeContainer(_ id: String) async throws {
        let answer = try await send(
            "DELETE", "/containers/\(id)", query: [("force", "true"), ("v", "true")], operation: "terminate")
        guard [204, 404].contains(answer.status) else { throw failure(answer, operation: "terminate") }
    }

    /// The last `lines` lines of the container's stdout and stderr, demultiplexed.
    func logTail(_ id: String, lines: Int) async throws -> String {
        let answer = try await send(
            "GET", "/containers/\(id)/logs", query: [("stdout", "1"), ("stderr", "1"), ("tail", String(lines))],
            operation: "logs")
        guard answer.status == 200 else { throw failure(answer, operation: "logs") }
        return DockerLogStream.demultiplex(answer.body)
    }

    func decode<T: Decodable>(_ type: T.Type, _ answer: Answer, operation: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: answer.body)
        } catch {
            throw ProviderError(
                .transient, provider: "instances", operation: operation,
                message: "Docker Engine: an answer that is not the expected JSON (HTTP \(answer.status))")
        }
    }
}
