import Logging
import Postgres

/// Routes the listener's events to the controllers. A notification only names a key (or `*`,
/// "many keys changed"); the controller re-reads everything. Every (re)connection is followed
/// by a due resync of every controller, because notifications sent while no session listened
/// are lost.
struct Watch: Sendable {
    let listener: PostgresListener
    let runners: [String: ControllerRunner]
    let logger: Logger

    func run() async {
        for await event in listener.events() {
            switch event {
            case .connected(let reconnected):
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
            }
        }
    }
}
