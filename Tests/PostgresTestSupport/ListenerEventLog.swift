import Postgres
import Synchronization

/// Records a listener's events with their arrival time, so that a test can wait for one with a
/// deadline instead of blocking on the stream forever.
public final class ListenerEventLog: Sendable {
    public struct Entry: Sendable {
        public let event: PostgresListener.Event
        public let at: ContinuousClock.Instant
    }

    private let entries = Mutex<[Entry]>([])

    private init() {}

    /// Starts `listener` and records its events until it stops.
    public static func start(_ listener: PostgresListener) -> ListenerEventLog {
        let log = ListenerEventLog()
        let stream = listener.events()
        Task {
            for await event in stream {
                log.entries.withLock { $0.append(Entry(event: event, at: .now)) }
            }
        }
        return log
    }

    /// How many events arrived so far (to wait for later ones only).
    public var count: Int { entries.withLock { $0.count } }

    /// The first event at index `from` or later that `matches`, polled until `within` passes.
    public func first(
        from: Int = 0, within: Duration = .seconds(10),
        where matches: (PostgresListener.Event) -> Bool
    ) async -> (index: Int, entry: Entry)? {
        let deadline = ContinuousClock.now + within
        while true {
            let recorded = entries.withLock { $0 }
            let found = recorded.indices.dropFirst(from).first { matches(recorded[$0].event) }.map { ($0, recorded[$0]) }
            if let found { return found }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The first event at index `from` or later equal to `event`.
    public func first(
        _ event: PostgresListener.Event, from: Int = 0,
        within: Duration = .seconds(10)
    ) async -> (index: Int, entry: Entry)? {
        await first(from: from, within: within) { $0 == event }
    }
}
