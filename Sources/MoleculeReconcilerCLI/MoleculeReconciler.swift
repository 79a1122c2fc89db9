import ArgumentParser
import EmbeddedPostgres
import Foundation
import LogEscaping
import Logging

@main
struct MoleculeReconciler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "molecule-reconciler",
        abstract: "Keeps an agent-workspace platform converged: desired state in PostgreSQL, level-triggered controllers.",
        subcommands: [Run.self, Tick.self, Migrate.self, Status.self],
        defaultSubcommand: Run.self)
}

/// Options every subcommand shares: where the database is, and how much to log.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long, help: "libpq URL or conninfo (default: $DATABASE_URL, then libpq's PG* variables, then an embedded server).")
    var databaseURL: String?

    @Flag(name: .long, help: "Use the embedded PostgreSQL even if a database is configured.")
    var embedded = false

    @Option(name: .long, help: "Directory of the embedded PostgreSQL (default: $TMPDIR/molecule-reconciler).")
    var embeddedDir: String?

    @Option(
        name: .long,
        help:
            "Where the local providers keep their state: staged bundles (0700/0600), instance records (default: $TMPDIR/molecule-reconciler/state)."
    )
    var stateDir: String?

    @Option(name: .long, help: "The molecule-workspace-runtime binary the local instances run (default: beside this binary).")
    var runtimeExecutable: String?

    @OptionGroup var isolation: IsolationOptions

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    var stateDirectory: String {
        stateDir ?? (EmbeddedPostgres.defaultBaseDirectory as NSString).appendingPathComponent("state")
    }

    var runtimeExecutablePath: String {
        runtimeExecutable
            ?? (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0]))
            .deletingLastPathComponent().appendingPathComponent("molecule-workspace-runtime").path
    }

    /// Logs go to standard error, one event per line: control characters in messages and
    /// metadata (values read from rows, errors quoting them) are escaped, so none can forge a line.
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = EscapingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
