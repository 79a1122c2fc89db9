import ArgumentParser
import Foundation
import LocalProviders
import LogEscaping
import Postgres
import WorkspaceModel
import WorkspaceStore

struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show everything known of one workspace (kubectl describe).")

    @Argument(help: "workspace")
    var kind: String

    @Argument(help: "ORG/NAME or the workspace's id.")
    var workspace: String

    @Option(name: .shortAndLong, help: "table, json or yaml.")
    var output: OutputFormat = .table

    @Option(help: "At most this many events, the newest.")
    var events = 20

    @OptionGroup var database: GlobalOptions
    @OptionGroup var providers: StateOptions

    func validate() throws {
        guard ["workspace", "workspaces", "ws"].contains(kind.lowercased()) else {
            throw ValidationError("describe knows workspace (describe workspace ORG/NAME), got '\(kind)'")
        }
    }

    struct Report: Codable {
        var detail: FleetQueries.WorkspaceDetail
        /// The runtime's log on the local provider.
        var logFile: String?
        /// Why restart_pending is set (the restart rule evaluated on the rows).
        var restartPendingReason: String?
        var remediationBudget: Int
    }

    func run() async throws {
        let reference = try WorkspaceLookup.reference(workspace)
        try await database.withDatabase(poolSize: 1, schema: .verify) { pool, _, _ in
            guard let detail = try await FleetQueries(pool: pool).selectDetail(reference, events: events) else {
                throw WorkspaceLookup.notFound(reference)
            }
            let explanation = try await Explain.explain(reference, pool: pool)
            let processes = LocalProcessProvider(
                directory: URL(fileURLWithPath: providers.stateDirectory(database)).appendingPathComponent("instances"),
                // Only its paths are used: nothing is started.
                runtimeExecutable: URL(fileURLWithPath: "/nonexistent/molecule-workspace-runtime"),
                secretStoreRoot: URL(fileURLWithPath: providers.stateDirectory(database)))
            let report = Report(
                detail: detail,
                logFile: detail.instance?.instanceID.map {
                    processes.logFile(workspaceID: detail.workspace.id, instanceID: $0).path
                },
                restartPendingReason: detail.workspace.restartPending
                    ? explanation.controllers.first { $0.controller == "instances" }?.why
                        .first { $0.contains("restart_pending") }
                        .map { $0.hasPrefix("restart_pending: ") ? String($0.dropFirst("restart_pending: ".count)) : $0 } : nil,
                remediationBudget: Remediation.Policy().budget)
            print(output.isStructured ? try output.encode(report) : Self.render(report))
        }
    }

    static func render(_ report: Report) -> String {
        let detail = report.detail
        let w = detail.workspace
        var lines: [String] = []
        func field(_ name: String, _ value: String, indent: Int = 0) {
            let label = String(repeating: " ", count: indent) + name + ":"
            lines.append(label.padding(toLength: max(label.count + 1, 22), withPad: " ", startingAt: 0) + LogEscape.escape(value))
        }
        field("Name", "\(w.org)/\(w.name)")
        field("ID", w.id)
        field("Kind", w.kind)
        field("Template", w.template ?? "<none>")
        field("Image", w.image)
        field("Desired State", w.desiredState)
        field("Restart Policy", detail.restartPolicy)
        field("Restart Requests", "\(detail.restartRequests)")
        field("Created", Timestamp.format(w.createdAt))
        field("Spec Updated", Timestamp.format(detail.updatedAt))
        field("Phase", w.phase)
        field("Last Error", w.lastError ?? "<none>")
        field(
            "Restart Pending",
            w.restartPending ? "true (\(report.restartPendingReason ?? "reason not derivable from the rows"))" : "false")
        lines.append("Instance:")
        if let instance = detail.instance {
            field("ID", instance.instanceID ?? "<none>", indent: 2)
            field("Generation", "\(instance.instanceGeneration) (target \(instance.targetGeneration))", indent: 2)
            field("State", instance.instanceState ?? "<none>", indent: 2)
            field("Address", instance.address ?? "<none>", indent: 2)
            field("Launched", Timestamp.format(instance.launchedAt), indent: 2)
            field("Log", report.logFile ?? "<none>", indent: 2)
            field("Unresponsive Since", Timestamp.format(instance.unresponsiveSince), indent: 2)
            field(
                "Remediation",
                "\(instance.remediations) of \(report.remediationBudget) used (last \(Timestamp.format(instance.lastRemediationAt)))",
                indent: 2)
        }
        lines.append("Bundle:")
        field("Version", detail.bundle?.stagedVersion ?? "<none>", indent: 2)
        field("Generation", detail.bundle?.stagedGeneration.map(String.init) ?? "<none>", indent: 2)
        field("Staged", Timestamp.format(detail.bundle?.stagedAt), indent: 2)
        if let heartbeat = detail.heartbeat {
            lines.append("Heartbeat:")
            field("Instance", heartbeat.instanceID, indent: 2)
            field("Ready", "\(heartbeat.ready)", indent: 2)
            field("Busy Since", Timestamp.format(heartbeat.busySince), indent: 2)
            field("Reported", Timestamp.format(heartbeat.reportedAt), indent: 2)
        }
        lines.append("Plugins:")
        lines.append(
            indented(
                detail.plugins.isEmpty
                    ? nil
                    : table(
                        ["PLUGIN", "DESIRED", "INSTALLED", "BOOT", "PRIVILEGED"],
                        detail.plugins.map {
                            [
                                $0.plugin, $0.desired ?? "<removed>", $0.installed ?? "<none>", "\($0.requiresRestart)",
                                "\($0.privileged)",
                            ]
                        })))
        lines.append("Conditions:")
        lines.append(
            indented(
                detail.conditions.isEmpty
                    ? nil
                    : table(
                        ["TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE"],
                        detail.conditions.map {
                            [$0.type, $0.status ?? "", $0.reason ?? "", $0.lastTransitionTime ?? "", $0.message ?? ""]
                        })))
        lines.append("Controllers:")
        lines.append(
            indented(
                table(
                    ["CONTROLLER", "GENERATION", "ATTEMPTS", "NEXT ATTEMPT", "LEASE", "LAST ERROR"],
                    detail.controllers.map {
                        [
                            $0.controller, "\($0.observedGeneration)/\($0.desiredGeneration)", "\($0.attempts)",
                            $0.nextAttemptAt == .distantFuture ? "never" : Timestamp.format($0.nextAttemptAt),
                            $0.leaseHeld ? "\($0.leaseHolder ?? "") until \(Timestamp.format($0.leaseExpiresAt))" : "free",
                            $0.lastError ?? "<none>",
                        ]
                    })))
        lines.append("Events:")
        lines.append(
            indented(
                detail.events.isEmpty
                    ? nil
                    : table(
                        ["LAST SEEN", "TYPE", "REASON", "CONTROLLER", "COUNT", "MESSAGE"],
                        detail.events.map {
                            [Age.format(seconds: $0.ageSeconds), $0.type, $0.reason, $0.controller, "\($0.count)", $0.message]
                        })))
        return lines.joined(separator: "\n")
    }

    private static func table(_ headers: [String], _ rows: [[String]]) -> String {
        var table = TextTable(headers: headers)
        for row in rows { table.append(row) }
        return table.render()
    }

    private static func indented(_ text: String?) -> String {
        (text ?? "<none>").split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }
}
