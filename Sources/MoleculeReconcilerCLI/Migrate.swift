import ArgumentParser
import Logging
import Postgres
import ReconcileStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema migrations that are missing (a no-op when up to date).")

    @OptionGroup var global: GlobalOptions

    @Option(
        help:
            "Prefix of the database roles the first migrate creates (<prefix>reconciler, operator, platform, viewer; default molecule_); one per database on a shared cluster."
    )
    var rolePrefix: String?

    func run() async throws {
        try await global.withDatabase(poolSize: 1, schema: .none) { pool, _, logger in
            let applied = try await Migrator(pool: pool, rolePrefix: rolePrefix, logger: logger).migrate()
            print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}
