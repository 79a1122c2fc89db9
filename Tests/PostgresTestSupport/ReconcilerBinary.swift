import Foundation

/// The built `molecule-reconciler`, run to completion with its output (stdout and stderr
/// together) and exit status. The test bundles and the products are built into one directory.
/// The database variables of the test's own environment are removed, so that each call says
/// where the database is (or that there is none).
public enum ReconcilerBinary {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String

        public init(status: Int32, output: String) {
            self.status = status
            self.output = output
        }
    }

    public static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    public static func run(_ arguments: [String]) throws -> Outcome {
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR"] {
            environment.removeValue(forKey: name)
        }
        return try run(
            command: [products.appendingPathComponent("molecule-reconciler").path] + arguments, environment: environment)
    }

    /// Any command (its executable's path first) run to completion, with its output and status;
    /// `environment` nil: this process's own.
    public static func run(command: [String], environment: [String: String]?) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
