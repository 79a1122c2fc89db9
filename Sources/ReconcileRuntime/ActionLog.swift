import Synchronization

/// Counts the provider actions reconcilers perform, split into mutating and read-only ones.
/// Tick mode reports them; `--check-idempotent` fails when a pass over a converged world
/// performed any mutating action.
public final class ActionLog: Sendable {
    public struct Counts: Sendable, Equatable, Codable {
        public var mutating: [String: Int] = [:]
        public var readOnly: [String: Int] = [:]

        public init() {}

        public var mutatingTotal: Int { mutating.values.reduce(0, +) }

        public mutating func merge(_ other: Counts) {
            mutating.merge(other.mutating, uniquingKeysWith: +)
            readOnly.merge(other.readOnly, uniquingKeysWith: +)
        }
    }

    private let counts = Mutex(Counts())

    public init() {}

    /// Records one action, e.g. `record("instances.create", mutating: true)`.
    public func record(_ action: String, mutating: Bool) {
        counts.withLock { counts in
            if mutating {
                counts.mutating[action, default: 0] += 1
            } else {
                counts.readOnly[action, default: 0] += 1
            }
        }
    }

    public var snapshot: Counts { counts.withLock { $0 } }

    /// Adds counts recorded elsewhere (a key's own log) to this one.
    public func merge(_ other: Counts) {
        counts.withLock { $0.merge(other) }
    }
}
