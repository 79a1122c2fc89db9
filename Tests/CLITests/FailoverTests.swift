import Foundation
import Postgres
import PostgresTestSupport
import Testing

extension RuntimeFaultTests {
    /// Issue 16: a primary and a streaming standby, two `run` replicas reaching them through one
    /// host list with `target_session_attrs=read-write`, and the failovers an HA cluster has:
    /// the primary killed (synchronous replication), a planned switchover, an asynchronous
    /// failover that loses a tail the replicas had acted on, and a hung primary. Each prints its
    /// figures (`scripts/failover` repeats them).
    ///
    /// The issue's targets (5 s, 10 s) are what `scripts/failover` holds each run to: it sets
    /// `MOLECULE_FAILOVER_TARGETS`, to be run on a quiet machine. In the test suite, which runs
    /// beside other servers on two cores, the same assertions allow a loaded machine's margin
    /// (`bound`): they still fail a replica that does not follow, wedges or never converges.
    @Suite("failover")
    struct FailoverTests {
        static let holdsTargets = ProcessInfo.processInfo.environment["MOLECULE_FAILOVER_TARGETS"] != nil

        /// The target under `scripts/failover`, three times it (and at least 15 s) otherwise.
        static func bound(_ target: Duration) -> Duration { holdsTargets ? target : max(target * 3, .seconds(15)) }

        @Test("synchronous replication, primary killed, standby promoted: followed, a later change reconciled")
        func synchronousFailover() async throws {
            try await failover(mode: "sync-failover", synchronous: true) { cluster in cluster.kill(cluster.first) }
        }

        @Test("planned switchover (fast stop, promote): followed, a later change reconciled")
        func plannedSwitchover() async throws {
            try await failover(mode: "switchover", synchronous: true) { cluster in try cluster.stopFast(cluster.first) }
        }

        /// The old primary goes away, the standby is promoted; then a change on the new primary
        /// (a secret of the platform workspace, which is never restarted for it) must be
        /// reconciled within 5 s and the whole fleet converged within 10 s of the promotion.
        private func failover(
            mode: String, synchronous: Bool,
            _ stopPrimary: (ReplicatedCluster) throws -> Void
        ) async throws {
            var setup = try await FailoverFleet.converged(mode, synchronous: synchronous)
            defer { setup.tearDown() }
            try stopPrimary(setup.cluster)
            try setup.cluster.promote(setup.cluster.second)
            let promoted = ContinuousClock.now
            let platform = setup.world.workspaces.values.first { $0.kind == "platform" }!.id
            try await retryingThroughFailover { try await setup.world.rotateSecret(platform) }
            let changed = ContinuousClock.now
            let world = setup.world
            let (converged, problems) = try await setup.converged(world, since: changed, seconds: 30)
            let fleetConverged = converged.map { $0 + (changed - promoted) }
            var ready: Duration?
            _ = try await eventually(10, every: .milliseconds(100)) {
                guard await setup.readiness().allSatisfy({ $0.status == 200 }) else { return false }
                ready = ContinuousClock.now - promoted
                return true
            }
            setup.census.stop()
            let findings = setup.census.snapshot
            print(
                """
                failover \(mode): change after promotion reconciled \(figure(converged)), \
                fleet converged \(figure(fleetConverged)) after the promotion, replicas ready \(figure(ready)); \
                at most \(findings.mostPerWorkspace) runtime(s) per workspace
                """)
            #expect(converged != nil, "not converged: \(problems)")
            #expect(
                (converged ?? .seconds(99)) <= Self.bound(.seconds(5)), "a change after the promotion took \(figure(converged))")
            #expect((fleetConverged ?? .seconds(99)) <= Self.bound(.seconds(10)), "the fleet took \(figure(fleetConverged))")
            #expect(findings.mostPerWorkspace == 1, "two runtimes for one workspace: \(findings.doubles.prefix(5))")
        }

