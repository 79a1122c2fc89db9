import Foundation
import Logging
import Postgres
import WorkspaceStore

/// What `get -w` and `wait` follow: a LISTEN session on the schema's status channel and the
/// controllers' channels (no polling). The caller re-reads the rows each time something may
/// have changed: once the session listens (notifications sent before it are lost, so the
/// first read comes after), then after each notification or reconnection.
enum ChangeFeed {
    static var channels: [String] { [FleetQueries.statusChannel] + ControllerName.allCases.map(\.rawValue) }

    /// Calls `reread` until it returns true (then returns true), or until `timeout` passes
    /// (then returns false). Without a timeout it follows until the process is interrupted.
    static func follow(
        _ configuration: PostgresConfiguration, logger: Logger, timeout: Duration?,
        reread: () async throws -> Bool
    ) async throws -> Bool {
        let listener = PostgresListener(configuration: configuration, channels: channels, logger: logger)
        let stream = listener.events()
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: timeout)
                listener.stop()
            }
        }
        defer {
            timer?.cancel()
            listener.stop()
        }
        for await event in stream {
            switch event {
            case .connected, .notification:
                if try await reread() { return true }
            case .disconnected:
                continue
            }
        }
        return false
    }
}
