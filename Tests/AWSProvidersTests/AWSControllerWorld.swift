import ControllerHost
import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import ReconcileStore
import Synchronization
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@testable import AWSProviders

/// A database with one workspace, and the secrets-bundle and instances controllers on the AWS
/// providers against moto (heartbeat mode: no probe, as on EC2).
struct AWSControllerWorld {
    static let owner = "pg:aws-test"
    let pool: PostgresPool
    let moto: MotoProviders
    let secrets: SecretsManagerStore
    let ec2: EC2InstanceProvider
    let workspace: String

    /// With `environment`, the providers resolve it instead of moto's working credentials.
    static func make(environment: [String: String]? = nil) async throws -> AWSControllerWorld {
        let pool = try await TestDatabase.create(poolSize: 6)
        try await pool.query(
            #"INSERT INTO templates (name, files) VALUES ('seo-agent', '{"config.yaml": "a: 1", "prompts/p.md": "hi"}')"#)
        let id = try await pool.query(
            "INSERT INTO workspaces (org, name, template, image) VALUES ('acme', 'seo', 'seo-agent', 'agent:1') RETURNING id"
        ).rows[0].require(String.self, "id")
        try await pool.query(
            "INSERT INTO workspace_secrets (workspace_id, key, value) VALUES ($1::uuid, 'API_KEY', 'sk-live-123')", [id])
        let moto = try await MotoProviders.make()
        guard let environment else {
            return AWSControllerWorld(
                pool: pool, moto: moto, secrets: try moto.secretStore(), ec2: try moto.instances(), workspace: id)
        }
        let secrets = try SecretsManagerStore.make(
            settings: .init(aws: MotoProviders.aws), environment: environment, transport: moto.transport)
        let ec2 = try EC2InstanceProvider.make(
            settings: .init(aws: MotoProviders.aws, imageID: "ami-12c6146b"), environment: environment,
            transport: moto.transport)
        return AWSControllerWorld(pool: pool, moto: moto, secrets: secrets, ec2: ec2, workspace: id)
    }

    func driver(holder: String = ReconcilerHost.defaultHolder()) -> TickDriver {
        TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: ec2, owner: Self.owner)),
            ], holder: holder, logger: TestDatabase.logger)
    }

    var secretName: String { WorkspaceBundle.secretName(workspaceID: workspace) }

    func live() async throws -> [InstanceRecord] {
        try await ec2.list(workspaceID: workspace).filter(\.state.isLive)
    }

    func bundle() async throws -> String { String(decoding: try await secrets.read(name: secretName), as: UTF8.self) }

    func launches() -> Int { moto.transport.operations.filter { $0 == "ec2.RunInstances" }.count }

    /// The platform's heartbeat for `instance`.
    func heartbeat(_ instance: String, at: Date) async throws {
        try await pool.query(
            """
            INSERT INTO workspace_runtime_status (workspace_id, instance_id, ready, reported_at) VALUES ($1::uuid, $2, true, $3)
            ON CONFLICT (workspace_id) DO UPDATE SET instance_id = excluded.instance_id, ready = true, reported_at = excluded.reported_at
            """, [workspace, instance, at])
    }

    func row() async throws -> (phase: String, lastError: String?) {
        let row = try await pool.query("SELECT phase, last_error FROM workspaces WHERE id = $1::uuid", [workspace]).rows[0]
        return (try row.require(String.self, "phase"), try row.decode(String.self, "last_error"))
    }
}

/// Secrets Manager's deletion window as AWS has it, over moto's state (moto lets a put through
/// on a secret scheduled for deletion and answers a create with ResourceExistsException): while
/// a name is scheduled, PutSecretValue and GetSecretValue answer `InvalidRequestException ...
/// marked for deletion`, CreateSecret `... already scheduled for deletion`. With
/// `deleteBeforeNextPut`, the next PutSecretValue first has the name deleted by someone else
/// (seed 000's deprovision racing the provision).
final class AWSDeletionWindow: Sendable {
    private let state = Mutex<(scheduled: Set<String>, deleteBeforeNextPut: Bool)>(([], false))
    let raced = Mutex(0)

    func deleteBeforeNextPut() { state.withLock { $0.deleteBeforeNextPut = true } }

    func install(on transport: RecordingTransport, racer: SecretsManagerStore) {
        transport.intercept { [self] operation, request in
            let id =
                RecordingTransport.json(request)["SecretId"] as? String ?? RecordingTransport.json(request)["Name"] as? String
                ?? ""
            switch operation {
            case "secretsmanager.DeleteSecret":
                state.withLock { _ = $0.scheduled.insert(id) }
            case "secretsmanager.RestoreSecret":
                state.withLock { _ = $0.scheduled.remove(id) }
            case "secretsmanager.PutSecretValue", "secretsmanager.GetSecretValue":
                let race = state.withLock { state in
                    defer { state.deleteBeforeNextPut = false }
                    return state.deleteBeforeNextPut && operation.hasSuffix("PutSecretValue")
                }
                if race {
                    raced.withLock { $0 += 1 }
                    try await racer.delete(name: id, recoveryWindowDays: 7)
                }
                if state.withLock({ $0.scheduled.contains(id) }) {
                    return RecordingTransport.jsonError(
                        400, "InvalidRequestException",
                        "You can't perform this operation on the secret because it was marked for deletion.")
                }
            case "secretsmanager.CreateSecret":
                if state.withLock({ $0.scheduled.contains(id) }) {
                    return RecordingTransport.jsonError(
                        400, "InvalidRequestException",
                        "You can't create this secret because a secret with this name is already scheduled for deletion.")
                }
            default:
                break
            }
            return nil
        }
    }
}
