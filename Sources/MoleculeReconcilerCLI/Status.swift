import ArgumentParser
import Foundation
import LogEscaping
import Logging
import Postgres
import ReconcileStore
import WorkspaceStore

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the fleet's health; exit non-zero while anything fails or is not converged.",
        discussion:
            "Exit codes: 0 everything converged; 2 something is failing (a workspace failed or with an error, a tenant's ingress or any controller key with a last_error); 3 nothing fails but something is not converged yet; 1 the command itself failed (database unreachable, schema too old). restart_pending is shown, not counted: it waits for an operator by design."
    )

    /// `status`'s exit codes (documented in the README).
    enum Verdict: Int32, Codable {
        case converged = 0
        case failing = 2
        case notConverged = 3
    }

    @Option(name: .shortAndLong, help: "table, json or yaml.")
    var output: OutputFormat = .table

    @Option(help: "At most this many failing objects, and keys per controller.")
    var limit = 50

    @OptionGroup var database: GlobalOptions

    /// Only to say whether runtimes started with these options would be isolated.
    @OptionGroup var providers: StateOptions

    /// Every controller table the schema defines, whether or not its controller runs yet.
    static let tables = ControllerName.allCases.map(\.rawValue)

    struct Report: Codable {
        struct Table: Codable {
            var controller: String
            var total: Int
            var unconverged: Int
            var failing: Int
            var keys: [ControllerStateStore.Unconverged]
        }
        var verdict: Verdict
        var fleet: FleetQueries.Summary
        var controllers: [Table]
        /// The listed keys' names (`workspace/ORG/NAME`, `tenant/NAME`).
        var names: [String: String]
        /// Whether local runtimes run as users of their own, as this user and these options
        /// would start them (`RuntimeIsolation.summary`).
        var runtimeIsolation: String
    }

    func run() async throws {
        try await database.withDatabase(poolSize: 1, schema: .verify) { pool, _, _ in
            let isolation = try providers.isolation.resolve(stateDirectory: providers.stateDirectory(database))
            var controllers: [Report.Table] = []
            for name in Self.tables {
                let store = ControllerStateStore(table: ControllerTable(name), pool: pool)
                let counts = try await store.selectCounts()
                controllers.append(
                    .init(
                        controller: name, total: counts.total, unconverged: counts.unconverged,
                        failing: counts.failing, keys: try await store.selectUnconverged(limit: limit)))
            }
            let queries = FleetQueries(pool: pool)
            let fleet = try await queries.selectSummary(limit: limit)
            let names = try await queries.selectNames(of: Array(Set(controllers.flatMap { $0.keys.map(\.key) })))
            let report = Report(
                verdict: Self.verdict(fleet, controllers), fleet: fleet, controllers: controllers, names: names,
                runtimeIsolation: isolation.summary)
            print(output.isStructured ? try output.encode(report) : Self.render(report))
            if report.verdict != .converged { throw ExitCode(report.verdict.rawValue) }
        }
    }

    static func verdict(_ fleet: FleetQueries.Summary, _ controllers: [Report.Table]) -> Verdict {
        if fleet.failing > 0 || fleet.failingTenants > 0 || controllers.contains(where: { $0.failing > 0 }) { return .failing }
        if fleet.notConverged > 0 || fleet.notConvergedTenants > 0 || controllers.contains(where: { $0.unconverged > 0 }) {
            return .notConverged
        }
        return .converged
    }

    static func render(_ report: Report) -> String {
        let fleet = report.fleet
        let phases = fleet.phases.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var lines = [
            "fleet: \(verdictText(report.verdict))",
            "workspaces: \(fleet.workspaces) (\(phases.isEmpty ? "none" : phases)); not converged \(fleet.notConverged), failing \(fleet.failing), restart_pending \(fleet.restartPending)",
            "tenants: \(fleet.tenants); not converged \(fleet.notConvergedTenants), failing \(fleet.failingTenants)",
        ]
        for failure in fleet.failures {
            lines.append(
                "  failing \(failure.object)\(failure.phase.map { " (\($0))" } ?? ""): \(LogEscape.escape(failure.error))")
        }
        for table in report.controllers {
            let state =
                table.unconverged == 0 && table.failing == 0
                ? "converged" : "\(table.unconverged) not converged, \(table.failing) failing"
            lines.append("\(table.controller): \(table.total) key(s), \(state)")
            for key in table.keys {
                var line = "  \(report.names[key.key] ?? key.key) generation \(key.observedGeneration)/\(key.desiredGeneration)"
                if key.attempts > 0 { line += ", \(key.attempts) failed attempt(s)" }
                if let next = key.nextAttemptAt {
                    line +=
                        next == .distantFuture
                        ? ", not retried until its spec changes"
                        : ", next attempt \(ISO8601DateFormatter().string(from: next))"
                }
                if let error = key.lastError { line += "\n    last error: \(LogEscape.escape(error))" }
                lines.append(line)
            }
        }
        lines.append("runtime isolation: \(report.runtimeIsolation)")
        return lines.joined(separator: "\n")
    }

    private static func verdictText(_ verdict: Verdict) -> String {
        switch verdict {
        case .converged: "converged"
        case .failing: "FAILING"
        case .notConverged: "not converged yet"
        }
    }
}
