import Providers
import Testing
import WorkspaceModel
import WorkspaceStore

@testable import WorkspaceControllers

/// Which ended instances the orphan sweep removes (`OrphanSweeper.unwanted`), as a table.
@Suite("orphan sweeper: which ended instances nothing wants")
struct EndedInstanceRulesTests {
    static func ended(generation: Int64) -> InstanceRecord {
        InstanceRecord(
            id: "c", workspaceID: "w", generation: generation, idempotencyToken: "w-g\(generation)", state: .terminated,
            address: nil)
    }

    @Test(
        "removed: gone, stopped, deleted, replaced; kept: the current or a newer generation of a running workspace, or one without an instances row",
        arguments: [
            (nil, 1, "its workspace no longer exists"),
            (InstanceStore.Wanted(desiredState: .stopped, targetGeneration: 1), 1, "its workspace is stopped"),
            (InstanceStore.Wanted(desiredState: .deleted, targetGeneration: 3), 3, "its workspace is deleted"),
            (InstanceStore.Wanted(desiredState: .running, targetGeneration: 2), 1, "generation 1 was replaced by generation 2"),
            (InstanceStore.Wanted(desiredState: .running, targetGeneration: 2), 2, nil),
            (InstanceStore.Wanted(desiredState: .running, targetGeneration: 2), 3, nil),
            (InstanceStore.Wanted(desiredState: .running, targetGeneration: nil), 1, nil),
        ] as [(InstanceStore.Wanted?, Int64, String?)])
    func rules(wanted: InstanceStore.Wanted?, generation: Int64, why: String?) {
        #expect(OrphanSweeper.unwanted(Self.ended(generation: generation), wanted: wanted) == why)
    }
}
