import ControllerHost
import CurlHTTP
import Foundation
import LocalProviders
import Postgres
import PostgresTestSupport
import Providers
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@testable import DockerProvider

/// A fresh database, a state directory and the Docker provider on an engine: the
/// secrets-bundle, instances and declared-plugins controllers and the orphan sweeper, driven by
/// ticks as `molecule-reconciler tick` drives them.
struct DockerWorld {
    let pool: PostgresPool
    let engine: DockerEngine
    let state: URL
    let secrets: FileSecretStore
    let provider: DockerInstanceProvider
    /// The uid each workspace's container runs as.
    let users: RuntimeUserTable
    let owner: String

    static func make(engine: DockerEngine? = nil, network: String = "host") async throws -> DockerWorld {
        let shared = try await DockerEngine.shared.value
        let engine = engine ?? shared
        let pool = try await TestDatabase.create()
        let state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("docker-\(UUID().uuidString)")
        // As `run` does as root: a uid per workspace, its bundle readable by that uid's group alone.
        let isolation = RuntimeIsolation.detect(stateDirectory: state, uids: 61_000...65_000, required: true)
        try isolation.prepare(stateDirectory: state)
        guard case .perWorkspaceUser(let users) = isolation else {
            throw DockerEngine.EngineFailure(message: "no runtime isolation: \(isolation.summary)")
        }
        let secrets = FileSecretStore(
            root: state.appendingPathComponent("secrets"),
            reader: { name in try WorkspaceBundle.workspaceID(ofSecretName: name).map { try users.user(for: $0) } })
        let settings = DockerSettings(
            socketPath: engine.socket, image: DockerEngine.image, networkMode: network, memoryBytes: 256 << 20, cpus: 1,
            pidsLimit: 256,
            stopGraceSeconds: 2, secretStoreRoot: secrets.root.path)
        let root = secrets.root
        let provider = DockerInstanceProvider(
            settings: settings,
            users: { workspace, bundle in
                try isolation.bundleReader(workspaceID: workspace, bundleName: bundle, secretStoreRoot: root)
                    .map { ContainerUser(uid: $0.uid, gid: $0.gid) }
            })
        return DockerWorld(
            pool: pool, engine: engine, state: state, secrets: secrets, provider: provider, users: users,
            owner: try await DatabaseIdentity.owner(pool))
    }

