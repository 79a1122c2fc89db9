import ArgumentParser
import Foundation
import LogEscaping
import WorkspaceStore

struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a workspace has a condition or a phase (kubectl wait).",
        discussion:
            "Follows the database's notifications (LISTEN) and re-reads the workspace on each. Exits 0 once the condition holds, 1 on timeout (saying the workspace's current phase and Ready reason) or when the workspace does not exist.\n\nExample: wait workspace/acme/seo-1 --for condition=Ready --timeout 60s"
    )

    /// What `--for` asks.
    enum Target: Equatable {
        case condition(type: String, status: String)
        case phase(String)
    }

    @Argument(help: "workspace/ORG/NAME (or workspace/ID).")
    var workspace: String

    @Option(name: .customLong("for"), help: "condition=TYPE[=True|False] or phase=PHASE.")
    var condition: String

    @Option(help: "How long to wait: 60s, 2m, 500ms (default 30s).")
    var timeout = "30s"

    @OptionGroup var database: GlobalOptions

    func validate() throws {
        _ = try Self.reference(workspace)
        _ = try Self.target(condition)
        _ = try Self.duration(timeout)
    }

    func run() async throws {
        let (reference, target, limit) = (try Self.reference(workspace), try Self.target(condition), try Self.duration(timeout))
        try await database.withDatabase(poolSize: 1, schema: .verify) { pool, databaseTarget, logger in
            let queries = FleetQueries(pool: pool)
            var current = "not read yet"
            let met = try await ChangeFeed.follow(databaseTarget.configuration, logger: logger, timeout: limit) {
                guard let detail = try await queries.selectDetail(reference, events: 0) else {
                    throw WorkspaceLookup.notFound(reference)
                }
                let ready = detail.conditions.first { $0.type == "Ready" }
                current =
                    "phase \(detail.workspace.phase), Ready \(ready?.status ?? "Unknown")"
                    + (ready.map { " (\($0.reason ?? ""): \($0.message ?? ""))" } ?? "")
                switch target {
                case .phase(let phase):
                    return detail.workspace.phase == phase
                case .condition(let type, let status):
                    return detail.conditions.first { $0.type.lowercased() == type.lowercased() }?.status?.lowercased()
                        == status.lowercased()
                }
            }
            guard met else {
                throw CommandFailure.Message(
                    text:
                        "timed out after \(timeout) waiting for workspace/\(reference) \(condition): \(LogEscape.escape(current))"
                )
            }
            print("workspace/\(reference) \(condition) met")
        }
    }

    static func reference(_ text: String) throws -> WorkspaceReference {
        for prefix in ["workspace/", "workspaces/", "ws/"] where text.lowercased().hasPrefix(prefix) {
            return try WorkspaceLookup.reference(String(text.dropFirst(prefix.count)))
        }
        throw ValidationError("wait names workspace/ORG/NAME or workspace/ID, got '\(text)'")
    }

    static func target(_ text: String) throws -> Target {
        let parts = text.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first?.lowercased(), parts.count) {
        case ("condition", 2) where !parts[1].isEmpty: return .condition(type: parts[1], status: "True")
        case ("condition", 3) where !parts[1].isEmpty && ["true", "false"].contains(parts[2].lowercased()):
            return .condition(type: parts[1], status: parts[2])
        case ("phase", 2) where !parts[1].isEmpty: return .phase(parts[1])
        default:
            throw ValidationError("--for takes condition=TYPE[=True|False] or phase=PHASE, got '\(text)'")
        }
    }

    static func duration(_ text: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            if let value = Double(text.dropLast(unit.count)), value >= 0 { return .milliseconds(Int64(value * scale * 1000)) }
        }
        if let value = Double(text), value >= 0 { return .milliseconds(Int64(value * 1000)) }
        throw ValidationError("--timeout takes a duration such as 60s, 2m or 500ms, got '\(text)'")
    }
}
