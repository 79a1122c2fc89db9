import Foundation
import Postgres
import ReconcileRuntime

extension ControllerStateStore {
    /// What the write-back did.
    public struct WriteResult: Sendable, Equatable {
        /// Keys whose lease was still ours (token current) and is now released.
        public var fenced: Set<String>
        /// Of those, keys whose rows actually changed.
        public var written: Set<String>
    }

    /// Writes each key's machinery columns, its controller's status value (`statusColumns`),
    /// its events and its wake-ups, and releases its lease, all in one statement and all
    /// conditional on the fencing token still being current: a stale worker's whole result is
    /// dropped. Nothing that would not change is written (a converged pass writes no row).
    ///
    /// Row locks are taken in the documented order (docs/DESIGN.md, "Lock order"): the owner
    /// rows (`workspaces`) first, in key order and with NOWAIT, then the controller's rows in key
    /// order, then everything else. When an owner row is locked elsewhere (an operator's UPDATE,
    /// another controller's write-back) the statement fails at once having changed and kept
    /// nothing, and runs again after a short pause (5 ms doubling to 200 ms, jittered) for at
    /// most `lockWait`: it never waits for a lock while holding an owner row, so it never closes
    /// a cycle with a statement that locks workspace rows in another order.
    public func writeBack(
        _ writes: [StatusWrite], holder: String, now: Date?, lockWait: Duration = .seconds(10)
    ) async throws -> WriteResult {
        guard !writes.isEmpty else { return WriteResult(fenced: [], written: []) }
        let events = EventBatch(writes)
        let wakes = writes.flatMap { write in write.wakes.map { (source: write.key, wake: $0) } }
        let parameters: [(any PostgresEncodable)?] = [
            table.name,
            writes.map(\.key),
            writes.map(\.token),
            nullable(writes.map { $0.observedGeneration.map(String.init) }),
            nullable(writes.map(\.error)),
            nullable(writes.map(\.next.kind)),
            nullable(writes.map(\.next.seconds)),
            nullable(writes.map(\.status)),
            holder,
            now,
            events.keys, events.types, events.reasons, events.messages, events.counts,
            wakes.map(\.source), wakes.map(\.wake.controller), wakes.map(\.wake.key),
            nullable(writes.map { $0.claimedGeneration.map(String.init) }),
        ]
        let result = try await queryWhenOwnersAreFree(writeBackSQL, parameters, lockWait: lockWait)
        var fenced = Set<String>()
        var written = Set<String>()
        for row in result.rows {
            let key = try row.require(String.self, "key")
            fenced.insert(key)
            if try row.require(Bool.self, "written") { written.insert(key) }
        }
        return WriteResult(fenced: fenced, written: written)
    }

    private func queryWhenOwnersAreFree(
        _ sql: String, _ parameters: [(any PostgresEncodable)?], lockWait: Duration
    ) async throws -> PostgresResult {
        let clock = ContinuousClock()
        let deadline = clock.now + lockWait
        var pause = Duration.milliseconds(5)
        while true {
            do {
                return try await pool.query(sql, parameters)
            } catch let error as PostgresError where error.code == .lockNotAvailable && clock.now + pause < deadline {
                try await Task.sleep(for: pause * Double.random(in: 0.5...1.5))
                pause = min(pause * 2, .milliseconds(200))
            }
        }
    }

