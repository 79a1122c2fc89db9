import Foundation
import LogEscaping
import WorkspaceStore

/// The rows `get` prints, read and rendered for one resource.
struct Listing {
    let resource: Get.Resource
    let output: OutputFormat
    let org: String?
    let limit: Int
    let queries: FleetQueries

    /// One printed row: an identity (to notice it changed under `-w`), its cells, its value.
    struct Row {
        var id: String
        var cells: [String]
        var value: any Encodable & Sendable
    }

    var headers: [String] {
        let wide = output == .wide
        switch resource {
        case .workspaces:
            return ["ORG", "NAME", "KIND", "PHASE", "READY", "RESTART-PENDING", "INSTANCE", "AGE"]
                + (wide ? ["DESIRED", "ADDRESS", "IMAGE", "REASON", "ERROR"] : [])
        case .tenants:
            return ["NAME", "HOSTNAME", "TUNNEL", "RULES", "SKIPPED", "CONVERGED", "ERROR", "AGE"] + (wide ? ["APPLIED"] : [])
        case .plugins:
            return ["ORG", "WORKSPACE", "PLUGIN", "DESIRED", "INSTALLED", "BOOT"] + (wide ? ["PRIVILEGED", "ERROR"] : [])
        case .events:
            return ["LAST SEEN", "TYPE", "REASON", "OBJECT", "CONTROLLER", "COUNT", "MESSAGE"]
        }
    }

    func read() async throws -> [Row] {
        let wide = output == .wide
        switch resource {
        case .workspaces:
            return try await queries.selectWorkspaces(org: org).map { w in
                Row(
                    id: w.id,
                    cells: [
                        w.org, w.name, w.kind, w.phase, w.ready ?? "Unknown", w.restartPending ? "true" : "false",
                        w.instanceID ?? "<none>", Age.format(seconds: w.ageSeconds),
                    ]
                        + (wide
                            ? [
                                w.desiredState, w.address ?? "<none>", w.image, w.readyReason ?? "<none>",
                                w.lastError ?? "<none>",
                            ] : []),
                    value: w)
            }
        case .tenants:
            return try await queries.selectTenants().map { t in
                Row(
                    id: t.id,
                    cells: [
                        t.name, t.hostname, t.tunnelID, t.appliedRules.map(String.init) ?? "<none>", "\(t.skippedPaths)",
                        t.converged ? "true" : "false", t.lastError ?? "<none>", Age.format(seconds: t.ageSeconds),
                    ] + (wide ? [Timestamp.format(t.appliedAt)] : []), value: t)
            }
        case .plugins:
            return try await queries.selectPlugins(org: org).map { p in
                Row(
                    id: "\(p.org)/\(p.workspace)/\(p.plugin)",
                    cells: [
                        p.org, p.workspace, p.plugin, p.desired ?? "<removed>", p.installed ?? "<none>",
                        p.requiresRestart ? "true" : "false",
                    ] + (wide ? [p.privileged ? "true" : "false", p.lastError ?? "<none>"] : []), value: p)
            }
        case .events:
            return try await queries.selectEvents(org: org, limit: limit).map { e in
                Row(
                    id: "\(e.id)/\(e.count)",
                    cells: [
                        Age.format(seconds: e.ageSeconds), e.type, e.reason, e.objectKind.map { "\($0)/\(e.object)" } ?? e.object,
                        e.controller, "\(e.count)", e.message,
                    ], value: e)
            }
        }
    }

    /// The whole listing: a table, or the rows as one JSON/YAML list.
    func render(_ rows: [Row]) throws -> String {
        if output.isStructured { return try output.encode(rows.map { AnyEncodable($0.value) }) }
        if rows.isEmpty { return "No \(resource.rawValue) found." }
        var table = TextTable(headers: headers)
        for row in rows { table.append(row.cells) }
        return table.render()
    }

    /// Each row's content, by identity, without its age (which moves on its own): `-w` prints
    /// the rows whose content changed.
    func lines(_ rows: [Row]) throws -> [String: String] {
        var lines: [String: String] = [:]
        for row in rows { lines[row.id] = try signature(row) }
        return lines
    }

    func changedLines(_ rows: [Row], since previous: [String: String]) throws -> [String] {
        try rows.compactMap { row in
            previous[row.id] == (try signature(row)) ? nil : try line(row)
        }
    }

    private func signature(_ row: Row) throws -> String {
        var object =
            try JSONSerialization.jsonObject(with: try JSONEncoder.compact.encode(AnyEncodable(row.value)))
            as? [String: Any] ?? [:]
        object["ageSeconds"] = nil
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// One row alone: a table line (no header), or one JSON object per line.
    private func line(_ row: Row) throws -> String {
        switch output {
        case .json: return String(decoding: try JSONEncoder.compact.encode(AnyEncodable(row.value)), as: UTF8.self)
        case .yaml: return "---\n" + (try output.encode(AnyEncodable(row.value)))
        case .table, .wide: return row.cells.map { LogEscape.escape($0) }.joined(separator: "   ")
        }
    }
}

/// Type erasure for encoding rows of different kinds through one path.
struct AnyEncodable: Encodable {
    let value: any Encodable

    init(_ value: any Encodable) {
        self.value = value
    }

    func encode(to encoder: Encoder) throws {
        try value.encode(to: encoder)
    }
}

extension JSONEncoder {
    /// One object per line: sorted keys, ISO-8601 dates.
    static var compact: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
