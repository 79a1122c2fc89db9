import Foundation
import Logging
import Postgres
import SchemaManifests

/// Applies `manifests/schema/*.sql` in order, each once, each in its own transaction, recorded
/// in `schema_migrations` with a checksum, under an advisory lock so that replicas starting
/// together do not race. Running it again is a no-op.
public struct Migrator: Sendable {
    public struct SchemaError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The advisory lock key (any constant unique to this program).
    static let lockKey: Int64 = 0x6D6F6C6563756C65  // "molecule"

    /// The prefix of the database roles migration 0010 creates when no `rolePrefix` is given.
    public static let defaultRolePrefix = "molecule_"

    private let pool: PostgresPool
    private let migrations: [SchemaManifests.Migration]
    private let logger: Logger
    /// The prefix of the group roles (`<prefix>reconciler`, ...), passed to the migrations as the
    /// setting `molecule.role_prefix`; nil: the default, and no check against the roles an earlier
    /// `migrate` recorded.
    private let rolePrefix: String?

    public init(
        pool: PostgresPool, migrations: [SchemaManifests.Migration]? = nil, rolePrefix: String? = nil, logger: Logger
    ) throws {
        self.pool = pool
        self.migrations = try migrations ?? SchemaManifests.migrations()
        self.rolePrefix = rolePrefix
        self.logger = logger
    }

    /// The newest migration this binary ships: the schema version it needs.
    public static func requiredSchema() throws -> String {
        try SchemaManifests.migrations().last?.name ?? "none"
    }

    /// Applies what is missing; returns the names applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        // A session of its own with a patient deadline: waiting for another replica's migration
        // (the advisory lock) or for a lock a busy server holds is normal, and a migration must
        // not be cancelled at the 30 s a reconcile's statement gets.
        var configuration = pool.configuration
        configuration.statementTimeoutMilliseconds = Self.statementTimeoutMilliseconds
        let connection = PostgresConnection(configuration: configuration)
        do {
            try await connection.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
            let applied = try await apply(on: connection)
            try await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
            await connection.close()
            return applied
        } catch {
            // Closing the session releases the lock too, if the unlock cannot be sent.
            _ = try? await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
            await connection.close()
            throw error
        }
    }

    /// How long one statement of `migrate` may take, waits for locks included (10 minutes).
    static let statementTimeoutMilliseconds = 600_000

    /// Fails with a clear message unless the database has exactly the migrations this binary
    /// knows (too old: run `migrate`; newer: upgrade the binary; edited: never edit a shipped one).
    public func verify() async throws {
        let applied = try await pool.withConnection { try await appliedMigrations(on: $0) }
        let pending = migrations.filter { applied[$0.name] == nil }.map(\.name)
        if !pending.isEmpty {
            throw SchemaError(
                description:
                    "the database schema is too old: \(pending.count) migration(s) not applied (\(pending.joined(separator: ", "))); run `molecule-reconciler migrate`"
            )
        }
        try checkKnown(applied)
    }

    private func apply(on connection: PostgresConnection) async throws -> [String] {
        try await connection.execute(
            script: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name        text        PRIMARY KEY,
                    checksum    text        NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )
                """)
        let applied = try await appliedMigrations(on: connection)
        try checkKnown(applied)
        var names: [String] = []
        for migration in migrations where applied[migration.name] == nil {
            try await connection.transaction { connection in
                try await connection.query(
                    "SELECT set_config('molecule.role_prefix', $1, true)", [rolePrefix ?? Self.defaultRolePrefix])
                try await connection.execute(script: migration.sql)
                try await connection.query(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    [migration.name, Self.checksum(migration.sql)])
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
            names.append(migration.name)
        }
        try await checkRolePrefix(on: connection)
        return names
    }

    /// Roles are created once, by the migration that introduced them: a later `migrate` asked for
    /// another prefix would silently keep the old one, so it is refused instead.
    private func checkRolePrefix(on connection: PostgresConnection) async throws {
        guard let rolePrefix else { return }
        let exists = try await connection.query("SELECT to_regclass('molecule_roles') IS NOT NULL AS present")
        guard try exists.rows[0].require(Bool.self, "present") else { return }
        let rows = try await connection.query("SELECT name FROM molecule_roles WHERE role = 'reconciler'").rows
        guard let name = try rows.first?.require(String.self, "name"), name != rolePrefix + "reconciler" else { return }
        throw SchemaError(
            description:
                "--role-prefix: this database's roles were created with another prefix (its reconciler role is \(name)); roles are created once, by the first migrate"
        )
    }

    private func appliedMigrations(on connection: PostgresConnection) async throws -> [String: String] {
        let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists.rows[0].require(Bool.self, "present") else { return [:] }
        let rows = try await connection.query("SELECT name, checksum FROM schema_migrations").rows
        var applied: [String: String] = [:]
        for row in rows { applied[try row.require(String.self, "name")] = try row.require(String.self, "checksum") }
        return applied
    }

    private func checkKnown(_ applied: [String: String]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0) })
        for (name, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[name] else {
                throw SchemaError(
                    description:
                        "the database schema is newer than this binary: it has migration \(name), which this binary does not know; upgrade molecule-reconciler"
                )
            }
            if Self.checksum(migration.sql) != checksum {
                throw SchemaError(description: "migration \(name) was edited after it was applied; add a new migration instead")
            }
        }
    }

    /// FNV-1a over the file's bytes: enough to notice an edited migration.
    static func checksum(_ sql: String) -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100000001b3
        }
        return String(hash, radix: 16)
    }
}
