import ArgumentParser
import Foundation
import Hummingbird
import LocalProviders
import LogEscaping
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The small workspace runtime the local instance provider runs, one process per instance: it
/// loads its staged bundle (template files, secrets, instance token) from the file secret store,
/// and serves on loopback what a real runtime reports and accepts — status, plugin delivery
/// (authenticated with the instance token), and a way to begin and end a turn. SIGTERM stops it
/// cleanly.
@main
struct WorkspaceRuntime: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "molecule-workspace-runtime",
        abstract: "A minimal workspace runtime for the local provider: status, plugins and turns over HTTP.")

    @Option(help: "Root of the file secret store.")
    var secretStore: String

    @Option(help: "The bundle's secret name.")
    var bundle: String

    @Option(help: "Address to listen on: loopback, or 0.0.0.0 in a container on a network of its own.")
    var host = "127.0.0.1"

    @Option(help: "Port; 0 picks a free one.")
    var port = 0

    @Option(help: "Where to write the port once listening.")
    var portFile: String?

    @Option(help: "The plugin that provides the management MCP server.")
    var managementPlugin = "molecule-platform-mcp"

    @Option(help: "Run as this user (started as root: switch to it before anything else; --gid too).")
    var uid: UInt32?

    @Option(help: "Run as this group (with --uid).")
    var gid: UInt32?

    func validate() throws {
        if (uid == nil) != (gid == nil) { throw ValidationError("--uid and --gid go together") }
    }

    /// Parses, then switches users on the main thread before any other thread exists (at the top
    /// of the async main nothing else runs yet), so that every thread started later inherits the
    /// workspace's user: `setuid(2)` from a pool thread leaves the main thread as root.
    static func main() async {
        do {
            let runtime = try parse()
            if let uid = runtime.uid, let gid = runtime.gid { try PrivilegeDrop.become(uid: uid, gid: gid) }
            try await runtime.run()
        } catch {
            exit(withError: error)
        }
    }

    func run() async throws {
        // Request paths and plugin names reach this log: one event per line, control characters escaped.
        LoggingSystem.bootstrap { EscapingLogHandler(StreamLogHandler.standardError(label: $0)) }
        let logger = Logger(label: "molecule-workspace-runtime")
        let store = FileSecretStore(root: URL(fileURLWithPath: secretStore))
        let description = try await store.describe(name: bundle)
        let loaded = try JSONDecoder().decode(LoadedBundle.self, from: try await store.read(name: bundle))
        let state = RuntimeState(
            bundleHash: description?.contentHash, token: loaded.instanceToken,
            managementPlugin: managementPlugin, bootPlugins: loaded.plugins ?? [:])
        let router = Router()
        state.routes(router)
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                if let bound = channel.localAddress?.port { announce.yield(bound) }
                announce.finish()
            }, logger: logger)
        var services: [any Service] = [app]
        if let portFile { services.append(PortFileWriter(path: portFile, ports: ports)) }
        // A service that fails (the port file) stops the group, and `run` throws: exit status 1.
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

/// The bundle's canonical JSON, as staged by the secrets-bundle controller.
struct LoadedBundle: Decodable {
    var files: [String: String]
    var env: [String: String]
    var instanceToken: String
    /// Plugins to install at boot (those that need a restart to load): name -> ref.
    var plugins: [String: String]?

    enum CodingKeys: String, CodingKey {
        case files, env, plugins
        case instanceToken = "instance_token"
    }
}
