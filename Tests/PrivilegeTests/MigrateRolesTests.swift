import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// `migrate` creates the roles once, under its prefix, as a superuser or as a role that only has
/// CREATEROLE, and uses roles that exist already.
@Suite("migrate creates the roles")
struct MigrateRolesTests {
    @Test(
        "a non-superuser owner with CREATEROLE migrates an empty database under its own prefix; its reconciler passes the check")
    func nonSuperuserWithPrefix() async throws {
        let template = try await RoleDatabase.create()
        let prefix = "\(template.name)_p_"
        let owner = "\(template.name)_owner"
        let name = "\(template.name)_shared"
        let admin = try await TestDatabase.admin()
        try await admin.query("CREATE ROLE \(owner) LOGIN CREATEROLE")
        try await admin.query("CREATE DATABASE \(name) OWNER \(owner) TEMPLATE template0")
        await admin.close()

        let conninfo = template.owner.configuration.conninfo.replacingOccurrences(
            of: "dbname=\(template.name)", with: "dbname=\(name)")
        #expect(conninfo.contains("dbname=\(name)"), "\(conninfo)")
        let pool = PostgresPool(configuration: .init(conninfo: conninfo + " user=\(owner)"), size: 1)
        defer { Task { await pool.close() } }
        let applied = try await Migrator(pool: pool, rolePrefix: prefix, logger: TestDatabase.logger).migrate()
        #expect(applied.contains("0010_roles_and_privileges"))
        let roles = try await pool.query("SELECT role, name FROM molecule_roles ORDER BY role").rows
            .map { "\(try $0.require(String.self, "role"))=\(try $0.require(String.self, "name"))" }
        #expect(
            roles == [
                "operator=\(prefix)operator", "platform=\(prefix)platform", "reconciler=\(prefix)reconciler",
                "viewer=\(prefix)viewer",
            ])
        #expect(try await Migrator(pool: pool, rolePrefix: prefix, logger: TestDatabase.logger).migrate().isEmpty)
        await #expect(throws: Migrator.SchemaError.self) {
            try await Migrator(pool: pool, rolePrefix: "other_", logger: TestDatabase.logger).migrate()
        }

        // The owner sees itself as one that can do more than the sidecar needs.
        let ownerReport = try await PrivilegeCheck(pool: pool).inspect()
        #expect(
            !ownerReport.superuser && ownerReport.missing.isEmpty && ownerReport.excess.contains("CREATEROLE"), "\(ownerReport)")
        // A login in the prefixed reconciler role has exactly what the sidecar needs, and an
        // operator edit still moves the controllers' generations (security-definer triggers).
        try await pool.query("CREATE ROLE \(name)_sidecar LOGIN IN ROLE \(prefix)reconciler")
        try await pool.query("CREATE ROLE \(name)_alice LOGIN IN ROLE \(prefix)operator")
        let sidecar = PostgresPool(configuration: .init(conninfo: conninfo + " user=\(name)_sidecar"), size: 1)
        defer { Task { await sidecar.close() } }
        let report = try await PrivilegeCheck(pool: sidecar).inspect()
        #expect(report.reconcilerRole == "\(prefix)reconciler" && report.excess.isEmpty && report.missing.isEmpty, "\(report)")
        let alice = PostgresPool(configuration: .init(conninfo: conninfo + " user=\(name)_alice"), size: 1)
        defer { Task { await alice.close() } }
        try await alice.query("INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w', 'img')")
        try await alice.query("UPDATE workspaces SET image = 'img2'")
        let generation = try await sidecar.query("SELECT desired_generation, target_generation FROM instances").rows[0]
        #expect(try generation.require(Int.self, "desired_generation") == 2)
        #expect(try generation.require(Int.self, "target_generation") == 2)
    }
}
