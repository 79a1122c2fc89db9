import BenchSupport
import Foundation
import Logging

/// The benchmark's sequence, and its printed figures: the workspace fleet's cold start and
/// re-examination (1), a converged full pass of its controllers (for 4), its org-wide secret
/// rotation (2), the tenants' platform-path change and converged pass (3, 4), peak memory (5).
struct FleetRun {
    let bench: FleetBench
    let world: FleetWorld
    let instruments: PhaseMeter.Instruments
    let heartbeats: HeartbeatPlayer
    let providers: BenchController.FakeProviders
    let instances: BenchController
    let bundles: BenchController
    let ingress: BenchController
    let logger: Logger

    private var timeout: Duration { .seconds(bench.timeout) }

    func run() async throws {
        var statements: [(phase: String, report: PhaseReport)] = []
        var passes: [ConvergedPass] = []
        if bench.workspaces > 0 {
            try await workspaceFigures(statements: &statements, passes: &passes)
        } else {
            print("1. cold start: skipped (--workspaces 0)\n2. org-wide secret rotation: skipped (--workspaces 0)")
        }
        if bench.tenants > 0 {
            try await ingressFigures(statements: &statements, passes: &passes)
        } else {
            print("3. platform path: skipped (--tenants 0)")
        }
        printStatementFigure(statements, passes)
        print(
            "5. peak resident memory of this process (controllers, fakes, bench): "
                + "\(fixed(Double(CPUUsage.peakRSSKilobytes()) / 1024, 1)) MB")
    }

    private func workspaceFigures(statements: inout [(phase: String, report: PhaseReport)], passes: inout [ConvergedPass])
        async throws
    {
        let n = bench.workspaces
        let phases = WorkspacePhases(
            world: world, workspaces: n, instances: instances, bundles: bundles, instruments: instruments,
            timeout: timeout)
        var hosts = [
            try await RunningHost.start(bundles, logger: logger), try await RunningHost.start(instances, logger: logger),
        ]
        heartbeats.start()

        let cold = try await phases.coldStart()
        let coldRate = cold.report.rate(instances.name)
        let sent = heartbeats.sent
        print(
            "1. cold start: "
                + (cold.reached
                    ? "\(n) workspaces phase = running in \(seconds(cold.report.seconds))"
                    : "NOT REACHED within \(bench.timeout) s: \(cold.progress) of \(n) running")
                + "; instances controller \(fixed(coldRate, 0)) workspace reconciles/s "
                + "\(Target.atLeast(coldRate, 5_000, "/s with 4 workers").verdict)")
        printDetails(
            [
                "\(fixed(Double(n) / cold.report.seconds, 0)) workspaces/s; the platform sent \(sent.statements) heartbeat "
                    + "statements writing \(sent.rows) rows; FakeCloud launched \(await providers.cloud.launches) instances, "
                    + "FakeSecretStore took \(await providers.secrets.puts) puts"
            ] + cold.report.details())
        statements.append(("cold start", cold.report))

        let again = try await phases.reexamine()
        let againRate = again.report.rate(instances.name)
        print(
            "1b. the sidecar re-examining the running fleet (every instances key bumped at once, nothing to do): "
                + (again.reached ? "\(n) keys in \(seconds(again.report.seconds))" : "NOT REACHED: \(again.progress) of \(n)")
                + " = \(fixed(againRate, 0)) instances reconciles/s \(Target.atLeast(againRate, 5_000, "/s with 4 workers").verdict)"
        )
        printDetails(again.report.details())
        statements.append(("re-examination", again.report))

        for host in hosts { try await host.stop() }
        passes.append(try await ConvergedPass.run(instances, world: world, instruments, logger: logger))
        passes.append(try await ConvergedPass.run(bundles, world: world, instruments, logger: logger))
        hosts = [
            try await RunningHost.start(bundles, fullResyncAtStart: false, logger: logger),
            try await RunningHost.start(instances, fullResyncAtStart: false, logger: logger),
        ]

        let rotation = try await phases.orgRotation()
        let outcome = rotation.outcome
        print(
            "2. org-wide secret rotation over \(n) workspaces: "
                + (outcome.reached
                    ? "every bundle restaged and every restart decided in \(seconds(outcome.report.seconds))"
                    : "NOT REACHED within \(bench.timeout) s: \(rotation.staged) restaged, \(rotation.decided) decided")
                + " \(Target.atMost(outcome.reached ? outcome.report.seconds : .infinity, 10, " s for 10,000").verdict)")
        let decisions = rotation.decisions
        printDetails(
            [
                "predicate: \(FleetWorld.rotationPredicate)",
                "every bundle restaged after " + (rotation.allStagedAfter.map(seconds) ?? "(not within the timeout)"),
                "decided: \(decisions.restarted) restarted (target generation moved), \(decisions.waiting) waiting with a "
                    + "persisted next look (10 s debounce, then the RestartPacer's 1 per 5 s after a burst of 5), "
                    + "\(decisions.restartPending) restart_pending, \(decisions.converged) converged without a restart",
                "(hosts restarted after the converged pass of figure 4, with the start-up full resync off)",
            ]
                + outcome.report.details())
        statements.append(("rotation", outcome.report))
        for host in hosts { try await host.stop() }
        await heartbeats.stop()
    }

