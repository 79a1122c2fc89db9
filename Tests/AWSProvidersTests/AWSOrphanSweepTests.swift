import ControllerHost
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import ReconcileStore
import Testing
import WorkspaceControllers
import WorkspaceModel
import WorkspaceStore

@testable import AWSProviders

/// The orphan sweepers on the AWS providers: a workspace row deleted outright loses its EC2
/// instance and its bundle; another fleet's (another owner in the same account) are untouched.
@Suite("AWS orphan sweeps (moto)")
struct AWSOrphanSweepTests {
    @Test(
        "a deleted workspace row: its instance terminated, its IAM role released and its bundle scheduled; another owner's untouched"
    )
    func sweepsOnlyOwnOrphans() async throws {
        let pool = try await TestDatabase.create(poolSize: 4)
        let moto = try await MotoProviders.make()
        let owner = "pg:orphans-\(UUID().uuidString.lowercased())"
        let secrets = try SecretsManagerStore.make(
            settings: .init(aws: MotoProviders.aws, owner: owner), environment: moto.endpoint.environment,
            transport: moto.transport)
        let other = try SecretsManagerStore.make(
            settings: .init(aws: MotoProviders.aws, owner: "pg:another-fleet"), environment: moto.endpoint.environment,
            transport: moto.transport)
        let ec2 = try moto.instances()
        try await pool.query(#"INSERT INTO templates (name, files) VALUES ('t', '{"config.yaml": "a: 1"}')"#)
        let ids = try await pool.query(
            """
            INSERT INTO workspaces (org, name, template, image)
            VALUES ('acme', 'kept', 't', 'agent:1'), ('acme', 'gone', 't', 'agent:1') RETURNING id, name
            """
        ).rows.reduce(into: [String: String]()) { $0[try $1.require(String.self, "name")] = try $1.require(String.self, "id") }
        let driver = TickDriver(
            pool: pool,
            controllers: [
                .init(SecretsBundleReconciler(store: BundleStore(pool: pool), secretStore: secrets)),
                .init(InstancesReconciler(store: InstanceStore(pool: pool), provider: ec2, owner: owner)),
            ],
            sweepers: [
                OrphanSweeper(instances: InstanceStore(pool: pool), events: EventStore(pool: pool), provider: ec2, owner: owner),
                OrphanBundleSweeper(secretStore: secrets, workspaces: InstanceStore(pool: pool), events: EventStore(pool: pool)),
            ], logger: TestDatabase.logger)
        _ = try await driver.tickUntilConverged()
        // Another fleet's bundle and instance, for a workspace this database does not have.
        let foreign = UUID().uuidString.lowercased()
        let foreignName = WorkspaceBundle.secretName(workspaceID: foreign)
        _ = try await other.put(
            name: foreignName, value: Data("x".utf8), contentHash: "h", versionToken: String(repeating: "f", count: 64))
        let foreignInstance = try await ec2.create(
            .init(workspaceID: foreign, generation: 1, image: "x", bundleName: foreignName, owner: "pg:another-fleet"))

        try await pool.query("DELETE FROM workspaces WHERE id = $1::uuid", [ids["gone"]!])
        let pass = try await driver.tickUntilConverged()
        #expect(pass.failures.isEmpty, "\(pass.failures)")
        #expect(try await ec2.list(workspaceID: ids["gone"]!).allSatisfy { !$0.state.isLive })
        #expect(try await ec2.list(workspaceID: ids["kept"]!).filter(\.state.isLive).count == 1)
        let gone = WorkspaceBundle.secretName(workspaceID: ids["gone"]!)
        #expect(try await secrets.describe(name: gone)?.scheduledForDeletion == true)
        #expect(
            try await secrets.describe(name: WorkspaceBundle.secretName(workspaceID: ids["kept"]!))?.scheduledForDeletion
                == false)
        #expect(try await secrets.describe(name: foreignName)?.scheduledForDeletion == false)
        #expect(try await ec2.list(workspaceID: foreign).filter(\.state.isLive).map(\.id) == [foreignInstance.id])
        let held = try await ec2.heldWorkspaces(owner: owner)
        #expect(!held.contains(ids["gone"]!) && held.contains(ids["kept"]!), "\(held)")
        #expect(try await ec2.heldWorkspaces(owner: "pg:another-fleet").contains(foreign))
        let released = try await pool.query(
            "SELECT count(*)::int AS n FROM events WHERE reason = 'OrphanReleased' AND key = $1", [ids["gone"]!])
        #expect(try released.rows[0].require(Int.self, "n") == 1)
        #expect(
            try await secrets.list(prefix: WorkspaceBundle.secretNamePrefix).sorted()
                == [gone, WorkspaceBundle.secretName(workspaceID: ids["kept"]!)].sorted())
    }
}
