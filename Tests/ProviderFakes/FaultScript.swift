import Providers

/// Faults a fake injects, scripted per operation and consumed in order.
public enum Fault: Sendable {
    /// Fail with this error before doing anything.
    case error(ProviderError.Kind)
    /// Answer `throttled` with this retry-after.
    case throttle(Duration)
    /// Wait this long, then proceed.
    case latency(Duration)
    /// Do the side effect, then answer `timeout` as if the response was lost.
    case loseResponse
}

/// Per-operation queues of faults.
struct FaultScript {
    private var queued: [String: [Fault]] = [:]

    mutating func add(_ fault: Fault, on operation: String, times: Int) {
        queued[operation, default: []] += Array(repeating: fault, count: times)
    }

    mutating func next(for operation: String) -> Fault? {
        guard var faults = queued[operation], !faults.isEmpty else { return nil }
        let fault = faults.removeFirst()
        queued[operation] = faults
        return fault
    }
}

extension Fault {
    /// Applies the fault's "before" part; returns true when the response must be lost after
    /// the side effect.
    func apply(provider: String, operation: String) async throws -> Bool {
        switch self {
        case .error(let kind):
            throw ProviderError(kind, provider: provider, operation: operation, message: "injected \(kind)")
        case .throttle(let after):
            throw ProviderError(
                .throttled(retryAfter: after), provider: provider, operation: operation,
                message: "rate exceeded")
        case .latency(let duration):
            try await Task.sleep(for: duration)
            return false
        case .loseResponse:
            return true
        }
    }
}
