import Foundation
import Synchronization
import Testing

@testable import AWSProviders

/// The instances controller launches each generation on exactly its staged bundle: the
/// `VersionId` the secrets-bundle controller staged (`secret_bundles.staged_version`) is the one
/// RunInstances' user data names, and a restart's new instance names the new version.
@Suite("EC2 boots the generation's bundle version (moto)")
struct EC2BundleVersionTests {
    static let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    @Test("user data names the staged VersionId, which Secrets Manager reports current; a restart names the new one")
    func userDataNamesStagedVersion() async throws {
        let world = try await AWSControllerWorld.make()
        let scripts = Mutex<[String]>([])
        world.moto.transport.intercept { operation, request in
            guard operation == "ec2.RunInstances" else { return nil }
            let body = String(decoding: request.body ?? Data(), as: UTF8.self)
            let encoded = body.split(separator: "&").first { $0.hasPrefix("UserData=") }?.dropFirst("UserData=".count)
            let text = encoded.flatMap { $0.removingPercentEncoding }.flatMap { Data(base64Encoded: $0) }
            scripts.withLock { $0.append(text.map { String(decoding: $0, as: UTF8.self) } ?? "") }
            return nil
        }
        for (generation, at) in [(1, Self.t0), (2, Self.t0 + 10)] {
            if generation == 2 {
                try await world.pool.query(
                    "UPDATE workspaces SET restart_requests = restart_requests + 1 WHERE id = $1::uuid", [world.workspace])
            }
            _ = try await world.driver().tickUntilConverged(now: at)
            let staged = try await world.pool.query(
                "SELECT staged_version FROM secret_bundles WHERE key = $1::uuid", [world.workspace]
            ).rows[0].decode(String.self, "staged_version")
            let current = try await world.secrets.describe(name: world.secretName)?.currentVersion
            #expect(staged != nil && staged == current)
            let script = scripts.withLock { $0 }.last ?? ""
            #expect(scripts.withLock { $0.count } == generation)
            #expect(script.contains("export MOLECULE_BUNDLE_VERSION_ID='\(current ?? "-")'"), "\(script)")
            #expect(script.contains("export MOLECULE_GENERATION='\(generation)'") && !script.contains("AWSCURRENT"))
            #expect(!script.contains("sk-live-123"))
        }
    }
}
