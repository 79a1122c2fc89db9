import Foundation
import Postgres

/// Every statement the benchmark sends as the operator and the platform (the writes users
/// make) and as the observer (the predicates it waits for). Snapshots are temporary tables of
/// this one session.
struct FleetWorld {
    static let org = "fleet"
    let connection: PostgresConnection

    /// A template, the org's one runtime-consumed secret, and the first platform path.
    func seed() async throws {
        try await connection.query(
            #"""
            INSERT INTO templates (name, files)
            VALUES ('fleet-agent', '{"config.yaml": "model: bench\n", "prompts/system.md": "You are a benchmark."}')
            """#)
        try await connection.query(
            """
            INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES ($1, 'SHARED_TOKEN', 'v1', true)
            """, [Self.org])
        try await connection.query("INSERT INTO platform_paths (pattern) VALUES ('/api/*')")
    }

    // MARK: workspaces

    func insertWorkspaces(_ count: Int) async throws {
        try await connection.query(
            """
            INSERT INTO workspaces (org, name, template, image)
            SELECT $1, 'w' || g, 'fleet-agent', 'agent:1' FROM generate_series(1, $2) g
            """, [Self.org, count])
    }

    func runningWorkspaces() async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM workspaces WHERE phase = 'running'").rows[0].require(Int.self, "n")
    }

    /// Makes every instances key due at once, as an input change that needs no action would
    /// (the sidecar re-examines the running fleet).
    func bumpAllInstances() async throws {
        try await connection.query("SELECT molecule_bump('instances', ARRAY(SELECT key FROM instances))")
    }

    func convergedInstances() async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM instances WHERE observed_generation = desired_generation")
            .rows[0].require(Int.self, "n")
    }

    /// The platform's heartbeats, one statement: a ready report for every instance on record
    /// that has none (or one of an older instance), and a refresh of reports older than 60 s
    /// (heartbeat silence degrades a workspace after 120 s). A refresh changes nothing the
    /// triggers look at, so it wakes no controller. Returns the rows written.
    func reportHeartbeats() async throws -> Int {
        try await connection.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at)
            SELECT i.key, i.instance_id, true, now()
              FROM instances i LEFT JOIN workspace_runtime_status s ON s.workspace_id = i.key
             WHERE i.instance_id IS NOT NULL
               AND (s.workspace_id IS NULL OR s.instance_id <> i.instance_id OR NOT s.ready
                    OR s.reported_at < now() - interval '60 seconds')
            ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, ready = true,
                                                     reported_at = excluded.reported_at
            """
        ).affectedRows
    }

    // MARK: the org-wide rotation

    /// What the rotation is judged against: each workspace's staged hash, and the desired
    /// generations of its bundle and instance, and its instance's target generation, before it.
    func snapshotBeforeRotation() async throws {
        try await connection.query("DROP TABLE IF EXISTS before_rotation")
        try await connection.query(
            """
            CREATE TEMP TABLE before_rotation AS
            SELECT i.key, i.desired_generation, i.target_generation, b.desired_generation AS bundle_generation, b.staged_hash
              FROM instances i JOIN secret_bundles b ON b.key = i.key
            """)
    }

    func rotateOrgSecret() async throws {
        try await connection.query(
            """
            INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES ($1, 'SHARED_TOKEN', 'v2', true)
            ON CONFLICT (org, key) DO UPDATE SET value = excluded.value, runtime_consumed = true, written_at = now()
            """, [Self.org])
    }

    /// The bench changes nothing else meanwhile (no heartbeat transition for these keys), so the
    /// first move of a key's generations after the snapshot is the rotation's. Later moves are a
    /// decided restart being carried out (a new target generation, its bundle, its instance):
    /// the pacer lets one through every 5 s, so "everything converged" never holds at once.
    static let rotationPredicate = """
        every secret_bundles row has recorded (observed_generation) a generation past its pre-rotation one, with \
        a staged_hash other than before; and every instances row was bumped by that staging (desired_generation \
        past its pre-rotation one) and then decided by a reconcile that had claimed a generation past it: \
        observed_generation recorded past it (done, watch, restart_pending), or a persisted next look (debounce, \
        pacer) written back (the key's lease free, or taken again since: its fencing token past that reconcile's)
        """

