import Logging
import Postgres

/// Routes the listener's events to the controllers. A notification only names a key (or `*`,
/// "many keys changed"); the controller re-reads everything. Every (re)connection is followed
/// by a due resync of every controller, because notifications sent while no session listened
/// are lost. When a listening session is lost (the server died or stopped answering), the
/// pool's sessions, on the same server, are cut at once rather than left waiting out their
/// statement deadlines: the batches they carried are retried on new sessions.
struct Watch: Sendable {
    let listener: PostgresListener
    let pool: PostgresPool
    let runners: [String: ControllerRunner]
    let logger: Logger

    func run() async {
        var listening = false
        for await event in listener.events() {
            switch event {
            case .connected(let reconnected):
                listening = true
                logger.info(reconnected ? "listener reconnected; resyncing" : "listener connected; resyncing")
                for runner in runners.values { runner.requestResync() }
            case .notification(let channel, let payload):
                guard let runner = runners[channel] else { continue }
                if payload == "*" {
                    runner.requestResync()
                } else {
                    runner.enqueue(payload)
                }
            case .disconnected(let reason):
                logger.warning("listener disconnected", metadata: ["reason": "\(reason)"])
                // Only for a session lost, not for each failed attempt to open the next one.
                if listening { pool.abandonSessions() }
                listening = false
            }
        }
    }
}
