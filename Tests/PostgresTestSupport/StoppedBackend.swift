import Foundation
import Postgres

/// A PostgreSQL server process stopped with SIGSTOP: its sockets stay open and nothing answers,
/// as with a hung server or a network that drops packets silently. Tests run as root (the
/// server as `postgres`); call `resume()` in a `defer` so the server is never left stopped.
public struct StoppedBackend: Sendable {
    public let pid: Int32

    public init(pid: Int32) throws {
        guard kill(pid, SIGSTOP) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        self.pid = pid
    }

    public func resume() {
        kill(pid, SIGCONT)
    }
}

extension TestDatabase {
    /// The server pid of the one session of this database whose `application_name` ends with
    /// `suffix` (e.g. " listener"), waiting up to `within` for it to appear.
    public static func backendPID(
        _ pool: PostgresPool, applicationNameSuffix suffix: String,
        within: Duration = .seconds(10)
    ) async throws -> Int32? {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            let rows = try await pool.query(
                """
                SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name LIKE '%' || $1
                """, [suffix]
            ).rows
            if rows.count == 1 { return try rows[0].require(Int32.self, "pid") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

extension StoppedBackend {
    /// Resumes a process stopped earlier (for a `defer` outside the scope that stopped it).
    public static func resume(pid: Int32) {
        kill(pid, SIGCONT)
    }
}
