import Foundation
import Postgres
import ReconcileRuntime
import Synchronization

/// Records every reconcile; optionally fails, or writes a row on every pass.
final class RecordingReconciler: Reconciler {
    enum Behaviour: Sendable {
        case succeed
        case fail(reason: String)
        /// Writes `workspaces.conditions` every time: not idempotent.
        case writeEveryPass(PostgresPool)
        /// Calls a (pretend) mutating provider action every time: not idempotent.
        case mutateEveryPass
        /// Takes `taking` of real time, then asks to be looked at again `every` (a watch).
        case watch(every: Duration, taking: Duration)
    }

    let name: String
    private let behaviour: Behaviour
    private let seen = Mutex<[String]>([])
    private let continuation: AsyncStream<String>.Continuation
    let reconciled: AsyncStream<String>

    init(name: String = "instances", behaviour: Behaviour = .succeed) {
        self.name = name
        self.behaviour = behaviour
        (reconciled, continuation) = AsyncStream.makeStream(of: String.self)
    }

    var keys: [String] { seen.withLock { $0 } }

    func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        seen.withLock { $0.append(request.key) }
        continuation.yield(request.key)
        switch behaviour {
        case .succeed:
            return ReconcileResult(.done)
        case .fail(let reason):
            return ReconcileResult(
                .retry(ReconcileFailure(reason: reason, message: "provider said no (attempt \(request.attempts + 1))")))
        case .writeEveryPass(let pool):
            try await pool.query(
                "UPDATE workspaces SET conditions = jsonb_build_object('Seen', clock_timestamp()::text) WHERE id = $1::uuid",
                [request.key])
            return ReconcileResult(.done)
        case .mutateEveryPass:
            request.actions.record("instances.create", mutating: true)
            return ReconcileResult(.done)
        case .watch(let every, let taking):
            try await Task.sleep(for: taking)
            return ReconcileResult(.watch(every))
        }
    }
}

enum Fleet {
    /// Inserts `count` workspaces in one statement; returns their ids.
    static func create(_ pool: PostgresPool, count: Int, org: String = "acme") async throws -> [String] {
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, image) SELECT $1, 'w' || g, 'img' FROM generate_series(1, $2) g RETURNING id
            """, [org, count]
        ).rows.map { try $0.require(String.self, "id") }
    }
}

extension AsyncStream<String> {
    /// The next element that satisfies `predicate`.
    func first(where predicate: @Sendable (String) -> Bool = { _ in true }) async -> String? {
        for await element in self where predicate(element) { return element }
        return nil
    }
}
