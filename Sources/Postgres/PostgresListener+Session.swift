import CLibPQ
import Foundation

/// The listener thread: open a session, wait for notifications, check liveness when silent,
/// and replace the session when it dies or stops answering.
extension PostgresListener {
    func loop(_ continuation: AsyncStream<Event>.Continuation) {
        var session: OpaquePointer?
        var everConnected = false
        var delay = options.reconnectDelayMilliseconds
        defer {
            if let session { PQfinish(session) }
            recordDisconnected("the listener was stopped")
        }
        while !stopped.load(ordering: .relaxed) {
            guard let current = session else {
                let attempted = ContinuousClock.now
                do {
                    session = try openListening()
                    recordConnected()
                    continuation.yield(.connected(reconnected: everConnected))
                    everConnected = true
                    delay = options.reconnectDelayMilliseconds
                } catch {
                    recordDisconnected("\(error)")
                    continuation.yield(.disconnected(reason: "\(error)"))
                    let waited = ContinuousClock.now - attempted
                    if waited < .milliseconds(delay) {
                        _ = waitReadable(socket: nil, timeout: .milliseconds(delay) - waited)
                    }
                    delay = min(delay * 2, 5_000)
                }
                continue
            }
            switch listen(on: current, continuation) {
            case .alive:
                continue
            case .stop:
                return
            case .lost(let reason, let silent):
                if silent { whenSilent?() }
                PQfinish(current)
                session = nil
                recordDisconnected(reason)
                logger.warning("listener session lost; reconnecting", metadata: ["reason": "\(reason)"])
                continuation.yield(.disconnected(reason: reason))
            }
        }
    }

    private enum Round {
        case alive, stop
        /// `silent`: the server did not answer the liveness check in time.
        case lost(String, silent: Bool)
    }

    /// Waits up to `livenessInterval` for traffic; a silent session must answer `SELECT 1`
    /// within `livenessDeadline`. Notifications read meanwhile are delivered.
    private func listen(on session: OpaquePointer, _ continuation: AsyncStream<Event>.Continuation) -> Round {
        let readiness = waitReadable(socket: PQsocket(session), timeout: options.livenessInterval)
        if readiness == .stop { return .stop }
        var lost: String?
        var silent = false
        if readiness == .readable {
            if PQconsumeInput(session) == 0 { lost = LibPQ.errorMessage(session) }
        } else {
            do {
                try LibPQ.simpleExec(session, "SELECT 1", timeout: options.livenessDeadline)
            } catch {
                lost = "\(error)"
                silent = (error as? PostgresError)?.code == .timeout
            }
        }
        drainNotifications(session, continuation)
        if let lost { return .lost(lost, silent: silent) }
        return LibPQ.isConnected(session) ? .alive : .lost(LibPQ.errorMessage(session), silent: false)
    }

    /// A session named `<application name> listener` (so that `pg_stat_activity` tells it apart).
    private func openListening() throws -> OpaquePointer {
        var named = configuration
        named.applicationName += " listener"
        let session = try LibPQ.connect(named, setupTimeout: options.livenessDeadline)
        do {
            if let history { try LibPQ.readHistory(session, into: history, timeout: options.livenessDeadline) }
            let statements = channels.map { "LISTEN \($0)" }.joined(separator: "; ")
            try LibPQ.simpleExec(session, statements, timeout: options.livenessDeadline)
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

    /// Waits for the session's socket (if any) or the stop pipe, at most `timeout`.
    private func waitReadable(socket: Int32?, timeout: Duration) -> Readiness {
        var fds = [pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&fds, nfds_t(fds.count), LibPQ.pollMilliseconds(timeout))
        if fds[0].revents != 0 || stopped.load(ordering: .relaxed) { return .stop }
        return ready > 0 ? .readable : .timeout
    }
}