    /// The write-back statement: the machinery's CTEs with the controller's status spliced in.
    /// Only identifiers and the controller's own fixed SQL are spliced; every value is a parameter.
    var writeBackSQL: String {
        let columns = statusColumns.columns
        let assignments = columns.map {
            ",\n                   \($0.name) = CASE WHEN p.status IS NULL THEN s.\($0.name) ELSE \($0.value) END"
        }
        .joined()
        let statusChanged =
            columns.isEmpty
            ? "false"
            : """
            p.status IS NOT NULL AND (\(columns.map { "s.\($0.name)" }.joined(separator: ", ")), NULL::int)
                            IS DISTINCT FROM (\(columns.map(\.value).joined(separator: ", ")), NULL::int)
            """
        let statements = statusColumns.statements.map { ", \($0.name) AS (\n\($0.sql)\n)" }.joined()
        let writtenBy = (["status"] + statusColumns.statements.map(\.name))
            .map { "EXISTS (SELECT 1 FROM \($0) x WHERE x.key = r.key)" }.joined(separator: " OR ")
        // The lock order: each CTE below is evaluated in full (an uncorrelated scalar subquery, an
        // InitPlan) before the next one reads a row, and every write of the statement joins `input`.
        let owners = statusColumns.owner.map { owner in
            """
            owners AS MATERIALIZED (
                SELECT o.\(owner.key) FROM \(owner.table) o WHERE o.\(owner.key) = ANY($2::uuid[])
                 ORDER BY o.\(owner.key) FOR NO KEY UPDATE NOWAIT
            ),\n
            """
        }
        let ownersFirst = owners == nil ? "" : " AND (SELECT count(*) FROM owners) >= 0"
        return """
            WITH \(owners ?? "")own AS MATERIALIZED (
                SELECT s.key FROM \(table.quoted) s WHERE s.key = ANY($2::uuid[])\(ownersFirst)
                 ORDER BY s.key FOR NO KEY UPDATE
            ), input AS (
                SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::float8[], $8::jsonb[],
                                     $19::bigint[])
                    AS i(key, token, generation, error, next, seconds, status, claimed)
                 WHERE (SELECT count(*) FROM own) >= 0
            ), released AS (
                UPDATE leases l SET holder = NULL, expires_at = NULL
                  FROM input i
                 WHERE l.controller = $1 AND l.key = i.key AND l.holder = $9 AND l.token = i.token
                RETURNING l.key
            ), patch AS (
                SELECT i.key, i.status, c.now, i.error,
                       coalesce(i.generation, s.observed_generation) AS observed_generation,
                       -- Bounded, so no value a hand edit left in a row can fail the whole batch's statement.
                       CASE WHEN i.error IS NULL THEN 0 ELSE least(s.attempts, 2147483646) + 1 END AS attempts,
                       CASE WHEN i.error IS NULL THEN NULL ELSE c.now END AS last_error_at,
                       CASE WHEN s.desired_generation <> i.claimed THEN NULL  -- changed meanwhile: look now
                            ELSE CASE i.next
                            WHEN 'never' THEN 'infinity'::timestamptz
                            WHEN 'retry' THEN c.now + i.seconds * interval '1 second'
                            -- A look keeps an earlier one already scheduled (within its jitter), so asking
                            -- again writes nothing — unless the key converges now: the look of a key still
                            -- converging gives way to its watch. A new one is up to a tenth later, so the
                            -- looks of a fleet that converged at once spread out.
                            WHEN 'look' THEN CASE WHEN s.attempts = 0 AND s.next_attempt_at > c.now
                                                       AND s.next_attempt_at <= c.now + i.seconds * 1.1 * interval '1 second'
                                                       AND (i.generation IS NULL OR s.observed_generation = s.desired_generation)
                                                  THEN s.next_attempt_at
                                                  ELSE c.now + i.seconds * (1 + random() / 10) * interval '1 second' END
                       END END AS next_attempt_at
                  FROM input i
                  JOIN released r ON r.key = i.key
                  JOIN \(table.quoted) s ON s.key = i.key
                 CROSS JOIN (SELECT coalesce($10::timestamptz, now()) AS now) c
            ), status AS (
                UPDATE \(table.quoted) s
                   SET observed_generation = p.observed_generation, attempts = p.attempts, last_error = p.error,
                       last_error_at = p.last_error_at, next_attempt_at = p.next_attempt_at\(assignments)
                  FROM patch p
                 WHERE s.key = p.key
                   AND ((s.observed_generation, s.attempts, s.last_error, s.next_attempt_at)
                            IS DISTINCT FROM (p.observed_generation, p.attempts, p.error, p.next_attempt_at)
                        OR p.error IS NOT NULL
                        OR (\(statusChanged)))
                RETURNING s.key
            )\(statements), recorded AS (
                INSERT INTO events AS e (controller, key, type, reason, message, count, first_seen, last_seen)
                SELECT $1, v.key, v.type, v.reason, v.message, v.count, p.now, p.now
                  FROM unnest($11::uuid[], $12::text[], $13::text[], $14::text[], $15::int[]) AS v(key, type, reason, message, count)
                  JOIN patch p ON p.key = v.key
                ON CONFLICT (controller, key, type, reason, md5(message))
                DO UPDATE SET count = e.count + excluded.count, last_seen = excluded.last_seen
                RETURNING 1
            ), woken AS (
                SELECT molecule_bump(w.controller, array_agg(w.key ORDER BY w.key))
                  FROM unnest($16::uuid[], $17::text[], $18::uuid[]) AS w(source, controller, key)
                  JOIN patch p ON p.key = w.source
                 GROUP BY w.controller
            )
            SELECT r.key, (\(writtenBy)) AS written, (SELECT count(*) FROM woken) AS woken
              FROM released r
            """
    }
}

extension StatusWrite.Next {
    /// The write-back's name for this kind of next look.
    var kind: String? {
        switch self {
        case .none: return nil
        case .look: return "look"
        case .retry: return "retry"
        case .never: return "never"
        }
    }

    var seconds: String? {
        switch self {
        case .look(let seconds), .retry(let seconds): return String(max(0, seconds))
        case .none, .never: return nil
        }
    }
}

/// The events of a batch as parallel arrays, identical events of one key folded into one with
/// a count (one INSERT may not touch a deduplicated event row twice).
private struct EventBatch {
    var keys: [String] = []
    var types: [String] = []
    var reasons: [String] = []
    var messages: [String] = []
    var counts: [Int] = []

    init(_ writes: [StatusWrite]) {
        for write in writes {
            var seen: [ReconcileEvent: Int] = [:]
            var order: [ReconcileEvent] = []
            for event in write.events {
                var clipped = event
                clipped.message = EventStore.clip(event.message)
                if seen[clipped] == nil { order.append(clipped) }
                seen[clipped, default: 0] += 1
            }
            for event in order {
                keys.append(write.key)
                types.append(event.type.rawValue)
                reasons.append(event.reason)
                messages.append(event.message)
                counts.append(seen[event]!)
            }
        }
    }
}
