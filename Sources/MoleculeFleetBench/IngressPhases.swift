import Foundation

/// The phases of the tenants, with the tunnel-ingress controller running in a sidecar host.
struct IngressPhases {
    let world: FleetWorld
    let tenants: Int
    let tunnels: Int
    let ingress: BenchController
    let instruments: PhaseMeter.Instruments
    let timeout: Duration

    /// The tenants inserted in one statement, until each one's ingress is applied.
    func initialApply() async throws -> WorkspacePhases.Outcome {
        let meter = try await PhaseMeter.begin([ingress], instruments)
        try await world.insertTenants(tenants, tunnels: tunnels)
        let (reached, last) = try await wait(until: tenants, every: .milliseconds(20), timeout: timeout) {
            try await world.convergedIngress()
        }
        return .init(reached: reached, progress: last, report: try await meter.end())
    }

    /// Figure 3: one `platform_paths` row inserted, until every tenant's ingress carries it
    /// (`FleetWorld.pathPredicate`).
    func platformPathChange() async throws -> WorkspacePhases.Outcome {
        try await world.snapshotBeforePathChange()
        let meter = try await PhaseMeter.begin([ingress], instruments)
        try await world.insertPlatformPath()
        let (reached, last) = try await wait(until: tenants, every: .milliseconds(20), timeout: timeout) {
            try await world.pathProgress()
        }
        return .init(reached: reached, progress: last, report: try await meter.end())
    }
}
