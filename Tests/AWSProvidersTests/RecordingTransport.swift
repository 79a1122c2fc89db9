import CurlHTTP
import Foundation
import Synchronization

@testable import AWSProviders

/// The real transport (libcurl, to moto) wrapped: records each request's operation
/// (`secretsmanager.PutSecretValue`, `ec2.RunInstances`) and lets a test answer a request
/// itself (a fault, AWS's behaviour where moto's differs) or act before forwarding it.
final class RecordingTransport: AWSTransport {
    /// The operation and the request; returns a response to send instead of forwarding, or nil.
    typealias Interceptor = @Sendable (String, CurlHTTPClient.Request) async throws -> CurlHTTPClient.Response?

    private let inner = CurlHTTPClient()
    private let state = Mutex<(operations: [String], interceptor: Interceptor?)>(([], nil))

    var operations: [String] { state.withLock { $0.operations } }

    /// The operations after the first `count`.
    func operations(since count: Int) -> [String] { Array(operations.dropFirst(count)) }

    func intercept(_ interceptor: Interceptor?) { state.withLock { $0.interceptor = interceptor } }

    func send(_ request: CurlHTTPClient.Request) async throws -> CurlHTTPClient.Response {
        let operation = Self.operation(request)
        let interceptor = state.withLock {
            $0.operations.append(operation)
            return $0.interceptor
        }
        let forward: @Sendable () async throws -> CurlHTTPClient.Response = { [inner] in
            if let interceptor, let answer = try await interceptor(operation, request) { return answer }
            return try await inner.send(request)
        }
        guard Self.walksIAM(operation, request) else { return try await forward() }
        return try await MotoIAMSerializer.shared.run(forward)
    }

    /// Requests on which moto iterates its IAM dictionaries: IAM itself, a launch naming an
    /// instance profile, and a request with a session token (moto searches the roles for it).
    /// Moto's server is threaded and its IAM backend unlocked: such a request concurrent with a
    /// role being created answers 500 ("dictionary changed size during iteration"). AWS has no
    /// such race, so the tests, which share one moto, send these one at a time.
    static func walksIAM(_ operation: String, _ request: CurlHTTPClient.Request) -> Bool {
        operation.hasPrefix("iam.") || operation == "ec2.RunInstances" || request.headers["X-Amz-Security-Token"] != nil
    }

    /// `secretsmanager.<Target>`, `ec2.<Action>` or `iam.<Action>` (the signing scope's service).
    static func operation(_ request: CurlHTTPClient.Request) -> String {
        if let target = request.headers["X-Amz-Target"] { return target }
        let body = String(decoding: request.body ?? Data(), as: UTF8.self)
        let action = body.split(separator: "&").first { $0.hasPrefix("Action=") }?.dropFirst("Action=".count)
        let scope = request.headers["Authorization"]?.split(separator: "/").dropFirst(3).first
        return "\(scope == "iam" ? "iam" : "ec2").\(action ?? "?")"
    }

    /// Mutating operations, by name: anything not a read.
    static func isMutating(_ operation: String) -> Bool {
        let name = operation.split(separator: ".").last.map(String.init) ?? operation
        return !(name.hasPrefix("Describe") || name.hasPrefix("Get") || name.hasPrefix("List"))
    }

    /// An AWS JSON-protocol error answer.
    static func jsonError(_ status: Int, _ code: String, _ message: String) -> CurlHTTPClient.Response {
        CurlHTTPClient.Response(
            status: status, body: Data(#"{"__type":"\#(code)","message":"\#(message)"}"#.utf8))
    }

    /// An EC2 Query-protocol error answer.
    static func xmlError(_ status: Int, _ code: String, _ message: String) -> CurlHTTPClient.Response {
        CurlHTTPClient.Response(
            status: status,
            body: Data(
                "<Response><Errors><Error><Code>\(code)</Code><Message>\(message)</Message></Error></Errors><RequestID>r</RequestID></Response>"
                    .utf8))
    }

    /// The JSON body of a Secrets Manager request.
    static func json(_ request: CurlHTTPClient.Request) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: request.body ?? Data())) as? [String: Any] ?? [:]
    }
}

/// One request at a time, in arrival order.
actor MotoIAMSerializer {
    static let shared = MotoIAMSerializer()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
