import AWSProviders
import CloudflareContract
import Foundation
import Postgres
import PostgresTestSupport
import Providers

/// A small fleet in a database of its own, and the real `molecule-reconciler` binary run on the
/// cloud providers against it: `--instances ec2 --secret-store aws` on moto (signatures
/// checked) and `--tunnels cloudflare` on an account of its own on the Cloudflare contract
/// server. Three workspaces in two orgs, with secrets of their own and of their org, a
/// template, two tenants on two tunnels, two platform paths.
///
/// The test's own writes go through short sessions that end before the binary runs, so that
/// the check pass of `tick --check-idempotent` (which counts writes in PostgreSQL's statistics,
/// flushed when a session ends) sees none of them.
struct CloudFleet {
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()
    static let image = "ami-12c6146b"
    /// Every secret value the fleet holds: none may appear in user data.
    static let secretValues = ["sk-cloud-seo-1-c9d2", "sk-cloud-seo-2-51af", "sk-cloud-writer-77e0", "org-token-acme-0b3f"]

    let configuration: PostgresConfiguration
    let moto: CloudMoto.Endpoint
    let cloudflare: CloudflareContractServer
    let account: String
    let token: String
    let stateDir: String
    /// Workspace name -> ID.
    let workspaces: [String: String]
    /// Tenant name -> (hostname, tunnel ID).
    let tenants: [String: (hostname: String, tunnel: String)]

