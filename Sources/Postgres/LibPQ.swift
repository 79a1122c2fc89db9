import CLibPQ
import Dispatch
import Foundation

/// The only place that turns libpq handles and results into Swift values. Every function here
/// runs on a connection's dispatch queue or the listener's own thread; none waits without a
/// deadline (see `LibPQ+Execute.swift`).
enum LibPQ {
    /// Opens a connection (libpq's `connect_timeout` bounds each host address; the conninfo
    /// gets `ConninfoDefaults` where the user set nothing), switches it to non-blocking mode and
    /// applies the session settings every statement here relies on within `setupTimeout`.
    static func connect(_ configuration: PostgresConfiguration, setupTimeout: Duration) throws -> OpaquePointer {
        guard let handle = PQconnectdb(configuration.conninfoWithDefaults()) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let error = PostgresError(code: .connectionFailed, message: connectionMessage(handle))
            PQfinish(handle)
            throw error
        }
        routeNotices(handle)
        do {
            guard PQsetnonblocking(handle, 1) == 0 else {
                throw PostgresError(code: .connectionFailed, message: connectionMessage(handle))
            }
            try simpleExec(
                handle,
                """
                SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET client_min_messages = warning;
                SET statement_timeout = \(max(0, configuration.statementTimeoutMilliseconds));
                SET jit = off;
                SELECT set_config('application_name', \(quoteLiteral(configuration.applicationName)), false)
                """, timeout: setupTimeout)
        } catch let error as PostgresError {
            drop(handle, cancelling: error.code == .timeout)
            throw error
        }
        return handle
    }

    /// Closes a session that will not be used again. With `cancelling`, the server is first
    /// asked to stop the statement still running there; `PQcancel` opens a connection of its
    /// own and may block, so it runs on `cancelQueue`, never on the caller's thread.
    static func drop(_ handle: OpaquePointer, cancelling: Bool) {
        if cancelling, let cancel = PQgetCancel(handle) {
            let request = CancelRequest(cancel)
            cancelQueue.async { request.send() }
        }
        PQfinish(handle)
    }

    /// Serial, so that cancel requests to an unreachable server block one thread at most.
    private static let cancelQueue = DispatchQueue(label: "molecule.postgres.cancel")

    /// `host:port` of a connection attempt and libpq's reason. libpq never puts the password
    /// in its messages.
    static func connectionMessage(_ handle: OpaquePointer) -> String {
        "cannot connect to PostgreSQL at \(address(handle)): \(errorMessage(handle))"
    }

    /// `host:port` of the session (of the last host tried, while connecting).
    static func address(_ handle: OpaquePointer) -> String {
        let host = PQhost(handle).map { String(cString: $0) } ?? "?"
        let port = PQport(handle).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)"
    }

    static func errorMessage(_ handle: OpaquePointer) -> String {
        guard let raw = PQerrorMessage(handle) else { return "unknown error" }
        let message = String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
        return message.isEmpty ? "unknown error" : message
    }

    static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func isConnected(_ handle: OpaquePointer) -> Bool {
        PQstatus(handle) == CONNECTION_OK
    }
}

/// A `PGcancel`, sent once and freed.
// @unchecked Sendable: the pointer is handed from the connection's thread to `cancelQueue` and
// used only there; `PGcancel` does not refer to the connection it was made from.
private final class CancelRequest: @unchecked Sendable {
    private let cancel: OpaquePointer

    init(_ cancel: OpaquePointer) {
        self.cancel = cancel
    }

    deinit {
        PQfreeCancel(cancel)
    }

    func send() {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }
}
