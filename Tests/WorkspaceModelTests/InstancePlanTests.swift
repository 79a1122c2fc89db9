import Testing
import WorkspaceModel

@Suite("instance plan (seed 002 single flight, seeds 003/004 config before boot)")
struct InstancePlanTests {
    typealias Live = InstancePlan.Live

    static let table: [(String, DesiredState, Int64, Int64?, [Live], [InstancePlan.Step], String?, Phase)] = [
        ("nothing runs, bundle staged: create", .running, 1, 1, [], [.create(generation: 1)], nil, .provisioning),
        (
            "nothing runs, bundle of an older generation: wait", .running, 2, 1, [], [.waitForBundle(generation: 2)], nil,
            .provisioning
        ),
        (
            "the right instance runs: nothing to do", .running, 1, 1, [Live(id: "i-1", generation: 1, running: true)], [], "i-1",
            .running
        ),
        (
            "restart: the old one goes before the new one comes", .running, 2, 2,
            [Live(id: "i-1", generation: 1, running: true)], [.terminateStale(id: "i-1"), .create(generation: 2)], nil,
            .provisioning
        ),
        (
            "restart whose bundle is not staged yet: the old one keeps serving", .running, 2, 1,
            [Live(id: "i-1", generation: 1, running: true)], [.waitForBundle(generation: 2)], "i-1", .running
        ),
        (
            "restart, bundle not staged, two old ones: the newest serves, the older goes", .running, 3, 1,
            [Live(id: "i-1", generation: 1, running: true), Live(id: "i-2", generation: 2, running: false)],
            [.terminateStale(id: "i-1"), .waitForBundle(generation: 3)], "i-2", .provisioning
        ),
        (
            "two of the current generation: keep the first, terminate the extra", .running, 1, 1,
            [Live(id: "i-2", generation: 1, running: true), Live(id: "i-1", generation: 1, running: false)],
            [.terminateExtra(id: "i-2")], "i-1", .provisioning
        ),
        (
            "stopped: terminate everything", .stopped, 1, 1, [Live(id: "i-1", generation: 1, running: true)],
            [.terminateStale(id: "i-1")], nil, .stopped
        ),
        ("deleted and nothing runs", .deleted, 3, 3, [], [], nil, .deleted),
    ]

    @Test("plans", arguments: table.indices)
    func plan(_ index: Int) {
        let (name, desired, target, staged, live, steps, keep, phase) = Self.table[index]
        let plan = InstancePlan.decide(desiredState: desired, targetGeneration: target, stagedGeneration: staged, live: live)
        #expect(plan.steps == steps, "\(name)")
        #expect(plan.keep?.id == keep, "\(name)")
        #expect(plan.phase == phase, "\(name)")
    }
}
