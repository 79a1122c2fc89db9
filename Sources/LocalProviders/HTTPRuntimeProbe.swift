import CurlHTTP
import Foundation
import Providers

/// Asks a runtime for its status over HTTP (`GET http://<address>/status`), for when no
/// platform writes heartbeats into `workspace_runtime_status` (the embedded default). Reading
/// it writes nothing, so a converged pass stays free of row writes.
///
/// - 200 with a status document: that status.
/// - 404 or 503: the runtime answers but has no status yet (a runtime still starting may serve
///   neither its routes nor its status): nil, as for an instance with no address yet.
/// - No answer (connection refused, timeout): `unreachable`, naming the address.
/// - 200 with a body that is not a status document, or a status outside this contract:
///   `invalid` (the runtime does not speak it; retrying will not change that).
/// - 429: throttled, with its `Retry-After`; other 5xx: transient.
public struct HTTPRuntimeProbe: RuntimeStatusSource {
    private let client = CurlHTTPClient()
    /// Per-probe timeout in milliseconds. Default 2 000.
    public var timeoutMilliseconds = 2_000

    public init() {}

    public func status(of instance: InstanceRecord) async throws -> RuntimeStatus? {
        guard let address = instance.address else { return nil }
        let context = "instance \(instance.id) at \(address)"
        let response: CurlHTTPClient.Response
        do {
            response = try await client.send(.init(url: "http://\(address)/status", timeoutMilliseconds: timeoutMilliseconds))
        } catch let failure as CurlHTTPClient.Failure {
            throw error(.unreachable, "\(context) does not answer: \(failure.message)")
        }
        switch response.status {
        case 200: return try decode(response.body, context: context)
        case 404, 503: return nil
        case 429: throw error(.throttled(retryAfter: response.headers.retryAfter(now: Date())), "\(context): HTTP 429")
        case 500..<600: throw error(.transient, "\(context): HTTP \(response.status)")
        default: throw error(.invalid, "\(context): HTTP \(response.status) is not an answer of the status contract")
        }
    }

    private func decode(_ body: Data, context: String) throws -> RuntimeStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let reported: RuntimeStatusDocument
        do {
            reported = try decoder.decode(RuntimeStatusDocument.self, from: body)
        } catch let failure as DecodingError {
            throw error(.invalid, "\(context) answered 200 with a body that is not a status document: \(Self.summary(failure))")
        }
        return RuntimeStatus(
            ready: reported.ready, busySince: reported.busySince,
            managementMCPPresent: reported.managementMCPPresent, plugins: reported.plugins,
            bundleHash: reported.bundleHash, reportedAt: Date())
    }

    private func error(_ kind: ProviderError.Kind, _ message: String) -> ProviderError {
        ProviderError(kind, provider: "runtime", operation: "status", message: message)
    }

    /// What is wrong with the document, in a line (the field and the problem).
    private static func summary(_ failure: DecodingError) -> String {
        switch failure {
        case .keyNotFound(let key, _):
            return "'\(key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "'\(path)': \(context.debugDescription)"
        @unknown default:
            return "\(failure)"
        }
    }
}
