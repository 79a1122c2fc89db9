import ArgumentParser
import Foundation
import Postgres
import WorkspaceStore

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List workspaces, tenants, plugins or events by name (kubectl get).",
        discussion:
            "RESOURCE is workspaces (ws), tenants, plugins or events (ev). Events are listed newest last. -w keeps the command running and prints every row that changes, as the database notifies it (LISTEN, not polling)."
    )

    enum Resource: String, ExpressibleByArgument, CaseIterable {
        case workspaces, tenants, plugins, events

        init?(argument: String) {
            switch argument.lowercased() {
            case "workspaces", "workspace", "ws": self = .workspaces
            case "tenants", "tenant": self = .tenants
            case "plugins", "plugin": self = .plugins
            case "events", "event", "ev": self = .events
            default: return nil
            }
        }
    }

    @Argument(help: "workspaces, tenants, plugins or events.")
    var resource: Resource

    @Option(name: .shortAndLong, help: "table, wide, json or yaml.")
    var output: OutputFormat = .table

    @Option(help: "Only this org's workspaces (and their plugins and events).")
    var org: String?

    @Flag(name: .shortAndLong, help: "After listing, print every row that changes (until interrupted).")
    var watch = false

    @Option(help: "Events: at most this many, the newest.")
    var limit = 50

    @OptionGroup var database: GlobalOptions

    func run() async throws {
        try await database.withDatabase(poolSize: 1, schema: .verify) { pool, target, logger in
            let listing = Listing(resource: resource, output: output, org: org, limit: limit, queries: FleetQueries(pool: pool))
            guard watch else {
                print(try listing.render(try await listing.read()))
                return
            }
            var printed: [String: String]?
            _ = try await ChangeFeed.follow(target.configuration, logger: logger, timeout: nil) {
                let rows = try await listing.read()
                if let previous = printed {
                    for line in try listing.changedLines(rows, since: previous) { CommandFailure.emit(line) }
                } else {
                    CommandFailure.emit(try listing.render(rows))
                }
                printed = try listing.lines(rows)
                return false
            }
        }
    }
}
