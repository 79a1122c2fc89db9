import ArgumentParser
import EmbeddedPostgres
import Foundation
import Logging

/// `run` on a world of its own, to try the commands: an embedded PostgreSQL in the demo's own
/// directory (never the one `run` uses), the example fleet loaded, the local providers, and the
/// commands to try printed with the flags that point them at it. SIGTERM/SIGINT stop the
/// controllers gracefully, then the demo's runtimes and its PostgreSQL; the directory stays.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Try it: the example fleet on an embedded PostgreSQL of its own; prints the commands to try.",
        discussion:
            "Runs the sidecar (`run`) with the local providers on its own directory, loads manifests/example/fleet.sql into its empty database, and prints the commands (get, describe, explain, wait, status) with the flags that reach it. Ctrl-C ends it: the controllers stop, then the demo's workspace runtimes and its PostgreSQL. A second demo on the same directory goes on from where the first stopped; delete the directory for a fresh one."
    )

    @Option(
        help:
            "The demo's directory: its PostgreSQL and its state (default: $XDG_STATE_HOME/molecule-reconciler-demo, /var/lib/molecule-reconciler-demo as root)."
    )
    var dir: String?

    @Option(help: "Address of the health and metrics endpoints.")
    var httpHost = "127.0.0.1"

    @Option(help: "Port of the health and metrics endpoints.")
    var httpPort = 9090

    @Option(help: "trace, debug, info, notice, warning, error or critical (info: a line for each change the controllers make).")
    var logLevel: Logger.Level = .notice

    @OptionGroup var logFormat: LogFormatOptions

    var directory: String {
        let path = dir ?? (EmbeddedPostgres.defaultBaseDirectory + "-demo")
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    func run() async throws {
        let directory = self.directory
        var arguments = [
            "--embedded", "--embedded-dir", directory, "--example-fleet", "--instances", "local", "--secret-store", "file",
            "--tunnels", "file", "--http-host", httpHost, "--http-port", "\(httpPort)", "--log-level", logLevel.rawValue,
        ]
        if let format = logFormat.logFormat { arguments += ["--log-format", format.rawValue] }
        let sidecar = try Run.parse(arguments)
        try await sidecar.serve(
            started: { target in
                CommandFailure.emit(Self.instructions(directory: directory, target: target, health: "\(httpHost):\(httpPort)"))
            },
            stopped: { controllers, logger in
                // The runtimes outlive `run` by design (the next reconciler adopts them); a demo
                // that ends takes its world with it.
                var stopped = 0
                for record in (try? await controllers.instances.listAll(owner: controllers.owner)) ?? []
                where record.state.isLive {
                    do {
                        try await controllers.instances.terminate(instanceID: record.id)
                        stopped += 1
                    } catch {
                        logger.warning(
                            "could not stop a demo runtime", metadata: ["instance": "\(record.id)", "error": "\(error)"])
                    }
                }
                CommandFailure.emit("demo stopped: \(stopped) workspace runtime(s) and its PostgreSQL; \(directory) stays")
            })
    }

    /// What to try, with the flags that reach this demo's database from another shell.
    static func instructions(directory: String, target: DatabaseTarget, health: String) -> String {
        let program = CommandLine.arguments[0].contains("/") ? shellQuoted(CommandLine.arguments[0]) : "molecule-reconciler"
        // A database configured in the environment wins over --embedded-dir unless --embedded is given.
        let environment = ProcessInfo.processInfo.environment
        let configured = ["DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE", "PGUSER"]
            .contains { environment[$0] != nil }
        let flags = (configured ? "--embedded " : "") + "--embedded-dir \(shellQuoted(directory))"
        let conninfo = target.embedded?.conninfo(database: "molecule") ?? ""
        return """
            molecule-reconciler demo: the example fleet (manifests/example/fleet.sql) on an embedded PostgreSQL in \(directory)
            Its workspaces run within seconds. Health and metrics: http://\(health)/readyz, /metrics
            Try, in another shell:
              \(program) get workspaces \(flags)
              \(program) wait workspace/acme/seo-1 --for condition=Ready --timeout 60s \(flags)
              \(program) describe workspace acme/concierge \(flags)
              \(program) explain acme/research \(flags)
              \(program) get tenants -o wide \(flags)
              \(program) get events -w \(flags)
              \(program) status \(flags)
              psql \(shellQuoted(conninfo))    # edit desired state: README, "How an operator edits desired state"
            Ctrl-C ends the demo: its workspace runtimes and its PostgreSQL stop; \(directory) stays.
            """
    }

    /// `text` as one shell word.
    static func shellQuoted(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:,@".contains($0)) }
        return plain && !text.isEmpty ? text : "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
