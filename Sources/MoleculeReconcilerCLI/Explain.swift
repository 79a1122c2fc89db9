import ArgumentParser
import Foundation
import LogEscaping
import Postgres
import WorkspaceStore

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say why a workspace is not converged now, and what each controller would do next.",
        discussion:
            "Evaluates the controllers' own decisions on the rows as they are: read-only (no provider is called, nothing is written). The instance on record stands for what the provider would list."
    )

    @Argument(help: "ORG/NAME or the workspace's id.")
    var workspace: String

    @Option(name: .shortAndLong, help: "table, json or yaml.")
    var output: OutputFormat = .table

    @OptionGroup var database: GlobalOptions

    func run() async throws {
        let reference = try WorkspaceLookup.reference(workspace)
        try await database.withDatabase(poolSize: 1, schema: .verify) { pool, _, _ in
            let explanation = try await Self.explain(reference, pool: pool)
            print(output.isStructured ? try output.encode(explanation) : Self.render(explanation))
        }
    }

    static func explain(_ reference: WorkspaceReference, pool: PostgresPool) async throws -> Explanation {
        let queries = FleetQueries(pool: pool)
        let store = InstanceStore(pool: pool)
        guard let detail = try await queries.selectDetail(reference, events: 0),
            let (facts, now) = try await store.selectFacts(workspaceID: detail.workspace.id, now: nil)
        else { throw WorkspaceLookup.notFound(reference) }
        return Explainer(detail: detail, facts: facts, now: now, fleet: try await store.selectFleetHealth()).explain()
    }

    static func render(_ explanation: Explanation) -> String {
        var lines = [
            "workspace \(explanation.workspace) (\(explanation.id)): "
                + (explanation.converged ? "converged" : "not converged")
                + " (phase \(explanation.phase), Ready \(explanation.ready))"
        ]
        for controller in explanation.controllers {
            lines.append("\(controller.controller): \(controller.reasons.map(\.rawValue).joined(separator: ", "))")
            for why in controller.why { lines.append("  why:  \(LogEscape.escape(why))") }
            for next in controller.next { lines.append("  next: \(LogEscape.escape(next))") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Naming a workspace on the command line.
enum WorkspaceLookup {
    static func reference(_ text: String) throws -> WorkspaceReference {
        guard let reference = WorkspaceReference(text) else {
            throw ValidationError("a workspace is named ORG/NAME or by its id, got '\(text)'")
        }
        return reference
    }

    static func notFound(_ reference: WorkspaceReference) -> CommandFailure.Message {
        CommandFailure.Message(text: "workspace \(reference) not found")
    }
}
