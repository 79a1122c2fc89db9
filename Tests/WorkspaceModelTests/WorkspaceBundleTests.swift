import Foundation
import Testing

@testable import WorkspaceModel

@Suite("workspace bundle")
struct WorkspaceBundleTests {
    let template = ["config.yaml": "model: m\n", "prompts/system.md": "You are the SEO agent."]

    func bundle(
        generation: Int64 = 1, files: [String: String]? = nil, org: [String: WorkspaceBundle.Secret] = [:],
        workspace: [String: WorkspaceBundle.Secret] = [:], token: String = "tok-1"
    ) throws -> WorkspaceBundle {
        try WorkspaceBundle(
            instanceGeneration: generation, templateFiles: files ?? template, orgSecrets: org,
            workspaceSecrets: workspace, instanceToken: token)
    }

    @Test("the same inputs give the same bytes and hash; the workspace's secret wins over the org's")
    func canonical() throws {
        let a = try bundle(
            org: ["K": .init(value: "org", runtimeConsumed: true)],
            workspace: ["K": .init(value: "ws", runtimeConsumed: true)])
        let b = try bundle(
            org: ["K": .init(value: "org", runtimeConsumed: true)],
            workspace: ["K": .init(value: "ws", runtimeConsumed: true)])
        #expect(a.canonicalData == b.canonicalData)
        #expect(a.hash == b.hash)
        #expect(a.secrets["K"]?.value == "ws")
        #expect(String(decoding: a.canonicalData, as: UTF8.self).contains("prompts/system.md"))
    }

    @Test("a change to a key the runtime does not consume restages but does not call for a restart")
    func nonConsumedKey() throws {
        let before = try bundle(workspace: ["AUDIT_TAG": .init(value: "a", runtimeConsumed: false)])
        let after = try bundle(workspace: [:])
        #expect(before.hash != after.hash)
        #expect(before.runtimeHash == after.runtimeHash)
        let consumed = try bundle(workspace: ["API_KEY": .init(value: "x", runtimeConsumed: true)])
        #expect(consumed.runtimeHash != after.runtimeHash)
    }

    @Test("a value JSON cannot encode is an error, never the staging or hashing of empty data")
    func encodingFailure() {
        #expect(throws: (any Error).self) { try WorkspaceBundle.canonical(["bad": Double.nan]) }
    }

    @Test("instance tokens are stable per generation and change with it")
    func tokens() {
        let g1 = InstanceToken.derive(seed: "seed", workspaceID: "ws", generation: 1)
        #expect(g1 == InstanceToken.derive(seed: "seed", workspaceID: "ws", generation: 1))
        #expect(g1 != InstanceToken.derive(seed: "seed", workspaceID: "ws", generation: 2))
        #expect(g1.count == 64)
    }

    static let refused: [(path: String, reason: String)] = [
        ("../etc/passwd", "the path escapes the template directory"),
        ("prompts/../../x", "the path escapes the template directory"),
        ("/config.yaml", "absolute paths are not allowed"),
        ("CLAUDE.md", "only config.yaml and prompts/** may be delivered"),
        ("prompts", "only config.yaml and prompts/** may be delivered"),
        ("prompts//a.md", "empty path segment"),
    ]

    @Test("files that may not be delivered are refused with the path and the reason", arguments: refused.indices)
    func refusedPaths(_ index: Int) throws {
        let (path, reason) = Self.refused[index]
        #expect(throws: TemplateFiles.Rejection(path: path, reason: reason)) {
            try bundle(files: template.merging([path: "x"]) { $1 })
        }
    }

    @Test("an oversized file is refused")
    func oversized() throws {
        let big = String(repeating: "x", count: TemplateFiles.maxFileBytes + 1)
        #expect(throws: TemplateFiles.Rejection.self) { try bundle(files: ["config.yaml": big]) }
    }
}

@Suite("restart decision (seed 000)")
struct RestartDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func inputs(
        kind: WorkspaceKind = .agent, policy: RestartPolicy = .auto, changed: Bool = true, byWorkspace: Bool = false,
        busy: Bool = false, changedSecondsAgo: TimeInterval = 60
    ) -> RestartDecision.Inputs {
        .init(
            kind: kind, restartPolicy: policy, runtimeHashChanged: changed, authoredByWorkspace: byWorkspace,
            busySince: busy ? now - 5 : nil, lastChangeAt: now - changedSecondsAgo, now: now, debounce: 10)
    }

    static let table: [(String, RestartDecision.Inputs, RestartDecision)] = [
        ("nothing the runtime consumes changed", inputs(changed: false), .none),
        ("an agent's consumed key changed, idle, quiet", inputs(), .restartNow),
        ("a burst of writes is debounced", inputs(changedSecondsAgo: 3), .debounce(until: now + 7)),
        ("a turn in progress defers the restart", inputs(busy: true), .waitForTurnEnd),
        (
            "a platform workspace is never auto-restarted", inputs(kind: .platform),
            .pending(reason: "platform workspaces are never restarted automatically")
        ),
        (
            "the workspace wrote its own secret", inputs(byWorkspace: true, busy: true),
            .pending(reason: "the workspace changed its own secrets; it restarts when it asks")
        ),
        ("restart_policy manual", inputs(policy: .manual), .pending(reason: "restart_policy is manual")),
    ]

    @Test("rules", arguments: table.indices)
    func rule(_ index: Int) {
        let (name, inputs, expected) = Self.table[index]
        #expect(RestartDecision.decide(inputs) == expected, "\(name)")
    }
}