    private func ingressFigures(statements: inout [(phase: String, report: PhaseReport)], passes: inout [ConvergedPass])
        async throws
    {
        let phases = IngressPhases(
            world: world, tenants: bench.tenants, tunnels: bench.tunnels, ingress: ingress, instruments: instruments,
            timeout: timeout)
        let host = try await RunningHost.start(ingress, logger: logger)
        let initial = try await phases.initialApply()
        let change = try await phases.platformPathChange()
        try await host.stop()
        let t = bench.tenants
        let tunnels = min(bench.tunnels, t)
        print(
            "3. one platform_paths insert → "
                + (change.reached
                    ? "\(t) tenants' ingress applied in \(seconds(change.report.seconds))"
                    : "NOT REACHED within \(bench.timeout) s: \(change.progress) of \(t) tenants")
                + " \(Target.atMost(change.reached ? change.report.seconds : .infinity, 2, " s for 1,000 tenants").verdict)")
        printDetails(
            [
                "predicate: \(FleetWorld.pathPredicate)",
                "\(t) tenants on \(tunnels) shared tunnels (~\(t / tunnels) per tunnel); their first apply (tenants inserted in one statement) took "
                    + (initial.reached ? seconds(initial.report.seconds) : "more than \(bench.timeout) s")
                    + "; FakeTunnels served \(await providers.tunnels.reads) reads and \(await providers.tunnels.writes) writes in all",
            ]
                + change.report.details())
        statements.append(("platform path", change.report))
        passes.append(try await ConvergedPass.run(ingress, world: world, instruments, logger: logger))
    }

    private func printStatementFigure(_ statements: [(phase: String, report: PhaseReport)], _ passes: [ConvergedPass]) {
        print("4. SQL statements per reconcile (pg_stat_statements, top-level statements, each controller under its own role):")
        let phases = statements.map { phase, report in
            "\(phase): "
                + report.order.map { "\($0) \(report.statementsPerReconcile($0).map { fixed($0, 2) } ?? "n/a")" }
                .joined(separator: ", ")
        }
        printDetails([phases.joined(separator: "; ")])
        for pass in passes {
            let verdict = pass.statementsPerReconcile.map { Target.atMost($0, 3, " round trips").verdict } ?? ""
            printDetails(
                ["converged full pass (TickDriver.tick(full: true)), \(pass.line) \(verdict)"]
                    + pass.report.details().filter {
                        $0.hasPrefix("top") || $0.hasPrefix("CPU:") || $0.contains("sessions active")
                    }.map { "  " + $0 })
        }
    }
}
