import Foundation
import Providers
import ReconcileRuntime
import ReconcileStore
import WorkspaceModel
import WorkspaceStore

/// Makes exactly the instance a workspace asks for run (seed 002's single flight): lists what
/// the provider has, lets `InstancePlan` decide the steps and carries them out in order — old
/// and extra instances terminated first, a new one created only once its generation's bundle
/// is staged, with the idempotency token `<workspace>-g<generation>` so that a retry after a
/// lost response adopts the instance instead of launching a second — then asks the runtime how
/// it is, and lets `InstanceDecision` decide the status, the outcome and the events. This
/// shell performs I/O only; it writes nothing (the host writes the returned status).
public struct InstancesReconciler: Reconciler, StatusWriter {
    public let name = ControllerName.instances.rawValue
    private let store: InstanceStore
    private let provider: any InstanceProvider
    private let pacer: RestartPacer
    private let probe: (any RuntimeStatusSource)?
    private let owner: String
    private let watch: InstanceDecision.Watch

    /// - Parameters:
    ///   - probe: asks runtimes for their status directly (and watches a running instance every
    ///     3 s); without it the controller reads the heartbeats the platform writes into
    ///     `workspace_runtime_status` (a heartbeat's transition wakes it; it looks every 30 s).
    ///   - owner: the tag every launched instance carries (see `DatabaseIdentity`); the orphan
    ///     sweeper collects only instances of this owner.
    public init(
        store: InstanceStore, provider: any InstanceProvider, pacer: RestartPacer = RestartPacer(),
        probe: (any RuntimeStatusSource)? = nil, owner: String = "", watch: InstanceDecision.Watch? = nil
    ) {
        self.store = store
        self.provider = provider
        self.pacer = pacer
        self.probe = probe
        self.owner = owner
        self.watch =
            watch
            ?? (probe == nil
                ? .init(running: .seconds(30), converging: .seconds(30))
                : .init(running: .seconds(3), converging: .seconds(2)))
    }

    public var statusColumns: StatusColumns { store.statusColumns }

    public func reconcile(_ request: ReconcileRequest) async throws -> ReconcileResult {
        guard let (facts, now) = try await store.selectFacts(workspaceID: request.key, now: request.now) else {
            return ReconcileResult(.done)
        }
        request.actions.record("instances.list", mutating: false)
        let listed: [InstanceRecord]
        do {
            listed = try await provider.list(workspaceID: request.key).filter(\.state.isLive)
        } catch let error as ProviderError {
            // Nothing observed: the recorded instance stays as recorded, and the failure is said.
            let plan = InstancePlan(steps: [], keep: nil, phase: facts.phase)
            let observed = InstanceObservation(kept: facts.instance, failed: .failed(error))
            let decision = InstanceDecision.decide(facts, plan: plan, observed: observed, context: .init(now: now, watch: watch))
            return ReconcileResult(decision.outcome, status: decision.status, events: decision.events)
        }
        let plan = InstancePlan.decide(
            desiredState: facts.desiredState, targetGeneration: facts.targetGeneration,
            stagedGeneration: facts.stagedGeneration,
            live: listed.map { .init(id: $0.id, generation: $0.generation, running: $0.state == .running) })
        var observed = try await carryOut(plan, listed: listed, facts, request)
        observed.report = try await report(of: observed, facts, now: now, request)
        var context = InstanceDecision.Context(now: now, watch: watch)
        if InstanceDecision.needsFleetHealth(facts, plan: plan, observed: observed, context: context) {
            context.fleet = try await store.selectFleetHealth()
        }
        if InstanceDecision.wantsPacedRestart(facts, plan: plan, observed: observed, context: context) {
            context.restartWait = pacer.reserve(for: request.key, at: now).seconds
        }
        let decision = InstanceDecision.decide(facts, plan: plan, observed: observed, context: context)
        return ReconcileResult(decision.outcome, status: decision.status, events: decision.events)
    }