        /// The primary's walsender is stopped, so what follows reaches the replicas but not the
        /// standby: a secret rotation of an agent (its bundle restaged, its runtime restarted)
        /// and of a platform workspace (its bundle restaged only), and a new workspace (its
        /// runtime launched). The primary is killed and the standby promoted: none of it happened
        /// there. Only the response to the new timeline brings all of it back within 30 s: the
        /// replicas sweep for orphans every 10 minutes here, so the new workspace's runtime (no
        /// row names it) is destroyed by the sweep that response runs, and the periodic full
        /// resync is 10 minutes away. (Without that response the agent's runtime is still found
        /// by its own 3 s watch, and the platform's bundle by the replica that lost the race for
        /// its lease at the fleet's first staging and looks again when that 30 s lease expires,
        /// 12–17 s after the promotion; the orphan stays.)
        @Test("asynchronous failover with a lost tail: the world is brought back to the new primary")
        func asynchronousFailoverWithLostTail() async throws {
            var setup = try await FailoverFleet.converged("lost-tail", synchronous: false, sweepInterval: 600)
            defer { setup.tearDown() }
            let cluster = setup.cluster
            let before = setup.world
            let agent = before.workspaces.values.first { $0.kind == "agent" }!.id
            let generation = try await setup.fleet.status(of: agent).targetGeneration
            let walsenders = cluster.walsenders(of: cluster.first)
            #expect(!walsenders.isEmpty, "the primary has no walsender")
            for pid in walsenders { kill(pid, SIGSTOP) }

            // An agent's rotation restarts its runtime (after a debounce); a platform workspace's
            // only restages its bundle (it says restart_pending): nothing but a look at converged
            // rows finds that one. A workspace created now gets a runtime the new primary never
            // hears of: an orphan for the sweep.
            let platform = before.workspaces.values.first { $0.kind == "platform" }!.id
            try await setup.world.rotateSecret(agent)
            try await setup.world.rotateSecret(platform)
            try await setup.world.addWorkspace("lost")
            let world = setup.world
            let lost = Set(world.workspaces.keys).subtracting(before.workspaces.keys).first!
            let staged = try await eventually(15) {
                try [agent, platform, lost].allSatisfy { id in
                    (try world.stagedBundle(of: id)?["env"] as? [String: String])?["API_KEY"] == world.workspaces[id]!.secret
                }
            }
            #expect(staged, "the replicas never staged the rotation")
            // The restart the rotation asks for (after its 10 s debounce) and the new
            // workspace's runtime: acted on, then lost.
            let restarted = try await eventually(20) {
                let runtimes = setup.fleet.runtimes()
                return runtimes.contains { $0.workspace == agent && $0.generation > generation }
                    && runtimes.contains { $0.workspace == lost }
            }
            #expect(restarted, "the replicas never restarted the agent or launched the new workspace")

            cluster.kill(cluster.first)
            try cluster.promote(cluster.second)
            let promoted = ContinuousClock.now
            let (back, problems) = try await setup.converged(before, since: promoted, seconds: 30)
            for id in [agent, platform] {
                let held = try await setup.secret(of: id)
                #expect(held == before.workspaces[id]!.secret, "the rotation was not lost: the test proves nothing")
                let bundle = try world.stagedBundle(of: id)?["env"] as? [String: String]
                #expect(bundle?["API_KEY"] == before.workspaces[id]!.secret, "\(id): the bundle holds a value the database lost")
            }
            let target = try await retryingThroughFailover { try await setup.fleet.status(of: agent).targetGeneration }
            let agentRuntimes = setup.fleet.runtimes().filter { $0.workspace == agent }
            let lostRuntimes = setup.fleet.runtimes().filter { $0.workspace == lost }
            let platformEvents = try await retryingThroughFailover { try await setup.wentBackEvents(platform) }
            let agentEvents = try await retryingThroughFailover { try await setup.wentBackEvents(agent) }
            let changes = await setup.timelineChanges()
            setup.census.stop()
            let findings = setup.census.snapshot
            print(
                """
                failover lost-tail: the replicas \(restarted ? "staged, restarted and launched" : "staged") what was lost; \
                world back to the new primary \(figure(back)) after the promotion; DatabaseWentBack events: platform \
                \(platformEvents.sorted()), agent \(agentEvents.sorted()); timeline changes seen by the replicas \(changes); \
                at most \(findings.mostPerWorkspace) runtime(s) per workspace
                """)
            #expect(back != nil, "the world is still ahead of the new primary: \(problems)")
            #expect(lostRuntimes.isEmpty, "the runtime of a workspace the new primary never had still runs: \(lostRuntimes)")
            #expect(
                agentRuntimes.map(\.generation) == [target],
                "the agent's runtimes \(agentRuntimes.map(\.generation)), its row's generation \(target)")
            #expect(platformEvents.contains("secret_bundles"), "no DatabaseWentBack event on the platform's bundle")
            #expect(agentEvents.contains("instances"), "no DatabaseWentBack event on the agent's instance")
            #expect(changes == [1, 1], "timeline changes counted: \(changes)")
            #expect(findings.mostPerWorkspace == 1, "two runtimes for one workspace: \(findings.doubles.prefix(5))")
        }

        /// Every process of the primary stopped (SIGSTOP): `/readyz` must say not ready within
        /// 10 s, answering within 1 s meanwhile; once the standby is promoted the replicas follow
        /// it (their sessions on the hung server are cut when the listener finds it silent, not
        /// left to their 32 s deadline); SIGTERM ends a replica within its grace period.
        @Test("hung primary: not ready within 10 s, answering at once; the promoted standby is followed")
        func hungPrimary() async throws {
            var setup = try await FailoverFleet.converged("hung", synchronous: false)
            defer { setup.tearDown() }
            let cluster = setup.cluster
            let stopped = cluster.stopProcesses(of: cluster.first)
            defer { cluster.continueProcesses(stopped) }
            let hung = ContinuousClock.now
            var slowest = Duration.zero
            var notReady: Duration?
            _ = try await eventually(15, every: .milliseconds(250)) {
                let answers = await setup.readiness()
                slowest = max(slowest, answers.map(\.took).max() ?? .zero)
                guard answers.allSatisfy({ $0.status == 503 }) else { return false }
                notReady = ContinuousClock.now - hung
                return true
            }

            try cluster.promote(cluster.second)
            let promoted = ContinuousClock.now
            var followed: Duration?
            _ = try await eventually(30, every: .milliseconds(200)) {
                let answers = await setup.readiness()
                slowest = max(slowest, answers.map(\.took).max() ?? .zero)
                guard answers.allSatisfy({ $0.status == 200 }) else { return false }
                followed = ContinuousClock.now - promoted
                return true
            }
            let platform = setup.world.workspaces.values.first { $0.kind == "platform" }!.id
            try await retryingThroughFailover { try await setup.world.rotateSecret(platform) }
            let changed = ContinuousClock.now
            let (reconciled, problems) = try await setup.converged(setup.world, since: changed, seconds: 45)

            let replica = setup.fleet.replicas[0]
            let terminated = ContinuousClock.now
            replica.terminate()
            replica.waitUntilExit()
            let exited = ContinuousClock.now - terminated
            setup.census.stop()
            let findings = setup.census.snapshot
            print(
                """
                failover hung-primary: readyz not ready \(figure(notReady)) after the hang, slowest answer \
                \(figure(slowest)); replicas ready \(figure(followed)) after the promotion; a change \
                then reconciled \(figure(reconciled)) after it was written; SIGTERM exit \(figure(exited)); \
                at most \(findings.mostPerWorkspace) runtime(s) per workspace
                """)
            #expect(
                (notReady ?? .seconds(99)) <= Self.bound(.seconds(10)), "readyz said ready after the hang for \(figure(notReady))"
            )
            #expect(slowest <= .seconds(1), "readyz took \(figure(slowest)) to answer")
            #expect(reconciled != nil, "a change after the promotion was not reconciled: \(problems)")
            #expect(
                (reconciled ?? .seconds(99)) <= Self.bound(.seconds(5)), "a change after the promotion took \(figure(reconciled))"
            )
            // With the defaults: every new session first waits out connect_timeout (2 s) on the hung
            // server listed first.
            #expect(
                (followed ?? .seconds(99)) <= Self.bound(.seconds(5)), "readyz said ready \(figure(followed)) after the promotion"
            )
            #expect(exited <= .seconds(12), "SIGTERM took \(figure(exited))")
            #expect(findings.mostPerWorkspace == 1, "two runtimes for one workspace: \(findings.doubles.prefix(5))")
        }
    }
}
