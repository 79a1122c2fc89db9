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
        } catch let error as PrivilegeCheck.MissingPrivileges {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch let error as ProviderSetupError {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch let error as EmbeddedPostgres.Failure {
            printError("error: embedded PostgreSQL: \(error)")
            throw ExitCode.failure
        } catch let error as Message {
            printError("error: \(error.text)")
            throw ExitCode(error.exitCode)
        }
    }

    /// A failure the command explains itself (a workspace not found, a wait that timed out).
    struct Message: Error {
        var text: String
        var exitCode: Int32 = 1
    }

    /// Writes to standard output unbuffered: `-w` and `wait` print as things happen, piped or not.
    static func emit(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
