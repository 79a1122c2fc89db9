/// What the instances controller must do for one workspace, decided as a pure function of the
/// desired state and what the provider lists. Single flight (seed 002): at most one live
/// instance; old and extra instances are terminated before a new one is created; a new one is
/// created only once the bundle for its generation is staged (seeds 003, 004).
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
    /// The instance that serves the workspace after the steps, if any.
    public var keep: Live?
    public var phase: String

    public static func decide(desiredState: String, targetGeneration: Int64, stagedGeneration: Int64?,
                              live: [Live]) -> InstancePlan {
        let ordered = live.sorted { $0.id < $1.id }
        guard desiredState == "running" else {
            // The phase after the steps: once the terminations are accepted nothing runs, so the
            // next pass finds the same phase and writes nothing.
            return InstancePlan(steps: ordered.map { .terminateStale(id: $0.id) }, keep: nil,
                                phase: desiredState == "deleted" ? "deleted" : "stopped")
        }
        let current = ordered.filter { $0.generation == targetGeneration }
        var steps: [Step] = ordered.filter { $0.generation != targetGeneration }.map { .terminateStale(id: $0.id) }
        steps += current.dropFirst().map { .terminateExtra(id: $0.id) }
        if let keep = current.first {
            return InstancePlan(steps: steps, keep: keep, phase: keep.running ? "running" : "provisioning")
        }
        steps.append(stagedGeneration == targetGeneration ? .create(generation: targetGeneration)
                                                          : .waitForBundle(generation: targetGeneration))
        return InstancePlan(steps: steps, keep: nil, phase: "provisioning")
    }
}
