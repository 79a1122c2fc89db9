import CLibPQ
import Foundation
import Logging
import Synchronization

/// LISTENs on a dedicated session from a dedicated thread (never the cooperative pool) and
/// turns what happens into a stream of events.
///
/// Contract: after every `.connected` event, notifications sent while no session was listening
/// are lost; the consumer must resync from the tables. A notification only names a key.
///
/// Liveness: a session silent for `livenessInterval` must answer `SELECT 1` within
/// `livenessDeadline`, or it is dropped and replaced; a server that stops answering (a stopped
/// backend, a dead network) is detected within the sum of the two. `health` says whether a
/// session is listening and since when.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        /// A session is listening. `reconnected` is true from the second time on: notifications
        /// may have been missed since the previous session died.
        case connected(reconnected: Bool)
        case notification(channel: String, payload: String)
        /// The session died, stopped answering or could not be opened; reconnection is under way.
        case disconnected(reason: String)
    }

    public struct Options: Sendable {
        /// Silence after which the listener checks that its session answers. Default 2 s.
        public var livenessInterval: Duration = .seconds(2)
        /// How long that check, and opening a session (after the connect itself, which
        /// `connect_timeout` bounds), may take before the session is given up. Default 2 s.
        public var livenessDeadline: Duration = .seconds(2)
        /// Time between the starts of two reconnection attempts, in milliseconds (doubles up to
        /// 5 s): an attempt that took longer (it waited out `connect_timeout` on a silent host)
        /// is followed at once.
        public var reconnectDelayMilliseconds: Int = 100
        public init() {}
    }

    let configuration: PostgresConfiguration
    let channels: [String]
    let options: Options
    let logger: Logger
    /// Told the server history of every new session (the pool's, so both see one history).
    let history: ServerHistoryWatch?
    /// Called on the listener thread when a session is given up because the server stopped
    /// answering its liveness check (not when it closed the session).
    let whenSilent: (@Sendable () -> Void)?
    let healthState: Mutex<Health>
    let stopped = Atomic<Bool>(false)
    /// A self-pipe: writing to it wakes the listener thread so it can stop at once.
    let wakeup: (read: Int32, write: Int32)

    public init(
        configuration: PostgresConfiguration, channels: [String], options: Options = Options(),
        history: ServerHistoryWatch? = nil, whenSilent: (@Sendable () -> Void)? = nil, logger: Logger
    ) {
        precondition(
            channels.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } },
            "channel names are identifiers")
        self.configuration = configuration
        self.channels = channels
        self.options = options
        self.logger = logger
        self.history = history
        self.whenSilent = whenSilent
        self.healthState = Mutex(Health(isConnected: false, since: .now, lastError: nil))
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed")
        self.wakeup = (fds[0], fds[1])
    }

    deinit {
        close(wakeup.read)
        close(wakeup.write)
    }

    /// Starts the listener thread; the stream finishes after `stop()`.
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        let thread = Thread { [self] in
            self.loop(continuation)
            continuation.finish()
        }
        thread.name = "molecule.postgres.listener"
        thread.start()
        return stream
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        var byte: UInt8 = 1
        _ = write(wakeup.write, &byte, 1)
    }
}
