import Foundation
import Postgres
import Testing

extension RuntimeFaultTests {
    /// Issue 8's chaos: three replicas on one database and one state directory, one of them
    /// SIGKILLed every 2-4 s and replaced, while desired state changes every ~2 s. Afterwards the
    /// world must be converged, nothing doubled, orphaned or lost, and a tick must find nothing
    /// to do. `CHAOS_SECONDS` sets how long the chaos lasts (default 60; `scripts/chaos` runs longer).
    @Suite("chaos")
    struct ChaosTests {
        static let seconds = ProcessInfo.processInfo.environment["CHAOS_SECONDS"].flatMap(Double.init) ?? 60

        @Test("replicas killed at random while desired state changes: converged soon after, nothing doubled, orphaned or lost")
        func replicasKilledWhileDesiredStateChanges() async throws {
            let fleet = try await LiveFleet.create("chaos")
            let census = RuntimeCensus(stateDir: fleet.stateDir, interval: .milliseconds(150))
            defer {
                census.stop()
                fleet.tearDown()
            }
            var world = DesiredWorld(fleet: fleet)
            for index in 0..<10 { try await world.addWorkspace("w\(index)", kind: index == 0 ? "platform" : "agent") }
            for _ in 0..<3 { try fleet.startReplica() }
            try await fleet.expectRunning(Set(world.workspaces.keys), seconds: 120)

            // The chaos: pacing is the loop's own, the only fixed sleeps of these tests.
            let clock = ContinuousClock()
            let end = clock.now + .seconds(Self.seconds)
            var nextKill = clock.now + .seconds(Double.random(in: 2...4))
            var nextChange = clock.now + .seconds(Double.random(in: 1.5...2.5))
            var lastKill = clock.now
            var (kills, changes, replicasDeadBeforeTheirKill) = (0, 0, 0)
            while nextKill < end || nextChange < end {
                try await Task.sleep(until: min(nextKill, nextChange), clock: clock)
                if clock.now >= nextKill, nextKill < end {
                    let victim = fleet.replicas.randomElement()!
                    if !victim.isRunning { replicasDeadBeforeTheirKill += 1 }
                    fleet.kill(victim)
                    lastKill = clock.now
                    kills += 1
                    try fleet.startReplica()
                    nextKill = clock.now + .seconds(Double.random(in: 2...4))
                }
                if clock.now >= nextChange, nextChange < end {
                    try await world.changeAtRandom()
                    changes += 1
                    nextChange = clock.now + .seconds(Double.random(in: 1.5...2.5))
                }
            }

            // Converged when a check that started within 30 s of the last kill finds nothing wrong.
            // A replica killed mid-reconcile keeps that key's lease until it expires (30 s after
            // it was taken), and the key converges only then: when the killed replicas' leases
            // outlive 20 s after the last kill, the bound is 10 s after the last of them expires.
            let kept = try await fleet.leaseTimeKeptByKilledReplicas()
            let keptUntil = String(format: "%.1f", (clock.now - lastKill + kept).inSeconds)
            let leasesKept = kept == .zero ? "none kept" : "kept until +\(keptUntil) s"
            let bound = max(.seconds(30), clock.now - lastKill + kept + .seconds(10))
            var problems: [String] = []
            var timeline: [String] = []
            var convergedAfter = Duration.zero
            let converged = try await eventually(max(0, (lastKill + bound - clock.now).inSeconds), every: .milliseconds(250)) {
                let started = clock.now
                let found = try await world.problems()
                if found != problems { timeline.append("+\(String(format: "%.1f", (started - lastKill).inSeconds)) s: \(found)") }
                problems = found
                convergedAfter = started - lastKill
                return problems.isEmpty && convergedAfter <= bound
            }
            if convergedAfter > .seconds(15) {
                print("chaos: what was not converged after the last kill:\n" + timeline.joined(separator: "\n"))
            }
            census.stop()
            let findings = census.snapshot
            print(
                """
                chaos: \(Int(Self.seconds)) s, \(kills) replica kills, \(changes) desired changes (\(world.tally)); \
                converged \(String(format: "%.1f", convergedAfter.inSeconds)) s after the last kill \
                (killed replicas' leases: \(leasesKept)); \
                at most \(findings.mostPerWorkspace) runtime(s) per workspace in \(findings.samples) samples of /proc
                """)
            #expect(converged, "not converged \(bound) after the last kill: \(problems)")
            #expect(findings.mostPerWorkspace == 1, "two runtimes for one workspace: \(findings.doubles.prefix(10))")
            #expect(replicasDeadBeforeTheirKill == 0, "replicas exited by themselves")
            #expect(kills >= Int(Self.seconds / 4) - 1)

            // A converged world stays converged for a tick of its own.
            fleet.stopReplicas()
            let check = try fleet.tick(["--check-idempotent"])
            #expect(check.status == 0, "\(check.output)")
        }
    }
}
