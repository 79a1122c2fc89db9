import ArgumentParser
import EmbeddedPostgres
import Foundation
import Postgres
import Providers
import ReconcileStore

/// Turns the errors people meet (unreachable database, old schema, a provider setting that cannot work) into one clear line and
/// exit code 1, instead of a stack of Swift error dumps.
enum CommandFailure {
    static func report(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as PostgresError {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch let error as Migrator.SchemaError {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch let error as ProviderSetupError {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch let error as EmbeddedPostgres.Failure {
            printError("error: embedded PostgreSQL: \(error)")
            throw ExitCode.failure
        }
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
