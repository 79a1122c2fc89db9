import Metrics

/// The metrics of calls across a provider boundary, like client-go's
/// `rest_client_requests_total` and `rest_client_request_duration_seconds`: every call counted
/// by provider, operation and result, and timed. Labels come from bounded sets (the provider's
/// name, its protocol's operations, `ProviderError.Kind`), never an argument.
public struct ProviderMetrics: Sendable {
    /// `# HELP` text of every family this module exports.
    public static let help: [String: String] = [
        "molecule_provider_requests_total":
            "Calls to a provider (the cloud, the secret store, runtimes, the tunnel API) by provider, operation and result (success, or the classified error: throttled, not_found, timeout, unreachable, transient, invalid, ...).",
        "molecule_provider_request_duration_seconds": "How long a provider call took, by provider and operation.",
    ]

    /// Every value of the `result` label.
    public static let results = [
        "success", "throttled", "not_found", "scheduled_for_deletion", "idempotency_mismatch", "timeout", "unreachable",
        "transient", "invalid", "cancelled", "error",
    ]

    private let provider: String
    private let counters: [String: [String: Counter]]
    private let timers: [String: Timer]

    /// Creates every series of `operations` at zero.
    public init(provider: String, operations: [String]) {
        self.provider = provider
        var counters: [String: [String: Counter]] = [:]
        var timers: [String: Timer] = [:]
        for operation in operations {
            let labels = [("provider", provider), ("operation", operation)]
            counters[operation] = Dictionary(
                uniqueKeysWithValues: Self.results.map {
                    ($0, Counter(label: "molecule_provider_requests_total", dimensions: labels + [("result", $0)]))
                })
            timers[operation] = Timer(
                label: "molecule_provider_request_duration_seconds", dimensions: labels, preferredDisplayUnit: .seconds)
        }
        self.counters = counters
        self.timers = timers
    }

    /// Runs one call of `operation`, counting and timing it; the error is rethrown unchanged.
    public func measure<T>(_ operation: String, _ call: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await call()
            record(operation, result: "success", since: started)
            return value
        } catch {
            record(operation, result: Self.result(of: error), since: started)
            throw error
        }
    }

    private func record(_ operation: String, result: String, since started: ContinuousClock.Instant) {
        counters[operation]?[result]?.increment()
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        timers[operation]?.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// The `result` label of a failed call.
    static func result(of error: any Error) -> String {
        if error is CancellationError { return "cancelled" }
        guard let error = error as? ProviderError else { return "error" }
        switch error.kind {
        case .throttled: return "throttled"
        case .notFound: return "not_found"
        case .scheduledForDeletion: return "scheduled_for_deletion"
        case .idempotencyMismatch: return "idempotency_mismatch"
        case .timeout: return "timeout"
        case .unreachable: return "unreachable"
        case .transient: return "transient"
        case .invalid: return "invalid"
        }
    }
}
