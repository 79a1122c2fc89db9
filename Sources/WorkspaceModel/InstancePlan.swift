/// What the instances controller must do for one workspace, decided as a pure function of the
/// desired state and what the provider lists. Single flight (seed 002): at most one live
/// instance; old and extra instances are terminated before a new one is created; a new one is
/// created only once the bundle for its generation is staged (seeds 003, 004), and until then
/// the old instance keeps serving: a restart never leaves a workspace with no instance while
/// its new bundle cannot be staged.
public struct InstancePlan: Sendable, Equatable {
    public struct Live: Sendable, Equatable {
        public var id: String
        public var generation: Int64
        public var running: Bool

        public init(id: String, generation: Int64, running: Bool) {
            self.id = id
            self.generation = generation
            self.running = running
        }
    }

    public enum Step: Sendable, Equatable {
        /// An instance of another generation (replaced), or of no desired state.
        case terminateStale(id: String)
        /// A second instance of the current generation: a race lost somewhere; reported.
        case terminateExtra(id: String)
        case create(generation: Int64)
        /// The bundle of this generation is not staged yet; its staging wakes us again.
        case waitForBundle(generation: Int64)
    }

    public var steps: [Step]
    /// The instance that serves the workspace after the steps, if any: the current
    /// generation's, or the previous one's while the new bundle is not staged.
    public var keep: Live?
    public var phase: Phase

    public init(steps: [Step], keep: Live?, phase: Phase) {
        self.steps = steps
        self.keep = keep
        self.phase = phase
    }

    public static func decide(
        desiredState: DesiredState, targetGeneration: Int64, stagedGeneration: Int64?,
        live: [Live]
    ) -> InstancePlan {
        let ordered = live.sorted { $0.id < $1.id }
        guard desiredState == .running else {
            // The phase after the steps: once the terminations are accepted nothing runs, so the
            // next pass finds the same phase and writes nothing.
            return InstancePlan(
                steps: ordered.map { .terminateStale(id: $0.id) }, keep: nil,
                phase: desiredState == .deleted ? .deleted : .stopped)
        }
        let current = ordered.filter { $0.generation == targetGeneration }
        let stale = ordered.filter { $0.generation != targetGeneration }
        if let keep = current.first {
            let steps: [Step] = stale.map { .terminateStale(id: $0.id) } + current.dropFirst().map { .terminateExtra(id: $0.id) }
            return InstancePlan(steps: steps, keep: keep, phase: keep.running ? .running : .provisioning)
        }
        guard stagedGeneration == targetGeneration else {
            // Config before boot, and no gap: the newest old instance serves until the bundle is staged.
            let serving = stale.max { ($0.generation, $0.id) < ($1.generation, $1.id) }
            let steps: [Step] =
                stale.filter { $0 != serving }.map { .terminateStale(id: $0.id) }
                + [.waitForBundle(generation: targetGeneration)]
            return InstancePlan(steps: steps, keep: serving, phase: serving?.running == true ? .running : .provisioning)
        }
        return InstancePlan(
            steps: stale.map { .terminateStale(id: $0.id) } + [.create(generation: targetGeneration)],
            keep: nil, phase: .provisioning)
    }
}
