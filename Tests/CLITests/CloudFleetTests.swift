import CurlHTTP
import Foundation
import Postgres
import PostgresTestSupport
import Providers
import Testing

/// The real binary on the cloud providers (`--instances ec2 --secret-store aws --tunnels
/// cloudflare`) against moto (every request's signature checked, every request recorded by
/// moto) and the Cloudflare contract server: the fleet converges, a restart replaces the
/// instance and re-derives the bundle, a delete terminates and schedules the bundle's
/// deletion, a platform path reaches every tenant, and `tick --check-idempotent` over the
/// converged fleet makes no mutating call — counted on the servers' side.
///
/// Serialized: the tests share one moto and count its recorded requests between two points.
@Suite("cloud fleet through the binary (moto, Cloudflare contract)", .serialized)
struct CloudFleetTests {
    static let names = ["seo-1", "seo-2", "writer"]

    @Test("ticks converge the fleet; check-idempotent makes no mutating call; restart, platform path and delete")
    func ticks() async throws {
        let fleet = try await CloudFleet.make()
        defer { try? FileManager.default.removeItem(atPath: fleet.stateDir) }

        // Converge: each workspace's bundle staged in Secrets Manager and one instance launched;
        // every tenant's tunnel configured.
        let launched = try await fleet.tick(until: {
            for name in Self.names where try await fleet.recordedInstance(name) == nil { return false }
            return true
        })
        #expect(launched.met, "\(launched.log)")
        // The recording is what the idempotency checks below count: it saw the launches.
        let converging = try fleet.moto.recordedActions()
        #expect(converging.filter { $0 == "ec2.RunInstances" }.count >= 3, "\(converging)")
        #expect(converging.contains("secretsmanager.CreateSecret"), "\(converging)")
        for name in Self.names {
            let live = try await fleet.live(name)
            #expect(live.count == 1 && live.first?.generation == 1, "\(name): \(live)")
            let recorded = try await fleet.recordedInstance(name)
            #expect(live.first?.id == recorded)
            let staged = try await fleet.query(
                "SELECT staged_version FROM secret_bundles WHERE key = $1::uuid", [fleet.workspaces[name]!])[0]
                .decode(String.self, "staged_version")
            let current = try await fleet.currentVersion(name)
            #expect(staged != nil && staged == current, "\(name)")
        }
        for tenant in ["acme", "globex"] {
            let rules = fleet.rules(tenant)
            #expect(
                rules.contains { $0.hasPrefix("^/api(/|$) -> http://") } && rules.contains { $0.hasPrefix("* -> ") }, "\(rules)")
        }

        // The platform reports each instance ready (its heartbeat rows): every workspace runs.
        try await fleet.heartbeat(Self.names)
        let running = try await fleet.tick(until: {
            for name in Self.names where try await fleet.phase(name) != "running" { return false }
            return true
        })
        #expect(running.met, "\(running.log)")
        let ready = try await fleet.query(
            "SELECT count(*) AS n FROM workspaces WHERE conditions -> 'Ready' ->> 'status' = 'True'")[0]
        #expect(try ready.require(Int.self, "n") == 3)

        // User data names the secret and the version Secrets Manager reports for the staged
        // bundle, and holds no value; that version is the generation's bundle.
        for name in Self.names {
            try await Self.expectUserData(fleet, name, generation: 1)
        }

        // The converged fleet: the check pass calls nothing that mutates, on either server.
        try await Self.expectIdempotent(fleet)

