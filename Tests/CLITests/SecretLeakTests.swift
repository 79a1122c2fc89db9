import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Testing
import WorkspaceModel

/// Issue 9's proof, against the real binary: secret values, the token seeds and the instance
/// tokens derived from them reach the staged bundles and nothing else — through a converge, the
/// idempotency check, a rotation, a template refused at stage time, a secret store that cannot
/// be written, refused secret rows, a hung runtime, a database that refuses connections and a
/// sidecar logging at trace level, with passwords and a secret in the reconciler's environment.
@Suite("secret values never leak")
struct SecretLeakTests {
    @Test("secret values, token seeds and instance tokens reach the staged bundles and nothing else")
    func nothingLeaks() async throws {
        let world = try await World()
        defer { world.cleanUp() }
        try await Self.createFleet(world)
        let ids = try await Self.converge(world)
        try await Self.rotate(world, ids: ids)
        try await Self.failStaging(world)
        try await Self.refuseSecretRows(world)
        try await Self.runSidecar(world, ids: ids)
        let (search, allowed) = try await Self.secretsWhereTheyBelong(world)
        let leaks = try await Self.places(world).flatMap { search.search($0, allowed: $0.bundleOf.flatMap { allowed[$0] } ?? []) }
        #expect(leaks.isEmpty, "\(leaks.count) leak(s):\n\(leaks.joined(separator: "\n"))")
    }

