import BenchSupport
import Foundation

/// Measures one phase of the benchmark: wall time, CPU of this process and of the server, each
/// controller's reconciles, and each controller's statements (`pg_stat_statements` is reset
/// when the phase begins).
struct PhaseMeter {
    /// What every phase is measured with.
    struct Instruments {
        let stats: StatementStats
        let logs: LogTally
        let waits: WaitSampler
        let postmaster: Int32?
        /// Statements listed per phase.
        let top: Int
    }

    let controllers: [BenchController]
    let instruments: Instruments
    private let started: ContinuousClock.Instant
    private let cpu: CPUUsage
    private let counts: [String: Tally.Counts]
    private let logs: [String: Int]
    private let deadlocks: Int64
    private let functions: [String: FunctionTime]
    private let waits: WaitSampler.Samples

    static func begin(_ controllers: [BenchController], _ instruments: Instruments) async throws -> PhaseMeter {
        try await instruments.stats.reset()
        return PhaseMeter(
            controllers: controllers, instruments: instruments,
            deadlocks: try await instruments.stats.deadlocks(), functions: try await instruments.stats.functions())
    }

    private init(controllers: [BenchController], instruments: Instruments, deadlocks: Int64, functions: [String: FunctionTime]) {
        self.controllers = controllers
        self.instruments = instruments
        self.deadlocks = deadlocks
        self.functions = functions
        logs = instruments.logs.snapshot
        waits = instruments.waits.snapshot
        counts = Dictionary(uniqueKeysWithValues: controllers.map { ($0.name, $0.tally.counts) })
        cpu = CPUUsage.now(postmaster: instruments.postmaster)
        started = .now
    }

    var elapsed: Double { (ContinuousClock.now - started).secondsValue }

    func end() async throws -> PhaseReport {
        let seconds = elapsed
        let cpu = CPUUsage.now(postmaster: instruments.postmaster) - self.cpu
        let stats = instruments.stats
        let perRole = try await stats.perRole()
        var report = PhaseReport(
            seconds: seconds, cpu: cpu,
            top: try await stats.top(instruments.top, nested: false) + stats.top(instruments.top, nested: true))
        let functions = try await stats.functions()
        report.functions = functions.compactMap { name, time in
            let delta = time - (self.functions[name] ?? .init())
            return delta.calls > 0 ? (name, delta) : nil
        }.sorted { $0.1.selfMS > $1.1.selfMS }.prefix(instruments.top).map { $0 }
        report.logs = instruments.logs.since(logs)
        report.waits = WaitSampler.averages(from: waits, to: instruments.waits.snapshot)
        report.deadlocks = try await stats.deadlocks() - deadlocks
        for controller in controllers {
            report.reconciles[controller.name] = controller.tally.counts - counts[controller.name]!
            report.statements[controller.name] = perRole[controller.role] ?? .init()
        }
        report.order = controllers.map(\.name)
        return report
    }
}

/// What a phase measured.
struct PhaseReport {
    var seconds: Double
    var cpu: CPUUsage
    var top: [StatementStats.Top]
    var reconciles: [String: Tally.Counts] = [:]
    var statements: [String: StatementStats.PerRole] = [:]
    var order: [String] = []
    /// Warnings and errors the hosts logged, by message.
    var logs: [String: Int] = [:]
    /// Deadlocks the server detected (and broke by failing one statement).
    var deadlocks: Int64 = 0
    /// Per controller role, how many of its sessions were on average in each state (running,
    /// or waiting on a lock, WAL, I/O...).
    var waits: [(role: String, states: [(String, Double)])] = []
    /// The functions with the most time of their own (triggers included), most first.
    var functions: [(String, FunctionTime)] = []

    func rate(_ controller: String) -> Double {
        Double(reconciles[controller]?.reconciles ?? 0) / max(seconds, 1e-9)
    }

    func statementsPerReconcile(_ controller: String) -> Double? {
        guard let count = reconciles[controller]?.reconciles, count > 0, let calls = statements[controller]?.calls else {
            return nil
        }
        return Double(calls) / Double(count)
    }

    /// The indented detail lines: per controller, its reconciles by outcome and statements; the
    /// CPU split; the statements with the most server time.
    func details() -> [String] {
        var lines: [String] = []
        for name in order {
            let counts = reconciles[name] ?? .init()
            let statements = statements[name] ?? .init()
            var line =
                "\(name): \(counts.reconciles) reconciles (\(fixed(rate(name), 0))/s; done \(counts.done), "
                + "watch \(counts.watch), requeue \(counts.requeue), failed \(counts.failed)), \(statements.calls) statements"
            if let perReconcile = statementsPerReconcile(name) { line += " = \(fixed(perReconcile, 2)) per reconcile" }
            line += "; server time \(fixed(statements.executionMS, 0)) ms exec + \(fixed(statements.planningMS, 0)) ms plan"
            lines.append(line)
            if let failure = counts.firstFailure { lines.append("  first failure: \(failure.prefix(200))") }
        }
        if deadlocks > 0 || !logs.isEmpty {
            let logged = logs.sorted { $0.key < $1.key }.map { "\"\($0.key)\" ×\($0.value)" }.joined(separator: ", ")
            lines.append(
                "deadlocks detected by the server: \(deadlocks); host warnings and errors: \(logged.isEmpty ? "none" : logged)")
        }
        for (role, states) in waits {
            lines.append(
                "\(role) sessions active on average (sampled every 50 ms): "
                    + states.prefix(5).map { "\($0.0) \(fixed($0.1, 2))" }.joined(separator: ", "))
        }
        lines.append(
            "CPU: this process \(fixed(cpu.process, 1)) s, PostgreSQL \(fixed(cpu.server, 1)) s, "
                + "over \(fixed(seconds, 2)) s of wall time")
        for statement in top {
            let each = (statement.executionMS + statement.planningMS) / Double(max(1, statement.calls))
            lines.append(
                "top\(statement.nested ? " nested" : ""): \(statement.role) \(statement.calls) calls, \(fixed(statement.executionMS, 0)) ms exec + "
                    + "\(fixed(statement.planningMS, 0)) ms plan (\(fixed(each, 3)) ms each): \(statement.query)")
        }
        for (name, time) in functions {
            lines.append(
                "top function (all sessions): \(name) \(time.calls) calls, \(fixed(time.selfMS, 0)) ms self, \(fixed(time.totalMS, 0)) ms total"
            )
        }
        return lines
    }
}
