import ControllerHost
import CurlHTTP
import Foundation
import Postgres
import Providers
import ReconcileStore
import Synchronization
import Testing
import WorkspaceModel

@testable import AWSProviders

/// The secrets-bundle and instances controllers end to end on the AWS providers, against moto
/// with signatures checked.
@Suite("AWS controllers end to end (moto)")
struct AWSControllersTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    @Test("create: the bundle staged, one tagged instance; health from the heartbeat; a converged pass makes no mutating call")
    func createConverges() async throws {
        let world = try await AWSControllerWorld.make()
        let first = try await world.driver().tickUntilConverged(now: Self.t0)
        #expect(first.failures.isEmpty && first.actions.mutating == ["secret_store.put": 1, "instances.create": 1])
        let live = try await world.live()
        #expect(live.count == 1 && live[0].generation == 1 && world.launches() == 1)
        let bundle = try await world.bundle()
        #expect(
            bundle.contains("config.yaml") && bundle.contains("sk-live-123") && bundle.contains(#""instance_generation":"1""#))
        let staged = try await world.pool.query("SELECT staged_hash FROM secret_bundles WHERE key = $1::uuid", [world.workspace])
            .rows[0].decode(String.self, "staged_hash")
        #expect(try await world.secrets.describe(name: world.secretName)?.contentHash == staged)
        // The platform's heartbeat makes it running; then a full pass calls nothing that mutates.
        try await world.heartbeat(live[0].id, at: Self.t0 + 5)
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 6)
        #expect(try await world.row().phase == "running")
        let before = world.moto.transport.operations.count
        let check = try await world.driver().checkIdempotent(now: Self.t0 + 7)
        #expect(check.passed, "\(check.rowWrites) \(check.mutatingActions)")
        #expect(world.moto.mutations(since: before).isEmpty, "\(world.moto.mutations(since: before))")
        #expect(world.moto.transport.operations(since: before).contains("ec2.DescribeInstances"))
    }

    @Test("a lost RunInstances response is adopted on the next pass: no second instance (moto ignores ClientToken)")
    func lostResponseAdopted() async throws {
        let world = try await AWSControllerWorld.make()
        let lost = Mutex(false)
        world.moto.transport.intercept { operation, request in
            guard operation == "ec2.RunInstances", !lost.withLock({ $0 }) else { return nil }
            lost.withLock { $0 = true }
            _ = try await CurlHTTPClient().send(request)
            throw CurlHTTPClient.Failure(curlCode: CurlHTTPClient.Failure.timeoutCode, message: "Timeout was reached")
        }
        let first = try await world.driver().tickUntilConverged(now: Self.t0)
        #expect(first.failures.map(\.reason).contains("ProviderTimeout"))
        _ = try await world.driver(holder: "restarted").tickUntilConverged(now: Self.t0 + 3_600)
        #expect(try await world.live().count == 1)
        #expect(world.launches() == 1)
        #expect(try await world.row().lastError == nil)
    }

    @Test("restart: a new generation, the old instance terminated, the bundle re-derived from the template (seed 004)")
    func restartReplaces() async throws {
        let world = try await AWSControllerWorld.make()
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        let old = try await world.live()[0]
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        let live = try await world.live()
        #expect(live.count == 1 && live[0].generation == 2 && live[0].id != old.id)
        #expect(try await world.ec2.list(workspaceID: world.workspace).first { $0.id == old.id }?.state == .terminated)
        let bundle = try await world.bundle()
        #expect(bundle.contains(#""config.yaml":"a: 1""#) && bundle.contains(#""prompts/p.md":"hi""#))
        #expect(bundle.contains(#""instance_generation":"2""#) && bundle.contains("sk-live-123"))
        #expect(world.launches() == 2)
    }

    @Test(
        "stop terminates the instance; delete schedules the bundle's deletion with a recovery window and deletes the workspace's IAM role and profile"
    )
    func stopAndDelete() async throws {
        let world = try await AWSControllerWorld.make()
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        #expect(try await world.ec2.heldWorkspaces(owner: AWSControllerWorld.owner).contains(world.workspace))
        try await world.pool.query("UPDATE workspaces SET desired_state = 'stopped' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        #expect(try await world.live().isEmpty)
        #expect(try await world.row().phase == "stopped")
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 20)
        #expect(try await world.secrets.describe(name: world.secretName)?.scheduledForDeletion == true)
        #expect(try await world.live().isEmpty)
        #expect(world.moto.transport.operations.contains("iam.DeleteRole"))
        #expect(try await !world.ec2.heldWorkspaces(owner: AWSControllerWorld.owner).contains(world.workspace))
        let before = world.moto.transport.operations.count
        let check = try await world.driver().checkIdempotent(now: Self.t0 + 30)
        #expect(check.passed, "\(check.rowWrites) \(check.mutatingActions)")
        #expect(world.moto.mutations(since: before).isEmpty, "\(world.moto.mutations(since: before))")
    }

    @Test("seed 000 on moto: a bundle scheduled for deletion is restored and rewritten by the restart, never left failed")
    func seed000Moto() async throws {
        let world = try await AWSControllerWorld.make()
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        try await world.secrets.delete(name: world.secretName, recoveryWindowDays: 7)
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        let pass = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        #expect(pass.failures.isEmpty, "\(pass.failures)")
        #expect(try await world.secrets.describe(name: world.secretName)?.scheduledForDeletion == false)
        #expect(try await world.bundle().contains(#""instance_generation":"2""#))
        #expect(try await world.live().map(\.generation) == [2])
        #expect(try await world.row().lastError == nil)
        #expect(world.moto.transport.operations.contains("secretsmanager.RestoreSecret"))
    }

    @Test(
        "seed 000 with AWS's window: a deletion landing between describe and put, and a deleted-then-revived workspace, both heal"
    )
    func seed000AWSWindow() async throws {
        let world = try await AWSControllerWorld.make()
        let window = AWSDeletionWindow()
        window.install(on: world.moto.transport, racer: try world.moto.secretStore())
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        // The race: the restart's put finds the name just scheduled for deletion.
        window.deleteBeforeNextPut()
        try await world.pool.query(
            "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
        let pass = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        #expect(window.raced.withLock { $0 } == 1)
        #expect(pass.failures.isEmpty, "\(pass.failures)")
        #expect(try await world.bundle().contains(#""instance_generation":"2""#))
        #expect(try await world.live().map(\.generation) == [2])
        // Deleted (scheduled), then wanted again: restored and rewritten.
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [world.workspace])
        _ = try await world.driver().tickUntilConverged(now: Self.t0 + 20)
        #expect(try await world.secrets.describe(name: world.secretName)?.scheduledForDeletion == true)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'running' WHERE id = $1::uuid", [world.workspace])
        let revived = try await world.driver().tickUntilConverged(now: Self.t0 + 30)
        #expect(revived.failures.isEmpty, "\(revived.failures)")
        #expect(try await world.secrets.describe(name: world.secretName)?.scheduledForDeletion == false)
        #expect(try await world.bundle().contains("sk-live-123"))
        #expect(try await world.live().count == 1)
        #expect(try await world.row().lastError == nil)
    }

    @Test("a throttling storm: every error is throttled and backs off, the world converges with one instance")
    func throttlingStorm() async throws {
        let world = try await AWSControllerWorld.make()
        let remaining = Mutex(8)
        world.moto.transport.intercept { operation, _ in
            guard
                remaining.withLock({ count in
                    defer { count -= 1 }
                    return count > 0
                })
            else { return nil }
            return operation.hasPrefix("ec2.")
                ? RecordingTransport.xmlError(503, "RequestLimitExceeded", "Request limit exceeded.")
                : RecordingTransport.jsonError(400, "ThrottlingException", "Rate exceeded")
        }
        var failures: [String] = []
        var now = Self.t0
        for _ in 0..<12 {
            let pass = try await world.driver().tickUntilConverged(now: now)
            failures += pass.failures.map(\.reason)
            now += 30  // within the startup window: no heartbeat is expected yet
        }
        #expect(!failures.isEmpty && failures.allSatisfy { $0 == "ProviderThrottled" }, "\(failures)")
        #expect(try await world.live().count == 1)
        #expect(try await world.ec2.list(workspaceID: world.workspace).count == 1, "a throttled launch launched nothing")
        #expect(try await world.row().lastError == nil)
    }

    @Test("a workspace role IAM refuses to delete: last_error and an event name DeleteRole and the reason")
    func releaseFailureReported() async throws {
        let world = try await AWSControllerWorld.make()
        _ = try await world.driver().tickUntilConverged(now: Self.t0)
        try await world.pool.query("UPDATE workspaces SET desired_state = 'deleted' WHERE id = $1::uuid", [world.workspace])
        world.moto.transport.intercept { operation, _ in
            guard operation == "iam.DeleteRole" else { return nil }
            return RecordingTransport.xmlError(403, "AccessDenied", "User is not authorized to perform: iam:DeleteRole")
        }
        let pass = try await world.driver().tickUntilConverged(now: Self.t0 + 10)
        world.moto.transport.intercept(nil)
        #expect(pass.failures.contains { $0.controller == "instances" && $0.message.contains("DeleteRole") }, "\(pass.failures)")
        let lastError = try await world.row().lastError ?? ""
        #expect(lastError.contains("DeleteRole") && lastError.contains("AccessDenied"), "\(lastError)")
        let events = try await world.pool.query("SELECT message FROM events").rows.map { try $0.require(String.self, "message") }
        #expect(events.contains { $0.contains("DeleteRole") }, "\(events)")
        #expect(try await world.live().isEmpty)
        // Half released (the profile is gone, the role is not): the next release finishes it.
        #expect(try await world.ec2.heldWorkspaces(owner: AWSControllerWorld.owner).contains(world.workspace))
        #expect(try await world.ec2.release(workspaceID: world.workspace, owner: AWSControllerWorld.owner))
        #expect(try await !world.ec2.heldWorkspaces(owner: AWSControllerWorld.owner).contains(world.workspace))
    }

    @Test("a wrong secret key: the failure is in last_error and an event, and the key is in no row")
    func credentialsInNoRow() async throws {
        let marker = "MARKER-aws-secret-5f0c1d2e3b4a"
        var environment = try await MotoServer.shared.endpoint().environment
        environment["AWS_SECRET_ACCESS_KEY"] = marker
        let world = try await AWSControllerWorld.make(environment: environment)
        let pass = try await world.driver().tickUntilConverged(now: Self.t0)
        #expect(pass.failures.contains { $0.controller == "secret_bundles" && $0.terminal }, "\(pass.failures)")
        let lastError = try await world.row().lastError ?? ""
        #expect(lastError.contains("AuthFailure") || lastError.contains("SignatureDoesNotMatch"), "\(lastError)")
        let events = try await world.pool.query("SELECT message FROM events").rows.map { try $0.require(String.self, "message") }
        #expect(events.contains { $0.contains("SignatureDoesNotMatch") }, "\(events)")
        let tables = ["workspaces", "events", "secret_bundles", "instances", "leases"]
        for table in tables {
            let rows = try await world.pool.query("SELECT t::text AS row FROM \(table) t").rows
            for row in rows {
                #expect(try row.require(String.self, "row").contains(marker) == false, "\(table)")
            }
        }
        #expect(!pass.failures.contains { $0.message.contains(marker) })
    }
}
