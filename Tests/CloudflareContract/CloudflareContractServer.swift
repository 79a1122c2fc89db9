import Foundation
import Hummingbird
import Logging
import Providers
import Synchronization

/// Cloudflare's tunnel-configuration API on loopback, as the v4 API documents it: GET and PUT
/// `/client/v4/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations`, bearer tokens
/// allowed per account, the envelope `{result, success, errors, messages}` on every answer,
/// full-replace PUTs that move `version`, the catch-all rule check (400, code 1056), and 429 with
/// `Retry-After` followed by a block of every call. Tests inject faults per account: throttling,
/// scripted answers, another writer between a client's GET and its PUT.
///
/// One server per test process (`shared()`); each test takes accounts of its own.
public final class CloudflareContractServer: Sendable {
    /// An edit another writer makes to a tunnel's ingress rules (a PUT of what it read, edited).
    public typealias Edit = @Sendable (inout [JSONValue]) -> Void

    /// One request as the server saw it.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var tunnelID: String
        public var status: Int
        public var at: ContinuousClock.Instant
        /// It arrived while the account was blocked after a 429: the client did not wait.
        public var duringBlock: Bool
        /// The `Authorization` header as received.
        public var authorization: String?
    }

    /// An answer given instead of serving a request.
    public enum ScriptedAnswer: Sendable {
        /// The v4 failure envelope with these `(code, message)` errors.
        case failure(status: Int, errors: [(Int, String)])
        /// A body that is not the envelope (an edge's HTML error page).
        case raw(status: Int, body: String)
        /// A 400 whose message repeats the request's `Authorization` header: a server that
        /// cannot be trusted to keep the token out of what it says.
        case echoAuthorization

        func answer(authorization: String?) -> ContractState.Answer {
            switch self {
            case .failure(let status, let errors):
                return ContractState.failure(status, errors.map { ContractState.error($0.0, $0.1) })
            case .raw(let status, let body):
                return .init(status: status, headers: [("Content-Type", "text/html")], body: body)
            case .echoAuthorization:
                return ContractState.failure(
                    400, [ContractState.error(6003, "Invalid request headers: could not parse '\(authorization ?? "")'")])
            }
        }
    }

    public let port: Int
    /// What the provider's `apiBaseURL` setting is set to.
    public var apiBaseURL: String { "http://127.0.0.1:\(port)/client/v4" }
    private let store: Store

    /// The state behind its lock, shared by the server's handlers and the tests.
    final class Store: Sendable {
        private let state = Mutex(ContractState())

        func withState<T: Sendable>(_ body: (inout ContractState) -> T) -> T {
            state.withLock { body(&$0) }
        }
    }

    private init(port: Int, store: Store) {
        self.port = port
        self.store = store
    }

    func withState<T: Sendable>(_ body: (inout ContractState) -> T) -> T {
        store.withState(body)
    }

    /// The process's server, started on first use on an ephemeral loopback port.
    public static func shared() async throws -> CloudflareContractServer {
        try await Startup.instance.server()
    }

    private actor Startup {
        static let instance = Startup()
        /// The one start; callers arriving while it runs wait for it (the actor is reentrant).
        private var starting: Task<CloudflareContractServer, any Error>?

        func server() async throws -> CloudflareContractServer {
            if let starting { return try await starting.value }
            let task = Task { try await CloudflareContractServer.start() }
            starting = task
            return try await task.value
        }
    }

    private static func start() async throws -> CloudflareContractServer {
        let store = Store()
        let router = Router()
        let route = "/client/v4/accounts/:account/cfd_tunnel/:tunnel/configurations"
        router.get(RouterPath(route)) { request, context in try await serve(request, context, store) }
        router.put(RouterPath(route)) { request, context in try await serve(request, context, store) }
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { announce.yield(port) }
                announce.finish()
            }, logger: Logger(label: "cloudflare-contract", factory: { _ in SwiftLogNoOpLogHandler() }))
        // Runs for the rest of the test process.
        Task { try await app.runService(gracefulShutdownSignals: []) }
        for await port in ports { return CloudflareContractServer(port: port, store: store) }
        throw CancellationError()
    }

    private static func serve(_ request: Hummingbird.Request, _ context: BasicRequestContext, _ store: Store)
        async throws -> Response
    {
        var body: Data?
        if request.method == .put {
            var incoming = request
            let buffer = try await incoming.collectBody(upTo: 1 << 20)
            body = Data(buffer.readableBytesView)
        }
        let answer = store.withState {
            $0.answer(
                method: request.method.rawValue, accountID: context.parameters.get("account") ?? "",
                tunnelID: context.parameters.get("tunnel") ?? "", authorization: request.headers[.authorization],
                body: body, now: ContinuousClock.now)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        for (name, value) in answer.headers {
            if let field = HTTPFields.Element.Name(name) { headers[field] = value }
        }
        return Response(
            status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
}
