import ArgumentParser
import Logging
import Postgres
import ReconcileStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the schema migrations that are missing (a no-op when up to date).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        let logger = Logger(label: "molecule-reconciler")
        try await CommandFailure.report {
            let target = try await DatabaseTarget.resolve(global, logger: logger)
            defer { target.finish() }
            let pool = PostgresPool(configuration: target.configuration, size: 1)
            let applied = try await Migrator(pool: pool, logger: logger).migrate()
            print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}