    /// Workspaces whose bundle is restaged, and which of `candidates` (instances keys, with the
    /// latest returned reconcile of each) have their restart decided now (see
    /// `rotationPredicate`). Being decided is a fact about the past, so the caller asks only
    /// about keys not yet decided.
    func rotationProgress(candidates: [String: Tally.Claim]) async throws -> (staged: Int, decided: [String]) {
        let keys = Array(candidates.keys)
        let row = try await connection.query(
            """
            WITH claimed AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS c(key, generation, token))
            SELECT (SELECT count(*) FROM secret_bundles b JOIN before_rotation s ON s.key = b.key
                     WHERE b.observed_generation > s.bundle_generation AND b.staged_hash IS DISTINCT FROM s.staged_hash) AS staged,
                   ARRAY(SELECT i.key FROM claimed c JOIN instances i ON i.key = c.key JOIN before_rotation s ON s.key = i.key
                           JOIN leases l ON l.controller = 'instances' AND l.key = i.key
                          WHERE i.desired_generation > s.desired_generation
                            AND (i.observed_generation > s.desired_generation
                                 OR (c.generation > s.desired_generation AND (l.token > c.token OR l.holder IS NULL)))
                   ) AS decided
            """, [keys, keys.map { candidates[$0]!.generation }, keys.map { candidates[$0]!.token }]
        ).rows[0]
        return (try row.require(Int.self, "staged"), try row.require([String].self, "decided"))
    }

    /// What the instances controller decided after the rotation.
    struct Decisions {
        var restarted = 0
        var waiting = 0
        var restartPending = 0
        var converged = 0
    }

    func rotationDecisions() async throws -> Decisions {
        let row = try await connection.query(
            """
            SELECT count(*) FILTER (WHERE i.target_generation > s.target_generation) AS restarted,
                   count(*) FILTER (WHERE i.target_generation = s.target_generation AND i.observed_generation <> i.desired_generation
                                      AND i.next_attempt_at IS NOT NULL) AS waiting,
                   count(*) FILTER (WHERE w.restart_pending) AS restart_pending,
                   count(*) FILTER (WHERE i.target_generation = s.target_generation
                                      AND i.observed_generation = i.desired_generation) AS converged
              FROM instances i JOIN before_rotation s ON s.key = i.key JOIN workspaces w ON w.id = i.key
            """
        ).rows[0]
        return Decisions(
            restarted: try row.require(Int.self, "restarted"), waiting: try row.require(Int.self, "waiting"),
            restartPending: try row.require(Int.self, "restart_pending"),
            converged: try row.require(Int.self, "converged"))
    }

    // MARK: rows written

    /// The id of a transaction that starts now (a fresh cluster: ids have no epoch yet).
    func currentTransaction() async throws -> Int64 {
        try await connection.query("SELECT pg_current_xact_id()::text::bigint AS x").rows[0].require(Int64.self, "x")
    }

    /// Rows of `table` inserted or updated by transactions from `transaction` on (their `xmin`).
    /// `table` is one of the bench's own fixed names.
    func rowsWritten(in table: String, since transaction: Int64) async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM \(table) WHERE xmin::text::bigint >= $1", [transaction])
            .rows[0].require(Int.self, "n")
    }

    // MARK: tenants and the platform paths

    /// `count` tenants spread round-robin over `tunnels` tunnels.
    func insertTenants(_ count: Int, tunnels: Int) async throws {
        try await connection.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services)
            SELECT 't' || g, 't' || g || '.example.com', 'tunnel-' || (g % $2),
                   jsonb_build_object('platform', 'http://10.0.' || (g % 250) || '.1:8080', 'app', 'http://10.0.' || (g % 250) || '.1:3000')
              FROM generate_series(1, $1) g
            """, [count, tunnels])
    }

    func convergedIngress() async throws -> Int {
        try await connection.query(
            """
            SELECT count(*) AS n FROM tunnel_ingress WHERE observed_generation = desired_generation AND applied_hash IS NOT NULL
            """
        ).rows[0].require(Int.self, "n")
    }

    func snapshotBeforePathChange() async throws {
        try await connection.query("DROP TABLE IF EXISTS before_path")
        try await connection.query(
            "CREATE TEMP TABLE before_path AS SELECT key, desired_generation, applied_hash FROM tunnel_ingress")
    }

    func insertPlatformPath() async throws {
        try await connection.query("INSERT INTO platform_paths (pattern) VALUES ('/healthz')")
    }

    static let pathPredicate = """
        every tunnel_ingress row has observed_generation = desired_generation, above its generation before \
        the insert, and an applied_hash other than before
        """

    func pathProgress() async throws -> Int {
        try await connection.query(
            """
            SELECT count(*) AS n FROM tunnel_ingress i JOIN before_path s ON s.key = i.key
             WHERE i.observed_generation = i.desired_generation AND i.desired_generation > s.desired_generation
               AND i.applied_hash IS DISTINCT FROM s.applied_hash
            """
        ).rows[0].require(Int.self, "n")
    }
}
