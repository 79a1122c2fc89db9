import ReconcileRuntime

/// An error from an outside system, classified once, at the provider boundary. Messages never
/// contain secret values or request bodies.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Slow down; retry after this long if the provider said so.
        case throttled(retryAfter: Duration?)
        case notFound
        /// The secret name is scheduled for deletion (AWS Secrets Manager's recovery window).
        case scheduledForDeletion
        /// The same idempotency token with different parameters: a bug, not retried.
        case idempotencyMismatch
        /// No answer in time; the side effect may or may not have happened.
        case timeout
        /// Nothing answered (connection refused, no route, no answer in time) to a request that
        /// has no side effect, such as a status probe. Worth retrying.
        case unreachable
        /// Worth retrying (5xx, connection reset...).
        case transient
        /// The request is wrong and will stay wrong (bad parameter, no permission).
        case invalid
    }

    public var kind: Kind
    /// `instances`, `secret store`, `runtime`, `tunnel`...
    public var provider: String
    public var operation: String
    public var message: String

    public init(_ kind: Kind, provider: String, operation: String, message: String) {
        self.kind = kind
        self.provider = provider
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(provider): \(operation): \(message)" }

    /// The reconcile outcome this error calls for: terminal for what retrying cannot fix.
    public var isTerminal: Bool {
        switch kind {
        case .invalid, .idempotencyMismatch: true
        case .throttled, .notFound, .scheduledForDeletion, .timeout, .unreachable, .transient: false
        }
    }

    /// As a reconcile failure with a bounded reason, for `last_error` and the event.
    public var failure: ReconcileFailure {
        let reason: String
        var retryAfter: Duration?
        switch kind {
        case .throttled(let after):
            reason = "ProviderThrottled"
            retryAfter = after
        case .notFound: reason = "ProviderNotFound"
        case .scheduledForDeletion: reason = "ScheduledForDeletion"
        case .idempotencyMismatch: reason = "IdempotencyMismatch"
        case .timeout: reason = "ProviderTimeout"
        case .unreachable: reason = "ProviderUnreachable"
        case .transient: reason = "ProviderUnavailable"
        case .invalid: reason = "ProviderRejected"
        }
        return ReconcileFailure(reason: reason, message: description, retryAfter: retryAfter)
    }
}

extension ProviderError: ClassifiedFailure {}
