import Foundation

/// The phases of the workspace fleet, with the instances and secrets-bundle controllers each
/// running in a sidecar host and the heartbeat player playing the platform.
struct WorkspacePhases {
    let world: FleetWorld
    let workspaces: Int
    let instances: BenchController
    let bundles: BenchController
    let instruments: PhaseMeter.Instruments
    let timeout: Duration

    struct Outcome {
        var reached: Bool
        /// How far the predicate got (all of the fleet when reached).
        var progress: Int
        var report: PhaseReport
    }

    /// Figure 1: `workspaces` rows inserted in one statement, until every one is `phase = 'running'`.
    func coldStart() async throws -> Outcome {
        let meter = try await PhaseMeter.begin([instances, bundles], instruments)
        try await world.insertWorkspaces(workspaces)
        let (reached, last) = try await wait(until: workspaces, every: .milliseconds(100), timeout: timeout) {
            try await world.runningWorkspaces()
        }
        return Outcome(reached: reached, progress: last, report: try await meter.end())
    }

    /// Figure 1b: every instances key made due at once over the running fleet (an input change
    /// that needs no action), until each has recorded its new generation.
    func reexamine() async throws -> Outcome {
        let meter = try await PhaseMeter.begin([instances], instruments)
        try await world.bumpAllInstances()
        let (reached, last) = try await wait(until: workspaces, every: .milliseconds(20), timeout: timeout) {
            try await world.convergedInstances()
        }
        return Outcome(reached: reached, progress: last, report: try await meter.end())
    }

    struct Rotation {
        var outcome: Outcome
        var staged: Int
        var decided: Int
        /// Seconds until every bundle was restaged (the first half of the predicate).
        var allStagedAfter: Double?
        var decisions: FleetWorld.Decisions
    }

    /// Figure 2: one org secret rotated (runtime-consumed), until every bundle is restaged and
    /// every restart decided (`FleetWorld.rotationPredicate`).
    func orgRotation() async throws -> Rotation {
        try await world.snapshotBeforeRotation()
        let meter = try await PhaseMeter.begin([instances, bundles], instruments)
        try await world.rotateOrgSecret()
        var staged = 0
        var decided = Set<String>()
        var allStagedAfter: Double?
        let (reached, _) = try await wait(until: workspaces, every: .milliseconds(100), timeout: timeout) {
            let candidates = instances.tally.latestClaims.filter { !decided.contains($0.key) }
            let progress = try await world.rotationProgress(candidates: candidates)
            staged = progress.staged
            decided.formUnion(progress.decided)
            if allStagedAfter == nil, staged >= workspaces { allStagedAfter = meter.elapsed }
            return min(staged, decided.count)
        }
        let report = try await meter.end()
        let decisions = try await world.rotationDecisions()
        return Rotation(
            outcome: Outcome(reached: reached, progress: min(staged, decided.count), report: report),
            staged: staged, decided: decided.count, allStagedAfter: allStagedAfter,
            decisions: decisions)
    }
}
