import Foundation

/// The SQL migrations under `manifests/schema/`, shipped inside the binary's resource bundle.
public enum SchemaManifests {
    public struct Migration: Sendable, Equatable {
        /// The file name without `.sql`, e.g. `0001_spec_tables`; applied in this order.
        public let name: String
        public let sql: String

        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    /// The example fleet (`manifests/example/fleet.sql`) the embedded default loads into an
    /// empty database.
    public static func exampleFleet() throws -> String {
        guard let url = Bundle.module.url(forResource: "example/fleet", withExtension: "sql")
                ?? Bundle.module.url(forResource: "fleet", withExtension: "sql", subdirectory: "example") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Every migration, sorted by name.
    public static func migrations() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "schema", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { url in
            Migration(name: url.deletingPathExtension().lastPathComponent,
                      sql: try String(contentsOf: url, encoding: .utf8))
        }
    }
}