        // Restart: a new generation, the old instance terminated, the bundle re-derived from
        // the template and booted by exactly its version.
        let old = try #require(try await fleet.recordedInstance("seo-1"))
        let oldVersion = try await fleet.currentVersion("seo-1")
        try await fleet.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [fleet.workspaces["seo-1"]!])
        let replaced = try await fleet.tick(until: {
            try await fleet.live("seo-1").map(\.generation) == [2]
        })
        #expect(replaced.met, "\(replaced.log)")
        #expect(try await fleet.instances("seo-1").first { $0.id == old }?.state == .terminated)
        let newVersion = try await fleet.currentVersion("seo-1")
        #expect(newVersion != nil && newVersion != oldVersion)
        let bundle = try await fleet.secretValue("seo-1", version: try #require(newVersion))
        #expect(bundle.contains(#""instance_generation":"2""#), "\(bundle.prefix(200))")
        #expect(bundle.contains("You write.") && bundle.contains(CloudFleet.secretValues[0]))
        try await Self.expectUserData(fleet, "seo-1", generation: 2)
        try await fleet.heartbeat(["seo-1"])
        let restarted = try await fleet.tick(until: { try await fleet.phase("seo-1") == "running" })
        #expect(restarted.met, "\(restarted.log)")
        for name in ["seo-2", "writer"] {
            #expect(try await fleet.live(name).map(\.generation) == [1], "\(name) was not restarted")
        }

        // A platform path reaches every tenant's tunnel: one PUT per tunnel.
        let putsBefore = fleet.calls("PUT")
        try await fleet.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")
        let routed = try await fleet.tick(until: {
            fleet.rules("acme").contains("^/requests(/|$) -> http://10.0.1.1:8080")
                && fleet.rules("globex").contains("^/requests(/|$) -> http://10.0.2.1:8080")
        })
        #expect(routed.met, "\(routed.log)\n\(fleet.rules("acme"))\n\(fleet.rules("globex"))")
        #expect(fleet.calls("PUT") == putsBefore + 2)

        // Delete: the instance terminated, the bundle scheduled for deletion.
        let deleted = try #require(try await fleet.recordedInstance("seo-2"))
        try await fleet.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [fleet.workspaces["seo-2"]!])
        let gone = try await fleet.tick(until: {
            guard try await fleet.live("seo-2").isEmpty else { return false }
            return try await fleet.scheduledForDeletion("seo-2")
        })
        #expect(gone.met, "\(gone.log)")
        #expect(try await fleet.instances("seo-2").first { $0.id == deleted }?.state == .terminated)
        #expect(try await fleet.live("seo-1").count == 1)
        #expect(try await fleet.live("writer").count == 1)

        // And the world after all that is converged too.
        try await Self.expectIdempotent(fleet)
    }

    @Test("a short run converges the fleet on the cloud providers, follows a heartbeat and a platform path, stops on SIGTERM")
    func shortRun() async throws {
        let fleet = try await CloudFleet.make()
        defer { try? FileManager.default.removeItem(atPath: fleet.stateDir) }
        let process = Process()
        process.executableURL = CloudFleet.products.appendingPathComponent("molecule-reconciler")
        process.arguments = ["run", "--http-port", "\(CrashRestartTests.sidecarPort())"] + fleet.providerArguments
        process.environment = fleet.environment
        let log = NSTemporaryDirectory() + "molecule-cloud-run-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: log)
        }
        func sidecarLog() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        let launched = try await Self.wait {
            for name in Self.names where try await fleet.recordedInstance(name) == nil { return false }
            return !fleet.rules("acme").isEmpty && !fleet.rules("globex").isEmpty
        }
        #expect(launched, "\(sidecarLog())")
        try await fleet.heartbeat(Self.names)
        let running = try await Self.wait {
            for name in Self.names where try await fleet.phase(name) != "running" { return false }
            return true
        }
        #expect(running, "\(sidecarLog())")
        for name in Self.names {
            #expect(try await fleet.live(name).count == 1, "\(name)")
        }
        try await fleet.query("INSERT INTO platform_paths (pattern, service) VALUES ('/requests/*', 'platform')")
        let routed = try await Self.wait {
            fleet.rules("acme").contains("^/requests(/|$) -> http://10.0.1.1:8080")
                && fleet.rules("globex").contains("^/requests(/|$) -> http://10.0.2.1:8080")
        }
        #expect(routed, "\(sidecarLog())")

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(sidecarLog())")
    }

    /// Polls `condition` every 200 ms for up to 60 s.
    static func wait(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// The workspace's live instance boots exactly its generation's bundle: its user data names
    /// the secret and the version `DescribeSecret` labels current, that version holds the
    /// generation's bundle, and no secret value or credential is in the script.
    static func expectUserData(_ fleet: CloudFleet, _ name: String, generation: Int64) async throws {
        let instance = try #require(try await fleet.live(name).first { $0.generation == generation }, "\(name)")
        let script = try await fleet.userData(instance: instance.id)
        let version = try #require(try await fleet.currentVersion(name))
        #expect(script.contains("export MOLECULE_BUNDLE_SECRET='\(fleet.secretName(name))'"), "\(script)")
        #expect(script.contains("export MOLECULE_BUNDLE_VERSION_ID='\(version)'"), "\(script)")
        #expect(script.contains("export MOLECULE_GENERATION='\(generation)'"), "\(script)")
        #expect(!script.contains("AWSCURRENT"), "\(script)")
        for value in CloudFleet.secretValues + [fleet.moto.secretAccessKey, fleet.token] {
            #expect(!script.contains(value), "user data of \(name) holds a secret")
        }
        let bundle = try await fleet.secretValue(name, version: version)
        #expect(bundle.contains(#""instance_generation":"\#(generation)""#), "\(name)")
    }

    /// `tick --check-idempotent` passes, and the servers saw the check pass read and nothing
    /// mutate: no mutating AWS action in moto's recording, no PUT on the contract server.
    static func expectIdempotent(_ fleet: CloudFleet) async throws {
        // The platform's still-alive reports (no transition: no controller wakes), from a session
        // that ends before the check counts writes.
        try await fleet.query("UPDATE workspace_runtime_status SET reported_at = now()")
        let recorded = try fleet.moto.recordedActions().count
        let puts = fleet.calls("PUT")
        let gets = fleet.calls("GET")
        let check = try fleet.tick(["--check-idempotent", "--converge-timeout", "5"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("idempotent: the check pass made no provider mutation and wrote no row"), "\(check.output)")
        let during = Array(try fleet.moto.recordedActions().dropFirst(recorded))
        #expect(CloudMoto.Endpoint.mutating(during).isEmpty, "\(CloudMoto.Endpoint.mutating(during))")
        #expect(during.contains("ec2.DescribeInstances") && during.contains("secretsmanager.DescribeSecret"), "\(during)")
        #expect(fleet.calls("PUT") == puts)
        #expect(fleet.calls("GET") > gets)
    }
}
