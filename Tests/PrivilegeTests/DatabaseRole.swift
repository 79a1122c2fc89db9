import Postgres
import PostgresTestSupport

/// The four group roles of schema 0010, under the default prefix the test template is migrated with.
enum DatabaseRole: String, CaseIterable, Sendable, CustomStringConvertible {
    case reconciler, `operator`, platform, viewer

    var groupName: String { "molecule_" + rawValue }
    var description: String { rawValue }
}

/// A fresh test database and, for it, one login role per group role (roles are cluster-wide:
/// each is named after the database, which is unique on the test server).
struct RoleDatabase: Sendable {
    let owner: PostgresPool
    let name: String

    static func create() async throws -> RoleDatabase {
        let owner = try await TestDatabase.create(poolSize: 2)
        let name = try await owner.query("SELECT current_database()::text AS name").rows[0].require(String.self, "name")
        for role in DatabaseRole.allCases {
            try await owner.query("CREATE ROLE \(name)_\(role) LOGIN IN ROLE \(role.groupName)")
        }
        return RoleDatabase(owner: owner, name: name)
    }

    /// A login role of this database that is a member of `groups` (none: no privileges at all).
    func createLogin(_ suffix: String, in groups: [DatabaseRole]) async throws -> String {
        let login = "\(name)_\(suffix)"
        let membership = groups.isEmpty ? "" : " IN ROLE " + groups.map(\.groupName).joined(separator: ", ")
        try await owner.query("CREATE ROLE \(login) LOGIN\(membership)")
        return login
    }

    func login(_ role: DatabaseRole) -> String { "\(name)_\(role)" }

    /// The conninfo of this database as `login` (libpq keeps the last of a repeated keyword).
    func conninfo(as login: String) -> String { owner.configuration.conninfo + " user=\(login)" }

    func pool(as role: DatabaseRole, size: Int = 1) -> PostgresPool { pool(login: login(role), size: size) }

    func pool(login: String, size: Int = 1) -> PostgresPool {
        PostgresPool(configuration: .init(conninfo: conninfo(as: login)), size: size)
    }
}
