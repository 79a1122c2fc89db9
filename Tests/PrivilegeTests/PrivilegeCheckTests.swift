import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

/// The sidecar's check of its own role at start: exactly the reconciler role's privileges pass
/// quietly, more is a Warning (log and event), less is an error naming what is missing.
@Suite("the sidecar's privilege self-check")
struct PrivilegeCheckTests {
    @Test("a login role in reconciler has exactly what the sidecar needs")
    func reconcilerLogin() async throws {
        let database = try await RoleDatabase.create()
        let pool = database.pool(as: .reconciler)
        defer { Task { await pool.close() } }
        let report = try await PrivilegeCheck(pool: pool).inspect()
        #expect(report.reconcilerRole == "molecule_reconciler")
        #expect(report.excess.isEmpty && report.missing.isEmpty, "\(report)")
        try await PrivilegeCheck(pool: pool).enforce(logger: TestDatabase.logger)
        #expect(try await Self.warnings(database.owner) == 0)
    }

    @Test("a superuser, or a reconciler that is also an operator, is warned about, with an event")
    func excess() async throws {
        let database = try await RoleDatabase.create()
        let superuser = try await PrivilegeCheck(pool: database.owner).inspect()
        #expect(superuser.superuser && superuser.excess == ["SUPERUSER"] && superuser.missing.isEmpty)

        let login = try await database.createLogin("both", in: [.reconciler, .operator])
        let pool = database.pool(login: login)
        defer { Task { await pool.close() } }
        let report = try await PrivilegeCheck(pool: pool).inspect()
        #expect(report.missing.isEmpty, "\(report.missing)")
        #expect(report.excess.contains("member of molecule_operator"), "\(report.excess)")
        #expect(report.excess.contains("EXECUTE on molecule_put_org_secret(text,text,text,boolean,text)"), "\(report.excess)")
        try await PrivilegeCheck(pool: pool).enforce(logger: TestDatabase.logger)
        try await PrivilegeCheck(pool: pool).enforce(logger: TestDatabase.logger)
        let event = try await database.owner.query(
            "SELECT message, count FROM events WHERE controller = 'reconciler' AND reason = 'ExcessPrivileges'"
        ).rows
        #expect(event.count == 1)
        #expect(try event.first?.require(String.self, "message").contains("can do more than molecule_reconciler needs") == true)
        #expect(try event.first?.require(Int.self, "count") == 2)
    }

    @Test("a role with less is refused with the missing privileges named, by the binary too")
    func missing() async throws {
        let database = try await RoleDatabase.create()
        let pool = database.pool(as: .viewer)
        defer { Task { await pool.close() } }
        do {
            try await PrivilegeCheck(pool: pool).enforce(logger: TestDatabase.logger)
            Issue.record("a viewer passed the sidecar's check")
        } catch let error as PrivilegeCheck.MissingPrivileges {
            // Since schema 0012 a viewer holds UPDATE on instances too, refused by the guard, which
            // admits the reconciler role's members: the membership is what it lacks.
            #expect(error.report.missing.contains("membership of molecule_reconciler"), "\(error.report.missing)")
            #expect(error.report.missing.contains("SELECT on workspace_secrets (value)"), "\(error.report.missing)")
            #expect("\(error)".contains("GRANT molecule_reconciler TO \(database.login(.viewer))"))
        }
        let tick = try FleetUnderRolesTests.reconciler(
            [
                "tick", "--database-url", database.conninfo(as: database.login(.viewer)), "--state-dir",
                NSTemporaryDirectory() + "molecule-viewer-\(UUID().uuidString)",
            ])
        #expect(tick.status == 1)
        #expect(tick.output.contains("lacks privileges the sidecar needs"), "\(tick.output)")
        #expect(tick.output.contains("membership of molecule_reconciler"), "\(tick.output)")
    }

    static func warnings(_ pool: PostgresPool) async throws -> Int {
        try await pool.query("SELECT count(*)::int AS n FROM events WHERE reason = 'ExcessPrivileges'").rows[0].require(
            Int.self, "n")
    }
}
