import Providers

/// An in-memory cloud with EC2's semantics that matter here: creation idempotent per token,
/// new instances possibly invisible to `list` for a while, terminated instances still listed,
/// terminate idempotent. Counts every call, and injects scripted faults.
public actor FakeCloud: InstanceProvider {
    public private(set) var instances: [String: InstanceRecord] = [:]
    /// Mutating calls that reached the cloud (whether or not the caller saw the answer).
    public private(set) var launches = 0
    public private(set) var terminations = 0
    private var byToken: [String: String] = [:]
    /// Workspace -> its instances' IDs, so a list is not a scan of the whole cloud.
    private var byWorkspace: [String: [String]] = [:]
    private var owners: [String: String] = [:]
    private var hiddenFromList: [String: Int] = [:]
    private var listDelay = 0
    private var faults = FaultScript()
    private var nextID = 1

    public init() {}

    /// The next `times` calls of `operation` (`create`, `list`, `terminate`) meet `fault`.
    public func inject(_ fault: Fault, on operation: String, times: Int = 1) {
        faults.add(fault, on: operation, times: times)
    }

    /// New instances stay invisible to the next `calls` list calls (eventual consistency).
    public func hideNewInstances(forListCalls calls: Int) {
        listDelay = calls
    }

    /// Instances not terminated.
    public func live(workspaceID: String) -> [InstanceRecord] {
        of(workspaceID).filter(\.state.isLive)
    }

    private func of(_ workspaceID: String) -> [InstanceRecord] {
        (byWorkspace[workspaceID] ?? []).compactMap { instances[$0] }.sorted { $0.id < $1.id }
    }

    /// Marks an instance running (the fake's boot).
    public func boot(_ instanceID: String, address: String) {
        instances[instanceID]?.state = .running
        instances[instanceID]?.address = address
    }

    /// Launches an instance without an idempotency token, as something other than the
    /// reconciler would (a watchdog, a person); it sorts after the reconciler's own.
    public func launchOutOfBand(workspaceID: String, generation: Int64) -> InstanceRecord {
        let id = "i-zz\(String(nextID, radix: 16).leftPadded(to: 6))"
        nextID += 1
        let record = InstanceRecord(
            id: id, workspaceID: workspaceID, generation: generation,
            idempotencyToken: "out-of-band-\(id)", state: .running, address: nil)
        instances[id] = record
        byWorkspace[workspaceID, default: []].append(id)
        launches += 1
        return record
    }

    public func create(_ spec: InstanceSpec) async throws -> InstanceRecord {
        let loseResponse = try await faults.next(for: "create")?.apply(provider: "instances", operation: "create") ?? false
        let record: InstanceRecord
        if let existing = byToken[spec.idempotencyToken], let known = instances[existing] {
            record = known
        } else {
            let id = "i-\(String(nextID, radix: 16).leftPadded(to: 8))"
            nextID += 1
            record = InstanceRecord(
                id: id, workspaceID: spec.workspaceID, generation: spec.generation,
                idempotencyToken: spec.idempotencyToken, state: .pending, address: nil)
            instances[id] = record
            byWorkspace[spec.workspaceID, default: []].append(id)
            owners[id] = spec.owner
            byToken[spec.idempotencyToken] = id
            hiddenFromList[id] = listDelay
            launches += 1
        }
        if loseResponse {
            throw ProviderError(.timeout, provider: "instances", operation: "create", message: "no response within the timeout")
        }
        return record
    }

    public func list(workspaceID: String) async throws -> [InstanceRecord] {
        _ = try await faults.next(for: "list")?.apply(provider: "instances", operation: "list")
        var visible: [InstanceRecord] = []
        for record in of(workspaceID) {
            if let remaining = hiddenFromList[record.id], remaining > 0 {
                hiddenFromList[record.id] = remaining - 1
                continue
            }
            visible.append(record)
        }
        return visible.sorted { $0.id < $1.id }
    }

    public func listAll(owner: String) async throws -> [InstanceRecord] {
        _ = try await faults.next(for: "list")?.apply(provider: "instances", operation: "list")
        return instances.values.filter { owners[$0.id] == owner }.sorted { $0.id < $1.id }
    }

    public func terminate(instanceID: String) async throws {
        let loseResponse = try await faults.next(for: "terminate")?.apply(provider: "instances", operation: "terminate") ?? false
        guard instances[instanceID] != nil else {
            throw ProviderError(
                .notFound, provider: "instances", operation: "terminate",
                message: "the instance ID '\(instanceID)' does not exist")
        }
        if instances[instanceID]?.state != .terminated {
            instances[instanceID]?.state = .terminated
            terminations += 1
        }
        if loseResponse {
            throw ProviderError(
                .timeout, provider: "instances", operation: "terminate", message: "no response within the timeout")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