    /// The plan's steps, in order; what they left serving the workspace.
    private func carryOut(
        _ plan: InstancePlan, listed: [InstanceRecord], _ facts: InstanceFacts,
        _ request: ReconcileRequest
    ) async throws -> InstanceObservation {
        var observed = InstanceObservation(
            kept: plan.keep.flatMap { keep in listed.first { $0.id == keep.id } }.map(Self.observed))
        do {
            try await carryOut(plan.steps, listed: listed, facts, request, into: &observed)
            if facts.desiredState == .deleted {
                // Nothing of it runs any more: what the provider holds for it (EC2: its IAM role) goes too.
                let released = try await provider.release(workspaceID: request.key, owner: owner)
                request.actions.record("instances.release", mutating: released)
            }
        } catch let error as ProviderError {
            observed.failed = .failed(error)
        }
        return observed
    }

    private func carryOut(
        _ steps: [InstancePlan.Step], listed: [InstanceRecord], _ facts: InstanceFacts,
        _ request: ReconcileRequest, into observed: inout InstanceObservation
    ) async throws {
        for step in steps {
            try Task.checkCancellation()
            switch step {
            case .terminateStale(let id), .terminateExtra(let id):
                request.actions.record("instances.terminate", mutating: true)
                try await provider.terminate(instanceID: id)
                guard let record = listed.first(where: { $0.id == id }).map(Self.observed) else { continue }
                if case .terminateExtra = step {
                    observed.terminatedExtras.append(record)
                } else {
                    observed.terminated.append(record)
                }
            case .create(let generation):
                request.actions.record("instances.create", mutating: true)
                let launched = try await provider.create(
                    InstanceSpec(
                        workspaceID: request.key, generation: generation, image: facts.image,
                        bundleName: WorkspaceBundle.secretName(workspaceID: request.key),
                        bundleVersion: facts.stagedVersion, owner: owner))
                if launched.state.isLive {
                    observed.kept = Self.observed(launched)
                    observed.created = true
                } else {
                    // This generation's token is spent on an instance that died (a crash, a
                    // person): the decision replaces it with the next generation.
                    observed.lost = Self.observed(launched)
                }
            case .waitForBundle:
                break
            }
        }
    }

    /// What the runtime of the kept instance reports: a probe asked now, or the heartbeat the
    /// platform wrote for the instance on record. A new instance has not reported yet.
    private func report(
        of observed: InstanceObservation, _ facts: InstanceFacts, now: Date,
        _ request: ReconcileRequest
    ) async throws -> InstanceHealth.Report {
        guard let kept = observed.kept, !observed.created, observed.failed == nil, facts.desiredState == .running else {
            return .none
        }
        guard let probe else {
            return kept.id == facts.instanceID ? facts.heartbeat.map { .reported($0) } ?? .none : .none
        }
        request.actions.record("runtime.status", mutating: false)
        let record = InstanceRecord(
            id: kept.id, workspaceID: facts.workspaceID, generation: kept.generation,
            idempotencyToken: InstanceSpec.idempotencyToken(
                workspaceID: facts.workspaceID,
                generation: kept.generation),
            state: .running, address: kept.address)
        do {
            guard let status = try await probe.status(of: record) else { return .none }
            return .reported(
                .init(
                    ready: status.ready, reportedAt: now, managementMCPPresent: status.managementMCPPresent,
                    busySince: status.busySince))
        } catch let error as ProviderError {
            let since = (kept.id == facts.instanceID ? facts.unresponsiveSince : nil) ?? now
            return .unresponsive(since: since, error: error.message)
        }
    }

    private static func observed(_ record: InstanceRecord) -> ObservedInstance {
        ObservedInstance(
            id: record.id, generation: record.generation, state: record.state.rawValue,
            running: record.state == .running, address: record.address, detail: record.detail)
    }
}
