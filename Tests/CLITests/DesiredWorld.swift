import CurlHTTP
import Foundation
import Postgres

extension RuntimeFaultTests {
    /// The desired state the chaos writes, remembered so that the end state can be checked
    /// against every change: workspaces by ID, their kind and desired state, the last secret value
    /// written, the restarts asked for and the declared plugins.
    struct DesiredWorld {
        struct Workspace {
            var id: String
            var kind: String
            var running = true
            var secret: String
            var restarts = 0
            var plugins: [String: String] = [:]
        }

        let fleet: LiveFleet
        private(set) var workspaces: [String: Workspace] = [:]
        private var counter = 0
        private var counts: [String: Int] = [:]

        init(fleet: LiveFleet) {
            self.fleet = fleet
        }

        var tally: String { counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") }

        mutating func addWorkspace(_ name: String, kind: String = "agent") async throws {
            let id = try await fleet.addWorkspaces([(name, kind, "auto")])[name]!
            workspaces[id] = Workspace(id: id, kind: kind, secret: "")
            try await rotateSecret(id)
        }

        /// One change: stop or start, restart, rotate a secret, declare or remove a plugin, or
        /// replace a workspace (its row deleted outright: its runtime is the sweeper's).
        mutating func changeAtRandom() async throws {
            let id = workspaces.keys.randomElement()!
            let change = ["stop-or-start", "restart", "secret", "plugin", "replace"].randomElement()!
            counts[change, default: 0] += 1
            switch change {
            case "stop-or-start":
                // At most three stopped at once, so most of the fleet runs.
                let stopped = workspaces.values.filter { !$0.running }.map(\.id)
                let target = workspaces[id]!.running && stopped.count >= 3 ? stopped.randomElement()! : id
                workspaces[target]!.running.toggle()
                try await fleet.pool.query(
                    "UPDATE workspaces SET desired_state = $2 WHERE id = $1::uuid",
                    [target, workspaces[target]!.running ? "running" : "stopped"])
            case "restart":
                workspaces[id]!.restarts += 1
                try await fleet.pool.query(
                    "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid",
                    [id])
            case "secret":
                try await rotateSecret(id)
            case "plugin":
                if workspaces[id]!.plugins.isEmpty {
                    counter += 1
                    workspaces[id]!.plugins["web-search"] = "2.\(counter)"
                    try await fleet.pool.query(
                        """
                        INSERT INTO workspace_declared_plugins (workspace_id, plugin, ref) VALUES ($1::uuid, 'web-search', $2)
                        """, [id, "2.\(counter)"])
                } else {
                    workspaces[id]!.plugins = [:]
                    try await fleet.pool.query("DELETE FROM workspace_declared_plugins WHERE workspace_id = $1::uuid", [id])
                }
            default:
                let kind = workspaces[id]!.kind
                workspaces[id] = nil
                try await fleet.pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [id])
                counter += 1
                try await addWorkspace("r\(counter)", kind: kind)
            }
        }

        mutating func rotateSecret(_ id: String) async throws {
            counter += 1
            let value = "secret-\(counter)-\(UUID().uuidString.prefix(8))"
            workspaces[id]!.secret = value
            try await fleet.pool.query(
                """
                INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', $2)
                ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value, written_at = now()
                """, [id, value])
        }

        /// What is not as the desired state says, in words; empty once the world converged.
        func problems() async throws -> [String] {
            var problems: [String] = []
            for table in ["instances", "secret_bundles", "plugin_installs", "tunnel_ingress"] {
                let rows = try await fleet.pool.query(
                    """
                    SELECT key::text AS key, desired_generation, observed_generation, last_error FROM \(table)
                     WHERE observed_generation <> desired_generation OR last_error IS NOT NULL
                    """
                ).rows
                for row in rows {
                    let key = try row.require(String.self, "key")
                    let observed = try row.require(Int64.self, "observed_generation")
                    let desired = try row.require(Int64.self, "desired_generation")
                    let error = try row.decode(String.self, "last_error")
                    problems.append("\(table) \(key): generation \(observed) of \(desired), error \(error ?? "none")")
                }
            }
            let runtimes = Dictionary(grouping: fleet.runtimes(), by: \.workspace)
            for (workspace, processes) in runtimes where workspaces[workspace]?.running != true {
                let state = workspaces[workspace] == nil ? "gone" : "stopped"
                problems.append("orphan runtime(s) \(processes.map(\.pid)) of \(state) workspace \(workspace)")
            }
            for workspace in workspaces.values {
                problems += try await self.problems(of: workspace, runtimes: runtimes[workspace.id] ?? [])
            }
            return problems
        }

