/// Names what a controller's keys stand for (a workspace's org and name), for the log lines of
/// failed reconciles: a key is a UUID, which tells an operator nothing.
public protocol KeySubjects: Sendable {
    /// Log metadata per key (e.g. `workspace.org`, `workspace.name`); keys without a subject
    /// (a row deleted meanwhile) are left out. One statement for all keys.
    func subjects(of keys: [String]) async throws -> [String: [String: String]]
}
