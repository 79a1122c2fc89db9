import Foundation
import Providers

extension DockerInstanceProvider {
    /// Checks at start-up what would otherwise fail every key: the socket exists and may be
    /// used, the engine answers (`/_ping`) and speaks the pinned API version (`/version`), the
    /// image is in the engine, a named network exists. Throws the first problem, naming its
    /// setting.
    public func checkSetup() async throws {
        let socket = settings.socketPath
        var status = stat()
        guard stat(socket, &status) == 0 else {
            throw ProviderSetupError(setting: "--docker-socket", reason: "no Docker Engine socket at \(socket)")
        }
        guard access(socket, R_OK | W_OK) == 0 else {
            throw ProviderSetupError(
                setting: "--docker-socket",
                reason: "permission denied on \(socket) (run as root or as a member of the socket's group)")
        }
        let ping = try await call("GET", "/_ping", versioned: false, setting: "--docker-socket")
        guard ping.status == 200 else {
            throw ProviderSetupError(
                setting: "--docker-socket", reason: "the engine at \(socket) answered /_ping with HTTP \(ping.status)")
        }
        try await checkVersion()
        let image = try await call("GET", "/images/\(settings.image)/json", setting: "--docker-image")
        guard image.status == 200 else {
            throw ProviderSetupError(
                setting: "--docker-image",
                reason:
                    "image \(settings.image) is not in the engine (\(DockerEngineClient.engineMessage(image.body) ?? "HTTP \(image.status)")); build it with scripts/build-workspace-image"
            )
        }
        if settings.networkMode != "host" {
            let network = try await call("GET", "/networks/\(settings.networkMode)", setting: "--docker-network")
            guard network.status == 200 else {
                throw ProviderSetupError(setting: "--docker-network", reason: "no network \(settings.networkMode) in the engine")
            }
        }
    }

    private func checkVersion() async throws {
        let answer = try await call("GET", "/version", versioned: false, setting: "--docker-socket")
        struct Version: Decodable {
            var apiVersion: String
            var minAPIVersion: String?

            enum CodingKeys: String, CodingKey {
                case apiVersion = "ApiVersion"
                case minAPIVersion = "MinAPIVersion"
            }
        }
        guard answer.status == 200, let version = try? JSONDecoder().decode(Version.self, from: answer.body) else {
            throw ProviderSetupError(setting: "--docker-socket", reason: "the engine at \(settings.socketPath) has no /version")
        }
        let pinned = Self.versionNumber(settings.apiVersion)
        let lowest = version.minAPIVersion.flatMap(Self.versionNumber) ?? [0]
        guard let pinned, let highest = Self.versionNumber(version.apiVersion),
            !highest.lexicographicallyPrecedes(pinned), !pinned.lexicographicallyPrecedes(lowest)
        else {
            throw ProviderSetupError(
                setting: "--docker-api-version",
                reason:
                    "the engine speaks API \(version.minAPIVersion ?? "?") to \(version.apiVersion), not \(settings.apiVersion)")
        }
    }

    private func call(_ method: String, _ path: String, versioned: Bool = true, setting: String) async throws
        -> DockerEngineClient.Answer
    {
        do {
            return try await engine.send(method, path, versioned: versioned, operation: "check")
        } catch let error as ProviderError {
            throw ProviderSetupError(setting: setting, reason: error.message)
        }
    }

    /// `1.41` as [1, 41], for comparing.
    static func versionNumber(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.compactMap { $0 }
    }
}