    static func make() async throws -> CloudFleet {
        let pool = try await TestDatabase.create(poolSize: 1)
        let moto = try await CloudMoto.shared.endpoint()
        let cloudflare = try await CloudflareContractServer.shared()
        let token = "cf-fleet-\(UUID().uuidString)"
        let account = cloudflare.addAccount(token: token)
        let tenants = [
            "acme": (hostname: "acme.example.com", tunnel: cloudflare.createTunnel(account: account)),
            "globex": (hostname: "globex.example.com", tunnel: cloudflare.createTunnel(account: account)),
        ]
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('seo-agent', '{"config.yaml": "model: x\n", "prompts/system.md": "You write."}')"#
        )
        let rows = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image) VALUES
              ('acme', 'seo-1', 'seo-agent', 'agent:1'), ('acme', 'seo-2', 'seo-agent', 'agent:1'),
              ('globex', 'writer', 'seo-agent', 'agent:1')
            RETURNING id, name
            """
        ).rows
        var workspaces: [String: String] = [:]
        for row in rows { workspaces[try row.require(String.self, "name")] = try row.require(String.self, "id") }
        for (name, value) in [
            ("seo-1", secretValues[0]), ("seo-2", secretValues[1]), ("writer", secretValues[2]),
        ] {
            try await pool.query(
                "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', $2)",
                [workspaces[name]!, value])
        }
        try await pool.query(
            "INSERT INTO org_secrets (org, key, value) VALUES ('acme', 'SHARED_TOKEN', $1)", [secretValues[3]])
        try await pool.query(
            """
            INSERT INTO tenants (name, hostname, tunnel_id, services) VALUES
              ('acme', 'acme.example.com', $1, '{"platform": "http://10.0.1.1:8080", "app": "http://10.0.1.1:3000"}'),
              ('globex', 'globex.example.com', $2, '{"platform": "http://10.0.2.1:8080", "app": "http://10.0.2.1:3000"}')
            """, [tenants["acme"]!.tunnel, tenants["globex"]!.tunnel])
        try await pool.query(
            "INSERT INTO platform_paths (pattern, service) VALUES ('/api/*', 'platform'), ('/healthz', 'platform')")
        let configuration = pool.configuration
        await pool.close()
        return CloudFleet(
            configuration: configuration, moto: moto, cloudflare: cloudflare, account: account, token: token,
            stateDir: NSTemporaryDirectory() + "molecule-cloud-fleet-\(UUID().uuidString)", workspaces: workspaces,
            tenants: tenants)
    }

    // MARK: The binary

    /// The flags that select the cloud providers and point them at the stand-ins.
    var providerArguments: [String] {
        [
            "--instances", "ec2", "--secret-store", "aws", "--tunnels", "cloudflare", "--ec2-image-id", Self.image,
            "--cloudflare-account-id", account, "--cloudflare-api-base-url", cloudflare.apiBaseURL,
            "--database-url", configuration.conninfo, "--state-dir", stateDir, "--log-level", "error",
        ]
    }

    /// The process environment: moto's credentials and endpoint, the Cloudflare token; no
    /// database variables (the URL is a flag).
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        environment.merge(moto.environment) { $1 }
        environment["CLOUDFLARE_API_TOKEN"] = token
        return environment
    }

    /// `molecule-reconciler tick <arguments>` on the cloud providers.
    func tick(_ arguments: [String] = []) throws -> CommandLineTests.Outcome {
        try ReconcilerBinary.run(
            command: [Self.products.appendingPathComponent("molecule-reconciler").path, "tick"] + arguments
                + providerArguments,
            environment: environment)
    }

    /// Plain `tick`s, one after another, until `done` holds (at most `passes`); the outputs of
    /// every tick, for the failure message. Before each, the platform's runtimes say they are
    /// still alive (`reported_at` only: no controller wakes for it), as a platform does every
    /// few seconds, so that a slow machine never lets a heartbeat age into `degraded`.
    func tick(until done: () async throws -> Bool, passes: Int = 8) async throws -> (met: Bool, log: String) {
        var log = ""
        for _ in 0..<passes {
            try await query("UPDATE workspace_runtime_status SET reported_at = now()")
            let outcome = try tick()
            log += "exit \(outcome.status): \(outcome.output)\n"
            if try await done() { return (true, log) }
        }
        return (false, log)
    }

    // MARK: The database, through short sessions

    @discardableResult
    func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> [PostgresRow] {
        let pool = PostgresPool(configuration: configuration, size: 1)
        do {
            let rows = try await pool.query(sql, parameters).rows
            await pool.close()
            return rows
        } catch {
            await pool.close()
            throw error
        }
    }

    /// The instance each workspace's row records (nil before one is launched).
    func recordedInstance(_ name: String) async throws -> String? {
        try await query("SELECT instance_id FROM instances WHERE key = $1::uuid", [workspaces[name]!]).first?
            .decode(String.self, "instance_id")
    }

    func phase(_ name: String) async throws -> String {
        try await query("SELECT phase FROM workspaces WHERE id = $1::uuid", [workspaces[name]!])[0].require(String.self, "phase")
    }

    /// The platform's heartbeat, as the README's contract has it: one row per workspace naming
    /// the instance that reports, upserted.
    func heartbeat(_ names: [String]) async throws {
        for name in names {
            guard let instance = try await recordedInstance(name) else { continue }
            try await query(
                """
                INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at)
                VALUES ($1::uuid, $2, true, now())
                ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, ready = true, reported_at = now()
                """, [workspaces[name]!, instance])
        }
    }

    // MARK: What the stand-ins hold

    /// A client on moto through the provider's public API (the recorder sees its reads too).
    func ec2() throws -> EC2InstanceProvider {
        try EC2InstanceProvider.make(
            settings: .init(aws: AWSSettings(timeoutMilliseconds: 60_000), imageID: Self.image), environment: moto.environment)
    }

    func secrets() throws -> SecretsManagerStore {
        try SecretsManagerStore.make(
            settings: .init(aws: AWSSettings(timeoutMilliseconds: 60_000)), environment: moto.environment)
    }

    func instances(_ name: String) async throws -> [InstanceRecord] {
        try await ec2().list(workspaceID: workspaces[name]!)
    }

    func live(_ name: String) async throws -> [InstanceRecord] {
        try await instances(name).filter(\.state.isLive)
    }

    func secretName(_ name: String) -> String { "molecule/workspace/\(workspaces[name]!)/config" }

    /// The instance's user data, decoded, as EC2 answers `DescribeInstanceAttribute userData`.
    func userData(instance: String) async throws -> String {
        let answer = try await moto.query(
            "ec2", "DescribeInstanceAttribute", [("InstanceId", instance), ("Attribute", "userData")], version: "2016-11-15")
        guard let section = CloudMoto.element("userData", in: answer), let value = CloudMoto.element("value", in: section),
            let data = Data(base64Encoded: value)
        else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The version Secrets Manager labels `AWSCURRENT` (`DescribeSecret`).
    func currentVersion(_ name: String) async throws -> String? {
        let answer = try await moto.json(
            "secretsmanager", target: "secretsmanager.DescribeSecret", ["SecretId": secretName(name)])
        let stages = answer["VersionIdsToStages"] as? [String: [String]] ?? [:]
        return stages.first { $0.value.contains("AWSCURRENT") }?.key
    }

    /// One version's value (`GetSecretValue` by `VersionId`): what an instance told to boot that
    /// version reads.
    func secretValue(_ name: String, version: String) async throws -> String {
        let answer = try await moto.json(
            "secretsmanager", target: "secretsmanager.GetSecretValue", ["SecretId": secretName(name), "VersionId": version])
        return answer["SecretString"] as? String ?? ""
    }

    func scheduledForDeletion(_ name: String) async throws -> Bool {
        try await secrets().describe(name: secretName(name))?.scheduledForDeletion == true
    }

    /// A tenant's rules on its tunnel, as `path -> service` (`*` for no path).
    func rules(_ tenant: String) -> [String] {
        let (hostname, tunnel) = tenants[tenant]!
        guard case .array(let rules)? = cloudflare.tunnel(account: account, id: tunnel)?.config["ingress"] else { return [] }
        return rules.filter { $0["hostname"]?.stringValue == hostname }.map {
            "\($0["path"]?.stringValue ?? "*") -> \($0["service"]?.stringValue ?? "")"
        }
    }

    /// The contract server's count of this account's requests with `method`.
    func calls(_ method: String) -> Int {
        cloudflare.requests(account: account).filter { $0.method == method }.count
    }
}
