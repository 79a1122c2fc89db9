import CLibPQ
import Foundation
import Logging
import Synchronization

/// LISTENs on a dedicated session from a dedicated thread (never the cooperative pool) and
/// turns what happens into a stream of events.
///
/// Contract: after every `.connected` event, notifications sent while no session was listening
/// are lost; the consumer must resync from the tables. A notification only names a key.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        /// A session is listening. `reconnected` is true from the second time on: notifications
        /// may have been missed since the previous session died.
        case connected(reconnected: Bool)
        case notification(channel: String, payload: String)
        /// The session died or could not be opened; reconnection is under way.
        case disconnected(reason: String)
    }

    public struct Options: Sendable {
        /// Idle time after which the listener checks that its session is alive, in seconds.
        public var livenessCheckSeconds: Int = 30
        /// Wait between reconnection attempts, in milliseconds (doubles up to 5 s).
        public var reconnectDelayMilliseconds: Int = 100
        public init() {}
    }

    private let configuration: PostgresConfiguration
    private let channels: [String]
    private let options: Options
    private let logger: Logger
    private let live = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// A self-pipe: writing to it wakes the listener thread so it can stop at once.
    private let wakeup: (read: Int32, write: Int32)

    public init(configuration: PostgresConfiguration, channels: [String], options: Options = Options(), logger: Logger) {
        precondition(channels.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } },
                     "channel names are identifiers")
        self.configuration = configuration
        self.channels = channels
        self.options = options
        self.logger = logger
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed")
        self.wakeup = (fds[0], fds[1])
    }

    deinit {
        close(wakeup.read)
        close(wakeup.write)
    }

    /// Whether a session is currently listening.
    public var isLive: Bool { live.load(ordering: .relaxed) }

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

    private func loop(_ continuation: AsyncStream<Event>.Continuation) {
        var handle: OpaquePointer?
        var everConnected = false
        var delay = options.reconnectDelayMilliseconds
        defer { if let handle { PQfinish(handle) } }
        while !stopped.load(ordering: .relaxed) {
            guard let session = handle else {
                do {
                    handle = try openListening()
                    live.store(true, ordering: .relaxed)
                    continuation.yield(.connected(reconnected: everConnected))
                    everConnected = true
                    delay = options.reconnectDelayMilliseconds
                } catch {
                    continuation.yield(.disconnected(reason: "\(error)"))
                    _ = waitReadable(socket: nil, timeoutMilliseconds: delay)
                    delay = min(delay * 2, 5_000)
                }
                continue
            }
            let readiness = waitReadable(socket: PQsocket(session), timeoutMilliseconds: options.livenessCheckSeconds * 1000)
            if readiness == .stop { break }
            var alive = PQconsumeInput(session) == 1
            if alive, readiness == .timeout {
                alive = (try? LibPQ.simpleExec(session, "SELECT 1", timeout: configuration.statementDeadline)) != nil
            }
            drainNotifications(session, continuation)
            if !alive || !LibPQ.isConnected(session) {
                let reason = LibPQ.errorMessage(session)
                PQfinish(session)
                handle = nil
                live.store(false, ordering: .relaxed)
                logger.warning("listener session lost; reconnecting", metadata: ["reason": "\(reason)"])
                continuation.yield(.disconnected(reason: reason))
            }
        }
        live.store(false, ordering: .relaxed)
    }

    private func openListening() throws -> OpaquePointer {
        let session = try LibPQ.connect(configuration, setupTimeout: configuration.statementDeadline)
        do {
            let statements = channels.map { "LISTEN \($0)" }.joined(separator: "; ")
            try LibPQ.simpleExec(session, statements, timeout: configuration.statementDeadline)
        } catch {
            PQfinish(session)
            throw error
        }
        return session
    }

    private func drainNotifications(_ session: OpaquePointer, _ continuation: AsyncStream<Event>.Continuation) {
        while let notify = PQnotifies(session) {
            let channel = String(cString: notify.pointee.relname)
            let payload = String(cString: notify.pointee.extra)
            PQfreemem(notify)
            continuation.yield(.notification(channel: channel, payload: payload))
        }
    }

    private enum Readiness { case readable, timeout, stop }

    private func waitReadable(socket: Int32?, timeoutMilliseconds: Int) -> Readiness {
        var fds = [pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&fds, nfds_t(fds.count), Int32(timeoutMilliseconds))
        if fds[0].revents != 0 || stopped.load(ordering: .relaxed) { return .stop }
        return ready == 0 ? .timeout : .readable
    }
}
