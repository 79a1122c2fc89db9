import ArgumentParser
import EmbeddedPostgres
import Foundation
import LogEscaping
import Logging
import ReconcileStore

@main
struct MoleculeReconciler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "molecule-reconciler",
        abstract: "Keeps an agent-workspace platform converged: desired state in PostgreSQL, level-triggered controllers.",
        version: version,
        subcommands: [
            Run.self, Tick.self, Migrate.self, Status.self, Get.self, Describe.self, Explain.self, Wait.self, Demo.self,
        ],
        defaultSubcommand: Run.self)

    /// This binary's version, and the schema version (newest migration) it needs.
    static let release = "0.1.0"
    static var version: String {
        "molecule-reconciler \(release) (schema \((try? Migrator.requiredSchema()) ?? "unknown"))"
    }

    /// A first argument that is a word but no subcommand is a mistyped command: say so, rather
    /// than handing it to `run` (the default) as an unexpected argument.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), first != "help" {
            let names = configuration.subcommands.map { $0._commandName }
            if !names.contains(first) {
                let closest = names.min { distance($0, first) < distance($1, first) } ?? "run"
                FileHandle.standardError.write(
                    Data(
                        "error: unknown command '\(first)'\(distance(closest, first) <= 2 ? "; did you mean '\(closest)'?" : "")\nthe commands: \(names.joined(separator: ", ")); see 'molecule-reconciler --help'\n"
                            .utf8))
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
        }
        await main(arguments)
    }

    /// Edit distance, for the suggestion.
    private static func distance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

/// Options every subcommand shares: where the database is, and how much to log. (What only
/// the commands that run the providers need is in `ProviderOptions` and `StateOptions`, so that each command's
/// help shows only its own options.)
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long, help: "libpq URL or conninfo (default: $DATABASE_URL, then libpq's PG* variables, then an embedded server).")
    var databaseURL: String?

    @Flag(name: .long, help: "Use the embedded PostgreSQL even if a database is configured.")
    var embedded = false

    @Option(
        name: .long,
        help:
            "Directory of the embedded PostgreSQL (default: /var/lib/molecule-reconciler as root, else $XDG_STATE_HOME/molecule-reconciler)."
    )
    var embeddedDir: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @OptionGroup var logFormat: LogFormatOptions

    /// Logs go to standard error, one event per line: control characters in messages and
    /// metadata (values read from rows, errors quoting them) are escaped, so none can forge a line.
    func bootstrapLogging() {
        logFormat.bootstrap(level: logLevel)
    }
}

/// Where the local providers keep their state, and whether local runtimes run as users of
/// their own: for the commands that run controllers (`run`, `tick`, through `ProviderOptions`)
/// or point at their files (`describe`, `status`).
struct StateOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Where the local providers keep their state: staged bundles (0700/0600), instance records (default: <embedded dir>/state)."
    )
    var stateDir: String?

    @OptionGroup var isolation: IsolationOptions

    func stateDirectory(_ global: GlobalOptions) -> String {
        stateDir ?? ((global.embeddedDir ?? EmbeddedPostgres.defaultBaseDirectory) as NSString).appendingPathComponent("state")
    }

}

extension Logger.Level: @retroactive ExpressibleByArgument {}
