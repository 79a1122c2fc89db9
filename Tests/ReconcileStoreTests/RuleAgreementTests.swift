import Foundation
import IngressModel
import Postgres
import PostgresTestSupport
import Providers
import Testing
import WorkspaceModel

/// The schema refuses at write time what the Swift model refuses when it reads: one rule, in two
/// languages. Each table runs through both and they must agree.
@Suite("schema rules agree with the Swift rules")
struct RuleAgreementTests {
    /// Every case of the three tables (~90) runs at once: enough sessions that none waits out the pool.
    static let database = Task { try await TestDatabase.create(poolSize: 8) }

    /// The refusal's message, or nil when the write was accepted.
    static func refusal(_ sql: String, _ parameters: [(any PostgresEncodable)?]) async throws -> String? {
        let pool = try await database.value
        do {
            try await pool.query(sql, parameters)
        } catch let error as PostgresError {
            return error.message
        }
        return nil
    }

    static let templatePaths: [(path: String, bytes: Int)] = [
        ("config.yaml", 1), ("prompts/system.md", 1), ("prompts/a/b/c.md", 1), ("prompts/.hidden", 1), ("prompts/..md", 1),
        ("prompts/名前.md", 1), ("prompts/with space.md", 1), ("prompts/\u{301}x", 1),
        ("", 1), ("/etc/passwd", 1), ("../x", 1), ("prompts/../config.yaml", 1), ("prompts/./x", 1), ("./config.yaml", 1),
        ("prompts", 1), ("prompts/", 1), ("prompts//x", 1), ("config.yaml/", 1), ("Config.yaml", 1), ("config.yml", 1),
        ("secrets.env", 1), ("prompts\\x", 1), ("prompts/a\nb", 1), ("config.yaml\n", 1), ("prompts/\u{202E}x", 1),
        ("prompts/\u{7F}", 1), ("prompts/\u{85}x", 1), ("/\u{301}etc", 1), ("prompts\u{301}/x", 1), ("config.yaml\u{200B}", 1),
        ("\u{FF50}rompts/x", 1), ("prompts/" + String(repeating: "x", count: 300), 1),
        ("prompts/é" + String(repeating: "x", count: 245), 1),
        ("prompts/big.md", 300_000), ("config.yaml", TemplateFiles.maxFileBytes),
    ]

    @Test("template file paths: TemplateFiles and the templates trigger", arguments: templatePaths)
    func templatePath(_ path: String, _ bytes: Int) async throws {
        let content = String(repeating: "x", count: bytes)
        let swift: String?
        do {
            _ = try TemplateFiles.validate([path: content])
            swift = nil
        } catch let rejection as TemplateFiles.Rejection {
            swift = rejection.reason
        }
        let sql = try await Self.refusal(
            """
            INSERT INTO templates (name, files) VALUES ('t-' || gen_random_uuid(), jsonb_build_object($1::text, $2::text))
            """, [path, content])
        // The same reason, after "templates.files: template file '<path>': ".
        let reason = sql.map { message in
            message.range(of: "': ", options: .backwards).map { String(message[$0.upperBound...]) } ?? message
        }
        #expect(swift == reason, "Swift: \(swift ?? "accepted"); SQL: \(sql ?? "accepted")")
        #expect(sql.map { $0.hasPrefix("templates.files: template file '") } ?? true, "\(sql ?? "")")
    }

    static let pathPatterns: [String] = [
        "/", "/*", "/api", "/api/*", "/api/v1/x.json", "/a~b/-_.", "/.well-known/*", "/...", "/..a", "/a.",
        "/" + String(repeating: "x", count: PathPattern.maxLength - 1),
        "", "api", "requests/*", "/api/", "//", "/a//b", "/a/../b", "/..", "/.", "/./*", "/../*", "/a/*/b", "/**", "/*/*",
        "/a*", "/files/(.*)", "/a b", "/a\n", "/é", "/a?b", "/a#b", "/%2e%2e", "*", "/api/*/", "/\u{301}api", "/api/*\u{301}",
        "/" + String(repeating: "x", count: PathPattern.maxLength),
    ]

    @Test("platform path patterns: PathPattern and the platform_paths trigger", arguments: pathPatterns)
    func pathPattern(_ pattern: String) async throws {
        let swift = (try? PathPattern(pattern)) != nil
        let sql = try await Self.refusal("INSERT INTO platform_paths (pattern) VALUES ($1)", [pattern])
        #expect(swift == (sql == nil), "Swift: \(swift ? "accepted" : "refused"); SQL: \(sql ?? "accepted")")
    }

    static let tunnelIDs: [String] = [
        "tunnel-acme", "a", "A_b-9", "6ff42ae2-765d-4adf-8112-31c55c1551ef", String(repeating: "t", count: TunnelID.maxLength),
        "", " ", "-rf", "_x", "../etc", ".", "..", "a.b", "a/b", "a b", "a\n", "tünnel", " a", "a\u{200B}",
        String(repeating: "t", count: TunnelID.maxLength + 1),
    ]

    @Test("tunnel IDs: TunnelID and the tenants trigger", arguments: tunnelIDs)
    func tunnelID(_ id: String) async throws {
        let swift = TunnelID.isValid(id)
        let sql = try await Self.refusal(
            """
            INSERT INTO tenants (name, hostname, tunnel_id)
            VALUES ('t-' || gen_random_uuid(), replace(gen_random_uuid()::text, '-', '') || '.example.com', $1)
            """, [id])
        #expect(swift == (sql == nil), "Swift: \(swift ? "accepted" : "refused"); SQL: \(sql ?? "accepted")")
    }
}
