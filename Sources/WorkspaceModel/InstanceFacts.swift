import Foundation
import ReconcileRuntime

/// What the instances controller knows of a workspace from its rows: the spec, the instance
/// generation that should run, the bundle staged for it, and what was recorded last time.
public struct InstanceFacts: Sendable, Equatable {
    public var workspaceID: String
    public var kind: WorkspaceKind
    public var desiredState: DesiredState
    public var image: String
    public var phase: Phase
    public var restartPolicy: RestartPolicy
    public var targetGeneration: Int64
    public var stagedGeneration: Int64?
    public var stagedRuntimeHash: String?
    /// The store's version of the staged bundle (`secret_bundles.staged_version`), which a new
    /// instance of the staged generation is told to boot.
    public var stagedVersion: String?
    public var bootedRuntimeHash: String?
    /// The instance recorded last time, and when it was first seen.
    public var instanceID: String?
    public var instance: ObservedInstance? {
        instanceID.map {
            ObservedInstance(
                id: $0, generation: instanceGeneration, state: instanceState ?? "unknown",
                running: instanceState == "running", address: address)
        }
    }
    public var instanceGeneration: Int64 = 0
    public var instanceState: String?
    public var address: String?
    public var launchedAt: Date?
    /// Since when its probe has gone unanswered (probe mode).
    public var unresponsiveSince: Date?
    /// The platform's heartbeat for the recorded instance (heartbeat mode).
    public var heartbeat: InstanceHealth.Heartbeat?
    /// The latest write to the workspace's secrets or its org's, and who wrote it.
    public var lastSecretWriteAt: Date?
    public var lastSecretWriter: String?
    /// A platform workspace that declares a privileged plugin (the management MCP) is online
    /// only while its runtime reports the MCP present (the platform's RCA #2970 gate).
    public var requiresManagementMCP: Bool
    public var remediations: Int
    public var lastRemediationAt: Date?
    /// The secrets-bundle controller failed terminally for this workspace (a template that
    /// cannot be delivered): its bundle will not be staged until the input changes.
    public var bundleFailure: String?

    public init(
        workspaceID: String, kind: WorkspaceKind, desiredState: DesiredState, image: String, phase: Phase,
        restartPolicy: RestartPolicy, targetGeneration: Int64, stagedGeneration: Int64? = nil,
        stagedRuntimeHash: String? = nil, bootedRuntimeHash: String? = nil, instanceID: String? = nil,
        launchedAt: Date? = nil, unresponsiveSince: Date? = nil, heartbeat: InstanceHealth.Heartbeat? = nil,
        lastSecretWriteAt: Date? = nil, lastSecretWriter: String? = nil, requiresManagementMCP: Bool = false,
        remediations: Int = 0, lastRemediationAt: Date? = nil
    ) {
        self.workspaceID = workspaceID
        self.kind = kind
        self.desiredState = desiredState
        self.image = image
        self.phase = phase
        self.restartPolicy = restartPolicy
        self.targetGeneration = targetGeneration
        self.stagedGeneration = stagedGeneration
        self.stagedRuntimeHash = stagedRuntimeHash
        self.bootedRuntimeHash = bootedRuntimeHash
        self.instanceID = instanceID
        self.launchedAt = launchedAt
        self.unresponsiveSince = unresponsiveSince
        self.heartbeat = heartbeat
        self.lastSecretWriteAt = lastSecretWriteAt
        self.lastSecretWriter = lastSecretWriter
        self.requiresManagementMCP = requiresManagementMCP
        self.remediations = remediations
        self.lastRemediationAt = lastRemediationAt
    }
}

/// An instance as the provider reported it, in the model's terms.
public struct ObservedInstance: Sendable, Equatable {
    public var id: String
    public var generation: Int64
    /// The provider's state word (`pending`, `running`, `terminated`...).
    public var state: String
    public var running: Bool
    public var address: String?
    /// How an instance that is no longer live ended (exit code, log tail), when the provider knows.
    public var detail: String?

    public init(
        id: String, generation: Int64, state: String, running: Bool, address: String? = nil, detail: String? = nil
    ) {
        self.detail = detail
        self.id = id
        self.generation = generation
        self.state = state
        self.running = running
        self.address = address
    }
}

/// What carrying out an `InstancePlan` found: the instance that serves the workspace, what was
/// created and terminated, and what its runtime reported.
public struct InstanceObservation: Sendable, Equatable {
    public var kept: ObservedInstance?
    /// `kept` was created by this pass.
    public var created = false
    /// A create answered with an instance that is already dead (its generation's token is spent).
    public var lost: ObservedInstance?
    public var terminated: [ObservedInstance] = []
    public var terminatedExtras: [ObservedInstance] = []
    /// The runtime's report: a probe's answer made now, or the heartbeat in the facts.
    public var report: InstanceHealth.Report = .none
    /// A provider call failed (the steps after it were not carried out): the failed outcome.
    public var failed: ReconcileOutcome?

    public init(
        kept: ObservedInstance? = nil, created: Bool = false, lost: ObservedInstance? = nil,
        terminated: [ObservedInstance] = [], terminatedExtras: [ObservedInstance] = [],
        report: InstanceHealth.Report = .none, failed: ReconcileOutcome? = nil
    ) {
        self.failed = failed
        self.kept = kept
        self.created = created
        self.lost = lost
        self.terminated = terminated
        self.terminatedExtras = terminatedExtras
        self.report = report
    }
}

/// The instances controller's status value: the observed instance, the workspace's phase,
/// `restart_pending` and `InstanceReady`, and the requests it makes of its own row (a new
/// generation, the remediation count). Field names are read by `InstanceStore.statusColumns`.
public struct InstanceStatus: Encodable, Sendable, Equatable {
    public var instanceID: String?
    public var instanceGeneration: Int64
    public var instanceState: String?
    public var address: String?
    public var bootedRuntimeHash: String?
    public var unresponsiveSince: Date?
    public var remediations: Int
    /// Moves `target_generation` on by one if it is still this (a restart, a remediation, a
    /// replacement of a lost instance, a stop).
    public var restartFrom: Int64?
    public var phase: Phase
    public var restartPending: Bool
    public var condition: WorkspaceCondition
    /// The workspace's `last_error` as this controller sees it; nil clears its own.
    public var error: String?
}