    /// Three healthy workspaces, and one whose template the schema would refuse (written as if
    /// before its rules, with the templates' triggers off): it is refused again at stage time.
    /// A plugin for one of them, a tenant, and a tenant that cannot be rendered.
    static func createFleet(_ world: World) async throws {
        let pool = world.pool
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('leak', '{"config.yaml": "model: x", "prompts/system.md": "Be careful."}')"#
        )
        try await pool.query("ALTER TABLE templates DISABLE TRIGGER USER")
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('refused', '{"config.yaml": "a: 1", "../../etc/cron.d/x": "* * * * * root true"}')"#
        )
        try await pool.query("ALTER TABLE templates ENABLE TRIGGER USER")
        try await pool.query(
            """
            INSERT INTO workspaces (org, name, kind, template, image) VALUES
              ('leakco', 'alpha', 'agent', 'leak', 'local'), ('leakco', 'beta', 'agent', 'leak', 'local'),
              ('leakco', 'ops', 'platform', 'leak', 'local'), ('leakco', 'refused', 'agent', 'refused', 'local')
            """)
        // The org's secret is not read by the runtime: rotating it restages every bundle, restarts none.
        try await pool.query(
            "INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES ('leakco', 'ORG_SECRET', $1, false)",
            [world.markers.org])
        try await pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) SELECT id, 'WS_SECRET', $1 || '-ws-' || name FROM workspaces",
            [world.markers.prefix])
        try await pool.query(
            "INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) SELECT id, 'web-search', '2.4.0' FROM workspaces WHERE name = 'alpha'"
        )
        // The second tenant lacks the platform service: its ingress fails alone.
        try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
              ('leakco', 'leakco.example.com', 'tunnel-leakco', '{"platform": "http://127.0.0.1:8080", "app": "http://127.0.0.1:3000"}'),
              ('lacking', 'lacking.example.com', 'tunnel-lacking', '{"platform": "http://127.0.0.1:3001"}')
            """)
        try await pool.query("INSERT INTO platform_paths (pattern) VALUES ('/api/*')")
    }

    /// A converge, the idempotency check and `status`; the refused template fails alone.
    /// Returns the workspaces' ids by name.
    static func converge(_ world: World) async throws -> [String: String] {
        let converged = try await world.run("1-converge", ["tick", "--until-converged", "--json", "--converge-timeout", "90"])
        #expect(converged.status == 0, "\(converged.output)")
        #expect(
            try await world.lastError("secret_bundles", workspace: "refused")?.contains("template file '../../etc/cron.d/x'")
                == true)
        #expect(try await world.lastError("tunnel_ingress", tenant: "lacking")?.contains("no URL for service 'app'") == true)
        let ids = try await world.workspaces()
        for name in ["alpha", "beta", "ops"] {
            let bundle = world.currentBundle(ids[name]!) ?? ""
            #expect(
                bundle.contains(world.markers.org) && bundle.contains(world.markers.workspace(name)),
                "\(name)'s bundle lacks its secrets")
        }
        let check = try await world.run(
            "2-check-idempotent", ["tick", "--check-idempotent", "--json", "--converge-timeout", "90"])
        #expect(check.status == 0, "\(check.output)")
        // The refused template and the tenant lacking its app URL fail on purpose: exit 2.
        #expect(try await world.run("3-status", ["status"]).status == 2)
        #expect(try await world.run("4-status-json", ["status", "-o", "json"]).status == 2)
        #expect(try await world.run("4-get-events", ["get", "events", "-o", "wide", "--limit", "500"]).status == 0)
        #expect(try await world.run("4-describe", ["describe", "workspace", "leakco/alpha"]).status == 0)
        #expect(try await world.run("4-explain", ["explain", "leakco/refused", "-o", "json"]).status == 0)
        return ids
    }

    /// A secret the runtime reads is rotated: restaged, and the instance restarted with it.
    static func rotate(_ world: World, ids: [String: String]) async throws {
        try await setSecret(world, workspace: "alpha", to: world.markers.alphaRotated)
        let rotated = try await world.run("5-rotate", ["tick", "--until-converged", "--json", "--converge-timeout", "90"])
        #expect(rotated.status == 0, "\(rotated.output)")
        #expect(world.currentBundle(ids["alpha"]!)?.contains(world.markers.alphaRotated) == true)
    }

    /// Staging fails: the secret store's directory is a file (as root, a directory without
    /// write permission would not stop it). The store is put back afterwards, unstaged.
    static func failStaging(_ world: World) async throws {
        let secrets = "\(world.stateDir)/secrets"
        try FileManager.default.moveItem(atPath: secrets, toPath: secrets + ".moved")
        #expect(FileManager.default.createFile(atPath: secrets, contents: Data("not a directory\n".utf8)))
        try await setSecret(world, workspace: "beta", to: world.markers.betaUnstaged)
        _ = try await world.run("6-staging-fails", ["tick", "--json"])
        let error = try await world.lastError("secret_bundles", workspace: "beta")
        #expect(error?.contains("cannot stage") == true, "\(error ?? "no error")")
        try FileManager.default.removeItem(atPath: secrets)
        try FileManager.default.moveItem(atPath: secrets + ".moved", toPath: secrets)
    }

    static func setSecret(_ world: World, workspace: String, to value: String) async throws {
        try await world.pool.query(
            """
            UPDATE workspace_secrets SET value = $1, written_at = now()
             WHERE key = 'WS_SECRET' AND workspace_id = (SELECT id FROM workspaces WHERE name = $2)
            """, [value, workspace])
    }

    /// Writes to the secret tables refused for a NULL or a constraint, the marker in another
    /// column or in the value: the refusal names the column and never the value.
    static func refuseSecretRows(_ world: World) async throws {
        let beta = try await world.workspaces()["beta"]!
        let writes = [
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, $1, 'v')",
            "INSERT INTO workspace_secrets (workspace_id, key, value, written_by) VALUES ($2::uuid, 'K', NULL, $1)",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES (gen_random_uuid(), 'K', $1::text || $2::text)",
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($2::uuid, 'WS_SECRET', $1)",
            "INSERT INTO org_secrets (org, key, value) VALUES ($1::text || $2::text, 'K', 'v')",
            "INSERT INTO org_secrets (org, key, value) VALUES ('leakco', 'ORG_SECRET', $1::text || $2::text)",
            "INSERT INTO org_secrets (org, key, value, runtime_consumed) VALUES ('leakco', 'K', $1::text || $2::text, NULL)",
        ]
        for sql in writes {
            do {
                try await world.pool.query(sql, [world.markers.refusedRow, beta])
                Issue.record("accepted: \(sql)")
            } catch let error as PostgresError {
                #expect(error.message.contains("_secrets."), "\(error.message)")
                #expect(!"\(error) \(error.debugDescription)".contains(world.markers.prefix), "\(error.debugDescription)")
            }
        }
    }

    /// Where the secrets must be, and must be seen: each healthy workspace's current bundle
    /// holds its org's and its own current values and the token of its current generation,
    /// derived from its seed. Returns what to look for (every marker, seed and token of every
    /// generation so far and the next) and, by workspace, what its own bundles may hold.
    static func secretsWhereTheyBelong(_ world: World) async throws -> (LeakSearch, allowed: [String: [String]]) {
        let markers = world.markers
        let rows = try await world.pool.query(
            """
            SELECT w.name, b.key, b.token_seed, i.target_generation
              FROM secret_bundles b JOIN workspaces w ON w.id = b.key JOIN instances i ON i.key = b.key
            """
        ).rows
        var search = LeakSearch(needles: [.init(name: "a marker", value: markers.prefix)])
        var allowed: [String: [String]] = [:]
        for row in rows {
            let name = try row.require(String.self, "name")
            let key = try row.require(String.self, "key")
            let seed = try row.require(String.self, "token_seed")
            let generation = try row.require(Int64.self, "target_generation")
            let current = ["alpha": markers.alphaRotated, "beta": markers.betaUnstaged][name] ?? markers.workspace(name)
            search.needles.append(.init(name: "the token seed of \(name)", value: seed))
            allowed[key] = [markers.org, markers.orgRotated, markers.workspace(name), current]
            for g in 1...(generation + 1) {
                let token = InstanceToken.derive(seed: seed, workspaceID: key, generation: g)
                search.needles.append(.init(name: "the instance token of \(name) generation \(g)", value: token))
                allowed[key]!.append(token)
            }
            guard name != "refused" else { continue }
            let bundle = world.currentBundle(key) ?? ""
            let staged = try JSONSerialization.jsonObject(with: Data(bundle.utf8)) as? [String: Any]
            #expect(bundle.contains(markers.orgRotated) && bundle.contains(current), "\(name)'s bundle: \(bundle)")
            #expect(
                staged?["instance_token"] as? String
                    == InstanceToken.derive(seed: seed, workspaceID: key, generation: generation),
                "\(name)'s bundle does not hold the token of generation \(generation)")
        }
        return (search, allowed)
    }

    /// Everything searched: every command's standard output and error (the sidecar's at trace
    /// level, `tick --json`, `status`), the endpoints and sessions read while the sidecar ran,
    /// the environment and command line of every runtime started, every row of every table but
    /// the secret columns, every file of the state directory, and the PostgreSQL server log.
    static func places(_ world: World) async throws -> [LeakSearch.Place] {
        let sampled = await world.runtimes.stop()
        #expect(
            Set(world.runtimes.launched()).isSubset(of: Set(sampled.keys)),
            "a runtime was started and never sampled: \(world.runtimes.launched()) vs \(sampled.keys.sorted())")
        var places = world.places
        for (instance, sample) in sampled.sorted(by: { $0.key < $1.key }) {
            places.append(.init(name: "runtime \(instance) environment", text: sample.environment))
            places.append(.init(name: "runtime \(instance) command line", text: sample.commandLine))
        }
        let rows = try await LeakSearch.databaseRows(world.pool)
        #expect(
            ["events", "workspaces", "instances", "secret_bundles", "plugin_installs", "tunnel_ingress"]
                .allSatisfy { table in rows.contains { $0.name == "table \(table)" } })
        places += rows
        places += LeakSearch.stateFiles(world.stateDir)
        places.append(.init(name: "the PostgreSQL server log", text: try await TestDatabase.serverLog()))
        return places
    }
}
