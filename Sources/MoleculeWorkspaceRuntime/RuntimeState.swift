import Foundation
import Hummingbird
import LocalProviders
import Synchronization

/// What the runtime reports, and the HTTP routes that read and change it.
///
/// - `GET /status`: `{"ready", "busy_since", "plugins", "bundle_hash", "management_mcp_present"}`
/// - `POST /turns/begin`, `POST /turns/end`: mark a turn in progress or over.
/// - `PUT /plugins/{name}` with `{"ref": "..."}` and `Authorization: Bearer <instance token>`:
///   install (idempotent); `DELETE /plugins/{name}`: remove.
final class RuntimeState: Sendable {
    struct PluginRequest: Decodable {
        var ref: String
    }

    private let status: Mutex<RuntimeStatusDocument>
    private let token: String
    private let managementPlugin: String

    init(bundleHash: String?, token: String, managementPlugin: String, bootPlugins: [String: String] = [:]) {
        self.status = Mutex(
            RuntimeStatusDocument(
                ready: true, busySince: nil, plugins: bootPlugins, bundleHash: bundleHash,
                managementMCPPresent: bootPlugins[managementPlugin] != nil))
        self.token = token
        self.managementPlugin = managementPlugin
    }

    func routes(_ router: Router<BasicRequestContext>) {
        router.get("status") { _, _ in try self.json(self.status.withLock { $0 }) }
        router.post("turns/begin") { _, _ -> HTTPResponse.Status in
            self.status.withLock { if $0.busySince == nil { $0.busySince = Date() } }
            return .noContent
        }
        router.post("turns/end") { _, _ -> HTTPResponse.Status in
            self.status.withLock { $0.busySince = nil }
            return .noContent
        }
        router.put("plugins/:name") { request, context -> HTTPResponse.Status in
            guard self.authorized(request) else { return .unauthorized }
            let name = try context.parameters.require("name")
            let plugin = try await request.decode(as: PluginRequest.self, context: context)
            self.status.withLock { status in
                status.plugins[name] = plugin.ref
                status.managementMCPPresent = status.plugins[self.managementPlugin] != nil
            }
            return .ok
        }
        router.delete("plugins/:name") { request, context -> HTTPResponse.Status in
            guard self.authorized(request) else { return .unauthorized }
            let name = try context.parameters.require("name")
            self.status.withLock { status in
                status.plugins.removeValue(forKey: name)
                status.managementMCPPresent = status.plugins[self.managementPlugin] != nil
            }
            return .ok
        }
    }

    private func authorized(_ request: Request) -> Bool {
        request.headers[.authorization] == "Bearer \(token)"
    }

    private func json(_ status: RuntimeStatusDocument) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(status))))
    }
}
