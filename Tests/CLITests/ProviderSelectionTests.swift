import Foundation
import Postgres
import PostgresTestSupport
import Testing

/// Choosing the cloud providers from the command line: a setting that cannot work is a start-up
/// error naming it (exit 1), before any key is reconciled; nothing is written meanwhile.
/// An EC2 launch that is complete but for the setting a case adds.
private let ec2Launch = [
    "--instances", "ec2", "--secret-store", "aws", "--aws-region", "eu-west-1", "--ec2-image-id", "ami-0123456789abcdef0",
]

@Suite("provider selection")
struct ProviderSelectionTests {
    @Test(
        "ec2, aws and cloudflare: what is missing or cannot go together is named at start, and no key is touched",
        arguments: [
            (["--instances", "ec2", "--secret-store", "aws", "--aws-region", "eu-west-1"], "--ec2-image-id"),
            (["--instances", "ec2", "--ec2-image-id", "ami-0123456789abcdef0"], "--secret-store"),
            (["--secret-store", "aws"], "--secret-store"),
            (["--tunnels", "cloudflare"], "--cloudflare-account-id"),
            (["--tunnels", "cloudflare", "--cloudflare-account-id", "not an account"], "account id"),
            (["--instances", "lambda"], "--instances"),
            (ec2Launch + ["--ec2-instance-profile", "molecule-workspace"], "ec2.instanceProfile"),
            (ec2Launch + ["--ec2-role-prefix", "not a prefix"], "ec2.rolePrefix"),
        ])
    func startUpErrors(_ arguments: [String], _ named: String) async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("INSERT INTO workspaces (org, name, image) VALUES ('acme', 'w1', 'img')")
        let tick = try CommandLineTests.run(
            ["tick", "--state-dir", NSTemporaryDirectory() + "molecule-selection-\(UUID().uuidString)"] + arguments
                + ["--database-url", pool.configuration.conninfo, "--log-level", "error"])
        #expect(tick.status != 0, "\(tick.output)")
        #expect(tick.output.contains(named), "\(tick.output)")
        let touched = try await pool.query("SELECT count(*) AS n FROM instances WHERE observed_generation > 0").rows[0]
            .require(Int64.self, "n")
        #expect(touched == 0)
    }
}
