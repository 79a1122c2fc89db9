import ArgumentParser
import Foundation
import LogEscaping
import Logging
import Postgres
import ReconcileStore
import WorkspaceStore

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what is not converged, and why.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print as JSON.")
    var json = false

    @Option(help: "At most this many keys per controller.")
    var limit = 50

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
        var controllers: [Table]
        /// Whether local runtimes run as users of their own, as this user and these options
        /// would start them (`RuntimeIsolation.summary`).
        var runtimeIsolation: String
    }

    func run() async throws {
        try await global.withDatabase(poolSize: 1, schema: .verify) { pool, _, _ in
            let isolation = try global.isolation.resolve(stateDirectory: global.stateDirectory)
            var report = Report(controllers: [], runtimeIsolation: isolation.summary)
            for name in Self.tables {
                let store = ControllerStateStore(table: ControllerTable(name), pool: pool)
                let counts = try await store.selectCounts()
                report.controllers.append(
                    .init(
                        controller: name, total: counts.total, unconverged: counts.unconverged,
                        failing: counts.failing, keys: try await store.selectUnconverged(limit: limit)))
            }
            if json {
                print(try Tick.encode(report))
            } else {
                printReport(report)
            }
        }
    }

    private func printReport(_ report: Report) {
        for table in report.controllers {
            let state =
                table.unconverged == 0 && table.failing == 0
                ? "converged" : "\(table.unconverged) not converged, \(table.failing) failing"
            print("\(table.controller): \(table.total) key(s), \(state)")
            for key in table.keys {
                var line = "  \(key.key) generation \(key.observedGeneration)/\(key.desiredGeneration)"
                if key.attempts > 0 { line += ", \(key.attempts) failed attempt(s)" }
                if let next = key.nextAttemptAt {
                    line +=
                        next == .distantFuture
                        ? ", not retried until its spec changes"
                        : ", next attempt \(ISO8601DateFormatter().string(from: next))"
                }
                if let error = key.lastError { line += "\n    last error: \(LogEscape.escape(error))" }
                print(line)
            }
        }
        print("runtime isolation: \(report.runtimeIsolation)")
    }
}
