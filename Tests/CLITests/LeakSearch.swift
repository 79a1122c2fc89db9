import Foundation
import Postgres
import Synchronization
import WorkspaceModel

/// Secret strings to look for, and the places to look in: `search` names every needle found in
/// a place once the strings allowed there are cut out of it.
struct LeakSearch {
    struct Needle {
        var name: String
        var value: String
    }

    struct Place {
        var name: String
        var text: String
        /// The workspace whose staged bundle this is (a version file of its secret), else nil.
        var bundleOf: String?
    }

    var needles: [Needle] = []

    /// Each needle found in the place after every `allowed` string is removed, with the text
    /// around it.
    func search(_ place: Place, allowed: [String] = []) -> [String] {
        // Longest first, so that no allowed string leaves a needle-shaped fragment of a longer one.
        let text = allowed.sorted { $0.count > $1.count }.reduce(place.text) {
            $0.replacingOccurrences(of: $1, with: "<allowed>")
        }
        return needles.compactMap { needle in
            guard let range = text.range(of: needle.value) else { return nil }
            let around = { (part: Substring) in part.replacingOccurrences(of: "\n", with: "⏎") }
            return "\(place.name): \(needle.name) in …\(around(text[..<range.lowerBound].suffix(120)))⟦\(needle.name)⟧"
                + "\(around(text[range.upperBound...].prefix(120)))…"
        }
    }

    /// Every row of every table, as JSON, without the three columns whose job is to hold a
    /// secret: the secret values and the token seeds.
    static func databaseRows(_ pool: PostgresPool) async throws -> [Place] {
        let holders = ["workspace_secrets": ["value"], "org_secrets": ["value"], "secret_bundles": ["token_seed"]]
        let tables = try await pool.query(
            """
            SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            """
        ).rows.map { try $0.require(String.self, "table_name") }
        var places: [Place] = []
        for table in tables.sorted() {
            let rows = try await pool.query(
                """
                SELECT coalesce(jsonb_agg(to_jsonb(t) - $1::text[]), '[]')::text AS rows FROM "\(table)" t
                """, [holders[table] ?? []]
            ).rows[0].require(String.self, "rows")
            places.append(Place(name: "table \(table)", text: rows))
        }
        return places
    }

    /// Every file under the state directory: instance records, port files, runtime logs, tunnel
    /// configurations, the secret store's pointers and its versions (the staged bundles).
    static func stateFiles(_ stateDir: String) -> [Place] {
        // The store names a secret's directory after the secret, '/' written as %2F.
        let prefix = WorkspaceBundle.secretName(workspaceID: "<id>").replacingOccurrences(of: "/", with: "%2F")
            .components(separatedBy: "<id>")[0]
        var places: [Place] = []
        for relative in FileManager.default.enumerator(atPath: stateDir)?.compactMap({ $0 as? String }) ?? [] {
            guard let data = FileManager.default.contents(atPath: "\(stateDir)/\(relative)") else { continue }
            let components = relative.split(separator: "/").map(String.init)
            var bundleOf: String?
            // secrets/molecule%2Fworkspace%2F<id>%2Fconfig/versions/<version>
            if components.count == 4, components[0] == "secrets", components[2] == "versions", components[1].hasPrefix(prefix) {
                bundleOf = String(components[1].dropFirst(prefix.count).prefix(36))
            }
            places.append(Place(name: "state file \(relative)", text: String(decoding: data, as: UTF8.self), bundleOf: bundleOf))
        }
        return places
    }
}

/// Every `molecule-workspace-runtime` process of a state directory, seen while it runs: its
/// environment and command line from /proc, sampled until `stop()` (a runtime lives for
/// seconds at least, so none is missed at a 100 ms period).
final class RuntimeSampler: Sendable {
    struct Sample: Sendable {
        var pid: Int32
        var environment: String
        var commandLine: String
    }

    private let stateDir: String
    private let samples = Mutex<[String: Sample]>([:])
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init(stateDir: String) {
        self.stateDir = stateDir
    }

    /// Starts sampling the runtimes of `stateDir`.
    static func start(stateDir: String) -> RuntimeSampler {
        let sampler = RuntimeSampler(stateDir: stateDir)
        sampler.task.withLock {
            $0 = Task {
                while !Task.isCancelled {
                    sampler.sample()
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        return sampler
    }

    /// Stops sampling (after one last look); returns every runtime seen, by instance ID.
    func stop() async -> [String: Sample] {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        sample()
        return samples.withLock { $0 }
    }

    func cancel() {
        task.withLock { $0?.cancel() }
    }

    /// The instance IDs the local provider recorded a started process for (the records in
    /// `<state>/instances/<workspace>/<instance>.json`).
    func launched() -> [String] {
        let instances = "\(stateDir)/instances"
        var launched: [String] = []
        for workspace in (try? FileManager.default.contentsOfDirectory(atPath: instances)) ?? [] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(instances)/\(workspace)")) ?? []
            for file in files where file.hasSuffix(".json") {
                guard let data = FileManager.default.contents(atPath: "\(instances)/\(workspace)/\(file)"),
                    let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let id = record["id"] as? String, (record["pid"] as? Int ?? 0) > 0
                else { continue }
                launched.append(id)
            }
        }
        return launched
    }

    private func sample() {
        for pid in CrashRestartTests.runtimeProcesses(stateDir: stateDir).keys {
            guard let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            let arguments = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            // The instance ID is the port file's name: <state>/instances/<workspace>/<instance>.port.
            guard let flag = arguments.firstIndex(of: "--port-file"), flag + 1 < arguments.count else { continue }
            let instance = URL(fileURLWithPath: arguments[flag + 1]).deletingPathExtension().lastPathComponent
            let sample = Sample(
                pid: pid, environment: String(decoding: environment.map { $0 == 0 ? 10 : $0 }, as: UTF8.self),
                commandLine: arguments.joined(separator: " "))
            samples.withLock { if $0[instance] == nil { $0[instance] = sample } }
        }
    }
}
