import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import ReconcileStore
import Testing

extension RuntimeFaultTests {
    /// A fleet under two `run` replicas on a `ReplicatedCluster`, reached through the host list
    /// with `target_session_attrs=read-write` as an HA deployment does; the test's own pool
    /// follows the primary the same way. `tearDown()` removes the fleet, then the cluster.
    struct FailoverFleet {
        static let workspaces = 6
        let cluster: ReplicatedCluster
        let fleet: LiveFleet
        var world: DesiredWorld
        let census: RuntimeCensus

        /// - Parameter sweepInterval: the replicas' orphan sweep interval, in seconds.
        static func converged(_ name: String, synchronous: Bool, sweepInterval: Int = 1) async throws -> FailoverFleet {
            let cluster = try await ReplicatedCluster.start(synchronous: synchronous) { configuration in
                let pool = PostgresPool(configuration: configuration, size: 1)
                try await Migrator(pool: pool, logger: TestDatabase.logger).migrate()
                await pool.close()
            }
            do {
                // The test's own statements give up on a hung server after 3 s, and retry.
                var configuration = PostgresConfiguration(conninfo: cluster.multiHostConninfo)
                configuration.statementTimeoutMilliseconds = 2_000
                configuration.statementDeadlineMarginMilliseconds = 1_000
                let pool = PostgresPool(configuration: configuration, size: 2)
                let fleet = try await LiveFleet.create(name, pool: pool)
                var world = DesiredWorld(fleet: fleet)
                for index in 0..<workspaces { try await world.addWorkspace("w\(index)", kind: index == 0 ? "platform" : "agent") }
                let census = RuntimeCensus(stateDir: fleet.stateDir, interval: .milliseconds(100))
                for _ in 0..<2 { try fleet.startReplica(sweepInterval: sweepInterval) }
                try await fleet.expectRunning(Set(world.workspaces.keys), seconds: 60)
                return FailoverFleet(cluster: cluster, fleet: fleet, world: world, census: census)
            } catch {
                cluster.tearDown()
                throw error
            }
        }

        func tearDown() {
            census.stop()
            fleet.tearDown()
            cluster.tearDown()
        }

        /// Waits until `world`'s problems are none (retrying through the reconnects a failover
        /// causes); returns how long it took from `since`, or nil after `seconds`.
        func converged(_ world: DesiredWorld, since: ContinuousClock.Instant, seconds: Double) async throws -> (
            Duration?, [String]
        ) {
            var problems: [String] = ["not looked at yet"]
            let done = try await eventually(seconds, every: .milliseconds(200)) {
                guard let found = try await following({ try await world.problems() }) else { return false }
                problems = found
                return found.isEmpty
            }
            return (done ? ContinuousClock.now - since : nil, problems)
        }

        /// `/readyz` of each replica: its status code (nil when it did not answer) and how long it took.
        func readiness() async -> [(status: Int?, took: Duration)] {
            var answers: [(Int?, Duration)] = []
            for port in fleet.healthPorts.values.sorted() {
                let started = ContinuousClock.now
                let response = try? await CurlHTTPClient().send(
                    .init(url: "http://127.0.0.1:\(port)/readyz", timeoutMilliseconds: 2_000))
                answers.append((response.map { Int($0.status) }, ContinuousClock.now - started))
            }
            return answers
        }

        /// `molecule_database_timeline_changes_total` of each replica (nil when unreadable).
        func timelineChanges() async -> [Int?] {
            var counts: [Int?] = []
            for port in fleet.healthPorts.values.sorted() {
                let response = try? await CurlHTTPClient().send(
                    .init(url: "http://127.0.0.1:\(port)/metrics", timeoutMilliseconds: 2_000))
                let line = response.flatMap { response in
                    String(decoding: response.body, as: UTF8.self).split(separator: "\n")
                        .first { $0.hasPrefix("molecule_database_timeline_changes_total") }
                }
                counts.append(line.flatMap { $0.split(separator: " ").last.flatMap { Int($0) } })
            }
            return counts
        }

        /// The value of a workspace's `API_KEY` secret in the database now.
        func secret(of workspace: String) async throws -> String? {
            try await retryingThroughFailover {
                try await fleet.pool.query(
                    "SELECT value FROM workspace_secrets WHERE workspace_id = $1::uuid AND key = 'API_KEY'", [workspace]
                ).rows.first?.require(String.self, "value")
            }
        }

        /// The controllers that recorded a `DatabaseWentBack` Normal event for `key`.
        func wentBackEvents(_ key: String) async throws -> Set<String> {
            try await following {
                Set(
                    try await fleet.pool.query(
                        "SELECT controller FROM events WHERE key = $1::uuid AND reason = 'DatabaseWentBack' AND type = 'Normal'",
                        [key]
                    ).rows.map { try $0.require(String.self, "controller") })
            } ?? []
        }
    }
}

/// `body`, or nil when the session was lost (a failover under way; the next call reconnects
/// through the host list).
func following<T>(_ body: () async throws -> T) async throws -> T? {
    do {
        return try await body()
    } catch let error as PostgresError where error.isConnectionLevel {
        return nil
    }
}

/// `body` until it gets through a failover, for at most `seconds`.
func retryingThroughFailover<T>(seconds: Double = 40, _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch let error as PostgresError where error.isConnectionLevel && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

func figure(_ duration: Duration?) -> String {
    duration.map { String(format: "%.1f s", $0.inSeconds) } ?? "never"
}
