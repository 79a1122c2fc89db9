import ReconcileRuntime
import ReconcileStore
import Synchronization

/// A real controller, unchanged, with its reconciles counted: forwards `reconcile` and
/// `statusColumns` to the controller it wraps and records every outcome in a `Tally`.
/// (One host per controller: fencing tokens of a key only grow, so the latest is the highest.)
struct CountedReconciler<Base: Reconciler & StatusWriter>: Reconciler, StatusWriter {
    let base: Base
    let tally: Tally

    var name: String { base.name }
    var statusColumns: StatusColumns { base.statusColumns }

    func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        do {
            let result = try await base.reconcile(request)
            tally.record(request, result.outcome)
            return result
        } catch {
            tally.record(request, .retry(ReconcileFailure(reason: "Thrown", message: "\(error)")))
            throw error
        }
    }
}

/// What one controller's reconciles returned, counted as they return (before the host's
/// write-back).
final class Tally: Sendable {
    struct Counts: Sendable {
        var reconciles = 0
        var done = 0
        var watch = 0
        var requeue = 0
        var failed = 0
        /// The first failure seen, for the report (a benchmark over fakes should have none).
        var firstFailure: String?

        static func - (lhs: Counts, rhs: Counts) -> Counts {
            Counts(
                reconciles: lhs.reconciles - rhs.reconciles, done: lhs.done - rhs.done, watch: lhs.watch - rhs.watch,
                requeue: lhs.requeue - rhs.requeue, failed: lhs.failed - rhs.failed, firstFailure: lhs.firstFailure)
        }
    }

    /// The latest reconcile of a key that returned: the desired generation it claimed (it read
    /// every input change that moved the key to that generation) and its lease's fencing token
    /// (once the key's token is past it, or its lease is free, that reconcile's write-back is done).
    struct Claim: Sendable {
        var generation: Int64
        var token: Int64
    }

    private struct State {
        var counts = Counts()
        var latest: [String: Claim] = [:]
    }

    private let state = Mutex(State())

    func record(_ request: ReconcileRequest, _ outcome: ReconcileOutcome) {
        state.withLock { state in
            state.counts.reconciles += 1
            switch outcome {
            case .done: state.counts.done += 1
            case .watch: state.counts.watch += 1
            case .requeueAfter: state.counts.requeue += 1
            case .retry(let failure), .terminal(let failure):
                state.counts.failed += 1
                if state.counts.firstFailure == nil { state.counts.firstFailure = failure.description }
            }
            if (state.latest[request.key]?.token ?? .min) < request.fence.token {
                state.latest[request.key] = Claim(generation: request.desiredGeneration, token: request.fence.token)
            }
        }
    }

    var counts: Counts { state.withLock { $0.counts } }

    var latestClaims: [String: Claim] { state.withLock { $0.latest } }
}