        private func problems(of workspace: Workspace, runtimes: [RuntimeProcess]) async throws -> [String] {
            let id = workspace.id
            let row = try await fleet.pool.query(
                """
                SELECT w.phase, w.last_error, w.restart_pending, i.target_generation, i.instance_generation, b.staged_hash
                  FROM workspaces w JOIN instances i ON i.key = w.id JOIN secret_bundles b ON b.key = w.id WHERE w.id = $1::uuid
                """, [id]
            ).rows[0]
            let phase = try row.require(String.self, "phase")
            let target = try row.require(Int64.self, "target_generation")
            var problems: [String] = []
            if let error = try row.decode(String.self, "last_error") { problems.append("\(id): last_error \(error)") }
            if target < 1 + Int64(workspace.restarts) {
                problems.append("\(id): generation \(target) after \(workspace.restarts) restarts")
            }
            let bundle = try stagedBundle(of: id)
            if (bundle?["env"] as? [String: String])?["API_KEY"] != workspace.secret {
                problems.append("\(id): the staged bundle lacks the last secret value")
            }
            if bundle?["instance_generation"] as? String != String(target) {
                let staged = bundle?["instance_generation"] ?? "none"
                problems.append("\(id): the staged bundle is for generation \(staged), not \(target)")
            }
            guard workspace.running else {
                if phase != "stopped" { problems.append("\(id): stopped, phase \(phase)") }
                return problems
            }
            guard phase == "running", runtimes.count == 1, let runtime = runtimes.first else {
                return problems + ["\(id): phase \(phase), runtimes \(runtimes.map(\.pid))"]
            }
            let recorded = try row.require(Int64.self, "instance_generation")
            if runtime.generation != target || recorded != target {
                problems.append("\(id): runtime of generation \(runtime.generation), recorded \(recorded), target \(target)")
            }
            guard let reported = try await reportedStatus(of: runtime) else {
                return problems + ["\(id): no status from its runtime"]
            }
            if reported["plugins"] as? [String: String] != workspace.plugins {
                problems.append("\(id): runtime plugins \(reported["plugins"] ?? "none"), declared \(workspace.plugins)")
            }
            // A platform workspace is never restarted for a secret: it says restart_pending instead.
            let booted = reported["bundle_hash"] as? String == (try row.decode(String.self, "staged_hash"))
            let pending = try row.require(Bool.self, "restart_pending")
            if !booted, workspace.kind != "platform" || !pending {
                problems.append("\(id): the runtime did not boot with the staged bundle")
            }
            return problems
        }

        /// The current version of a workspace's staged bundle, as the file secret store keeps it.
        func stagedBundle(of id: String) throws -> [String: Any]? {
            let directory = URL(fileURLWithPath: fleet.stateDir).appendingPathComponent("secrets")
                .appendingPathComponent("molecule%2Fworkspace%2F\(id)%2Fconfig")
            guard let pointer = FileManager.default.contents(atPath: directory.appendingPathComponent("current").path),
                let version = String(decoding: pointer, as: UTF8.self).split(separator: "\n").first,
                let data = FileManager.default.contents(atPath: directory.appendingPathComponent("versions/\(version)").path)
            else { return nil }
            return try JSONSerialization.jsonObject(with: data) as? [String: Any]
        }

        private func reportedStatus(of runtime: RuntimeProcess) async throws -> [String: Any]? {
            guard let port = runtime.port,
                let response = try? await CurlHTTPClient().send(
                    .init(
                        url: "http://127.0.0.1:\(port)/status",
                        timeoutMilliseconds: 1_000)),
                response.status == 200
            else { return nil }
            return try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        }
    }
}
