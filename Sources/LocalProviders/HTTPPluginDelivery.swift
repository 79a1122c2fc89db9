import CurlHTTP
import Foundation
import Providers

/// The plugin delivery contract over HTTP, as `molecule-workspace-runtime` serves it (and a
/// real runtime may):
///
/// - `PUT http://<instance address>/plugins/<name>` with `{"ref": "<ref>"}` installs or updates;
///   `DELETE` the same path removes. Both carry `Authorization: Bearer <instance token>`.
/// - 200 or 204: done (installing the installed ref, or removing an absent plugin, is a success).
/// - 401/403: the token is not this instance's (a replaced instance): not retried as is.
/// - 429, or 503 with `Retry-After`: throttled, retried no sooner than `Retry-After` says
///   (seconds or an HTTP-date) when it is given.
/// - Other 5xx, no answer: retried with backoff.
public struct HTTPPluginDelivery: PluginDelivery {
    private let client = CurlHTTPClient()
    private let clock: @Sendable () -> Date
    /// Per-request timeout in milliseconds. Default 10 000.
    public var timeoutMilliseconds = 10_000

    /// - Parameter clock: the time an HTTP-date `Retry-After` is measured from (injectable for tests).
    public init(clock: @escaping @Sendable () -> Date = Date.init) {
        self.clock = clock
    }

    public func install(plugin: String, ref: String, into instance: InstanceRecord, token: String) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["ref": ref], options: [.sortedKeys])
        try await send("PUT", plugin: plugin, instance: instance, token: token, body: body, operation: "install")
    }

    public func remove(plugin: String, from instance: InstanceRecord, token: String) async throws {
        try await send("DELETE", plugin: plugin, instance: instance, token: token, body: nil, operation: "remove")
    }

    private func send(
        _ method: String, plugin: String, instance: InstanceRecord, token: String, body: Data?,
        operation: String
    ) async throws {
        guard let address = instance.address else {
            throw ProviderError(
                .transient, provider: "runtime", operation: operation,
                message: "instance \(instance.id) has no address yet")
        }
        let response: CurlHTTPClient.Response
        do {
            response = try await client.send(
                .init(
                    method: method, url: "http://\(address)/plugins/\(plugin)",
                    headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
                    body: body, timeoutMilliseconds: timeoutMilliseconds))
        } catch let failure as CurlHTTPClient.Failure {
            throw ProviderError(
                failure.isTimeout ? .timeout : .transient, provider: "runtime", operation: operation,
                message: "plugin '\(plugin)' to instance \(instance.id): \(failure.message)")
        }
        let context = "plugin '\(plugin)' to instance \(instance.id): HTTP \(response.status)"
        let retryAfter = response.headers.retryAfter(now: clock())
        switch response.status {
        case 200..<300: return
        case 401, 403:
            throw ProviderError(
                .invalid, provider: "runtime", operation: operation, message: "\(context): the instance token was refused")
        case 429:
            throw ProviderError(.throttled(retryAfter: retryAfter), provider: "runtime", operation: operation, message: context)
        case 503 where retryAfter != nil:
            throw ProviderError(.throttled(retryAfter: retryAfter), provider: "runtime", operation: operation, message: context)
        case 400..<500:
            throw ProviderError(
                .invalid, provider: "runtime", operation: operation, message: "\(context): \(response.text.prefix(200))")
        default:
            throw ProviderError(.transient, provider: "runtime", operation: operation, message: context)
        }
    }
}
