/// Delivers plugins into a running instance's workspace runtime (the local runtime's HTTP API,
/// or a real runtime implementing the same contract; see the README).
public protocol PluginDelivery: Sendable {
    /// Installs `plugin` at `ref`, replacing another ref. Idempotent: installing what is
    /// installed changes nothing. `token` is the instance's token (never logged).
    func install(plugin: String, ref: String, into instance: InstanceRecord, token: String) async throws
    /// Removes `plugin`; removing an absent plugin is not an error.
    func remove(plugin: String, from instance: InstanceRecord, token: String) async throws
}