    func driver(holder: String = ReconcilerHost.defaultHolder()) -> TickDriver {
        let instances = InstanceStore(pool: pool)
        return TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)),
                .init(InstancesReconciler(store: instances, provider: provider, probe: HTTPRuntimeProbe(), owner: owner)),
                .init(
                    DeclaredPluginsReconciler(
                        store: PluginStore(pool: pool), delivery: HTTPPluginDelivery(), probe: HTTPRuntimeProbe())),
            ],
            sweepers: [OrphanSweeper(instances: instances, events: EventStore(pool: pool), provider: provider, owner: owner)],
            holder: holder, logger: TestDatabase.logger)
    }

    /// Stages the workspace's bundle and nothing else (no instance is launched).
    func stageBundle(_ id: String) async throws {
        let bundles = TickDriver(
            pool: pool,
            controllers: [.init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets))],
            logger: TestDatabase.logger)
        _ = try await bundles.tickUntilConverged()
        let staged = try await pool.query("SELECT staged_hash FROM secret_bundles WHERE key = $1::uuid", [id]).rows
        #expect(try staged.first?.decode(String.self, "staged_hash") != nil, "the bundle of \(id) is not staged")
    }

    /// A workspace of a template, with a secret; its ID. `local/...` runs the provider's image.
    func workspace(_ name: String, secret: String, image: String = "local/agent:1") async throws -> String {
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}') ON CONFLICT DO NOTHING"#)
        let id = try await pool.query(
            "INSERT INTO workspaces (org, name, template, image) VALUES ('o', $1, 't', $2) RETURNING id", [name, image]
        ).rows[0].require(String.self, "id")
        try await pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', $2)", [id, secret])
        return id
    }

    func phase(_ id: String) async throws -> String {
        try await pool.query("SELECT phase FROM workspaces WHERE id = $1::uuid", [id]).rows[0].require(String.self, "phase")
    }

    func lastError(_ id: String) async throws -> String? {
        try await pool.query("SELECT last_error FROM workspaces WHERE id = $1::uuid", [id]).rows[0].decode(
            String.self, "last_error")
    }

    /// The instances controller's own `last_error` (the workspace's shows the latest of every
    /// controller's: with the engine gone, the plugins controller's unanswered runtime may be it).
    func instancesError(_ id: String) async throws -> String? {
        try await pool.query("SELECT last_error FROM instances WHERE key = $1::uuid", [id]).rows[0].decode(
            String.self, "last_error")
    }

    /// Ticks (every key, as the watch would) until `done` holds, within `seconds`.
    @discardableResult
    func tick(until done: () async throws -> Bool, seconds: Double = 90) async throws -> Bool {
        let driver = driver()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            _ = try await driver.tick(full: true)
            if try await done() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func tickUntilRunning(_ id: String) async throws {
        let running = try await tick(until: { try await phase(id) == "running" })
        let now = try await phase(id)
        let error = try await lastError(id) ?? ""
        #expect(running, "workspace \(id) is \(now): \(error)")
    }

    /// The workspace's containers, as the engine lists them.
    func containers(_ id: String) async throws -> [DockerContainer] {
        try await provider.engine.listContainers(labels: ["\(DockerInstanceProvider.Label.workspace)=\(id)"])
    }

    /// `docker inspect`: the container's whole configuration as the engine shows it.
    func inspect(_ name: String) async throws -> String {
        let answer = try await provider.engine.send("GET", "/containers/\(name)/json", operation: "test")
        return String(decoding: answer.body, as: UTF8.self)
    }

    /// The instance token staged in the workspace's bundle.
    func instanceToken(_ id: String) async throws -> String {
        let data = try await secrets.read(name: WorkspaceBundle.secretName(workspaceID: id))
        struct Bundle: Decodable {
            var instanceToken: String

            enum CodingKeys: String, CodingKey { case instanceToken = "instance_token" }
        }
        return try JSONDecoder().decode(Bundle.self, from: data).instanceToken
    }

    func events(_ id: String) async throws -> [RecordedEvent] {
        try await RecordedEvents.of(id, in: pool)
    }
}

extension DockerWorld {
    /// Runs `command` inside the running container `name` as the container's own user
    /// (`POST /containers/{id}/exec`): its exit code and its output.
    func exec(_ name: String, _ command: [String]) async throws -> (status: Int, output: String) {
        struct Created: Decodable {
            var id: String

            enum CodingKeys: String, CodingKey { case id = "Id" }
        }
        struct Inspected: Decodable {
            var exitCode: Int?
            var running: Bool

            enum CodingKeys: String, CodingKey {
                case exitCode = "ExitCode"
                case running = "Running"
            }
        }
        let body = try JSONSerialization.data(withJSONObject: [
            "AttachStdout": true, "AttachStderr": true, "Cmd": command,
        ])
        let created = try await provider.engine.send("POST", "/containers/\(name)/exec", json: body, operation: "test")
        let id = try JSONDecoder().decode(Created.self, from: created.body).id
        let started = try await provider.engine.send(
            "POST", "/exec/\(id)/start", json: Data(#"{"Detach": false, "Tty": false}"#.utf8), operation: "test")
        let output = DockerLogStream.demultiplex(started.body)
        for _ in 0..<100 {
            let answer = try await provider.engine.send("GET", "/exec/\(id)/json", operation: "test")
            let inspected = try JSONDecoder().decode(Inspected.self, from: answer.body)
            if !inspected.running, let code = inspected.exitCode { return (code, output) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DockerEngine.EngineFailure(message: "exec \(command) in \(name) did not finish")
    }

    /// Raw Engine API calls the tests make themselves (networks, kills).
    struct Engine {
        let client: DockerEngineClient

        init(_ engine: DockerEngine) {
            client = DockerEngineClient(settings: DockerSettings(socketPath: engine.socket, secretStoreRoot: "/"))
        }

        func send(_ method: String, _ path: String, json: Data? = nil) async throws -> DockerEngineClient.Answer {
            try await client.send(method, path, json: json, operation: "test")
        }
    }
}
