import Foundation
import Postgres
import Testing

extension RuntimeFaultTests {
    /// Issue 8: a runtime that stops answering (SIGSTOP: the process lives, its socket accepts,
    /// nothing answers) is `degraded` 10 s and `failed` 30 s after its first unanswered probe,
    /// never later; an `auto` agent is then recreated, a `manual` one is left for the operator.
    @Suite("a hung runtime")
    struct HungRuntimeTests {
        /// When a hung workspace was first seen in a phase, and whether its status agreed then.
        struct Sighting {
            var after: Duration
            var lastError: String?
            var instanceReady: String?

            var agrees: Bool {
                lastError?.hasPrefix("instances: the runtime of instance") == true
                    && lastError?.contains("has not answered") == true
                    && instanceReady == "False"
            }
            var seconds: String { String(format: "%.1f", after.inSeconds) }
        }

        @Test("a hung runtime is degraded, then failed at the thresholds, never later; then recreated (auto) or left (manual)")
        func hungRuntimeIsJudgedAtTheThresholds() async throws {
            let fleet = try await LiveFleet.create("hung")
            let census = RuntimeCensus(stateDir: fleet.stateDir)
            defer {
                // Continues the stopped runtimes, then kills them with all the others.
                census.stop()
                fleet.tearDown()
            }
            // Three healthy workspaces beside the two hung ones keep the failing share (2 of 5)
            // under the circuit breaker's half.
            var ids = try await fleet.addWorkspaces([("auto", "agent", "auto"), ("manual", "agent", "manual")])
            ids.merge(try await fleet.addWorkspaces(["x", "y", "z"].map { ($0, "agent", "auto") })) { $1 }
            try fleet.startReplica()
            try await fleet.expectRunning(Set(ids.values))

            let hung = [ids["auto"]!, ids["manual"]!]
            let runtimes = fleet.runtimes()
            let victims = try hung.map { workspace in try #require(runtimes.first { $0.workspace == workspace }) }
            let generations = try await hung.asyncMap { try await fleet.status(of: $0).targetGeneration }
            let stoppedAt = ContinuousClock.now
            for victim in victims { kill(victim.pid, SIGSTOP) }

            // Every 200 ms: the first time each hung workspace is degraded, then failed.
            var degraded: [String: Sighting] = [:]
            var failed: [String: Sighting] = [:]
            let judged = try await eventually(60, every: .milliseconds(200)) {
                let after = ContinuousClock.now - stoppedAt
                for workspace in hung where failed[workspace] == nil {
                    let status = try await fleet.status(of: workspace)
                    let sighting = Sighting(after: after, lastError: status.lastError, instanceReady: status.instanceReady)
                    if status.phase == "degraded", degraded[workspace] == nil { degraded[workspace] = sighting }
                    if status.phase == "failed" { failed[workspace] = sighting }
                }
                return failed.count == hung.count
            }
            for (name, workspace) in [("auto", hung[0]), ("manual", hung[1])] {
                let (degraded, failed) = (degraded[workspace]?.seconds ?? "-", failed[workspace]?.seconds ?? "-")
                print("hung runtime (\(name)): degraded after \(degraded) s, failed after \(failed) s")
            }
            #expect(judged, "degraded \(degraded), failed \(failed)")

            // Counted from the first unanswered probe, which comes within one watch (3 s) of the
            // stop (this test stops the runtimes right after a watch, so it measures close to
            // that worst case); the verdict is written once the probe that crosses the threshold
            // has timed out (2 s). One second more covers the claims and writes of the watch
            // cycles in between and this test's 200 ms polling.
            for workspace in hung {
                let degraded = try #require(degraded[workspace])
                let failed = try #require(failed[workspace])
                #expect(
                    degraded.after >= .seconds(10) && degraded.after <= .seconds(10 + 3 + 2 + 1),
                    "degraded after \(degraded.seconds) s")
                #expect(
                    failed.after >= .seconds(30) && failed.after <= .seconds(30 + 3 + 2 + 1),
                    "failed after \(failed.seconds) s")
                #expect(degraded.agrees, "at degraded: \(degraded)")
                #expect(failed.agrees, "at failed: \(failed)")
            }

            // The auto agent is recreated as a new generation once its failure is recorded: the
            // stopped process is terminated (SIGTERM waits 5 s on it, then SIGKILL) and the next
            // generation runs.
            let auto = victims[0]
            var recreatedAfter: Duration?
            let recreated = try await eventually(60) {
                let current = fleet.runtimes().filter { $0.workspace == auto.workspace }
                let status = try await fleet.status(of: auto.workspace)
                guard current.count == 1, current[0].pid != auto.pid, current[0].generation > auto.generation,
                    status.phase == "running", status.instanceGeneration == current[0].generation
                else { return false }
                recreatedAfter = ContinuousClock.now - stoppedAt
                return true
            }
            let recreatedSeconds = String(format: "%.1f", recreatedAfter?.inSeconds ?? -1)
            print("hung runtime (auto): recreated, running again after \(recreatedSeconds) s")
            let autoStatus = try await fleet.status(of: auto.workspace)
            #expect(recreated, "status \(autoStatus), runtimes \(fleet.runtimes())")
            let remediating = try await fleet.pool.query(
                """
                SELECT key::text AS key FROM events WHERE controller = 'instances' AND reason = 'Remediating'
                """
            ).rows.map { try $0.require(String.self, "key") }
            #expect(remediating == [auto.workspace])

            // The manual agent stays failed, with its stopped process and its generation, for 10 s
            // more after the auto agent came back (twice as long in all as the auto agent took
            // from failed to running): surfaced, left for the operator.
            let manual = victims[1]
            let settled = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < settled {
                let status = try await fleet.status(of: manual.workspace)
                #expect(status.phase == "failed" && status.lastError != nil && status.instanceReady == "False", "\(status)")
                #expect(status.targetGeneration == generations[1])
                #expect(fleet.runtimes().filter { $0.workspace == manual.workspace } == [manual])
                try await Task.sleep(for: .milliseconds(500))
            }
            census.stop()
            #expect(census.snapshot.mostPerWorkspace == 1, "\(census.snapshot.doubles)")
        }
    }
}
