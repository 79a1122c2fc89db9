import Foundation
import PostgresTestSupport
import Testing

/// `--log-format` and `MOLECULE_LOG_FORMAT` on the real binary.
@Suite("log format")
struct LogFormatTests {
    static func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = LiveFleet.products.appendingPathComponent("molecule-reconciler")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "MOLECULE_LOG_FORMAT")
        process.environment = environment.merging(extra) { $1 }
        let (stdout, stderr) = (Pipe(), Pipe())
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }

    @Test("--log-format json: every log line is one JSON object with its metadata as fields")
    func jsonOption() async throws {
        let conninfo = try await TestDatabase.createEmpty()
        let outcome = try Self.run(["migrate", "--database-url", conninfo, "--log-format", "json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count >= 5)
        var migrations: [String] = []
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] as? String != nil && object?["timestamp"] as? String != nil, "\(line)")
            if object?["message"] as? String == "applied migration", let name = object?["migration"] as? String {
                migrations.append(name)
            }
        }
        #expect(migrations.first == "0001_controller_machinery")
    }

    @Test("text stays the default; a wrong format in the option or the environment is a usage error")
    func textAndRefusals() async throws {
        let conninfo = try await TestDatabase.createEmpty()
        let text = try Self.run(["migrate", "--database-url", conninfo])
        #expect(text.status == 0)
        #expect(text.stderr.contains("applied migration") && !text.stderr.hasPrefix("{"))
        let option = try Self.run(["migrate", "--database-url", conninfo, "--log-format", "yaml"])
        #expect(option.status == 64)
        #expect(option.stderr.contains("--log-format"))
        let environment = try Self.run(
            ["migrate", "--database-url", conninfo], environment: ["MOLECULE_LOG_FORMAT": "xml"])
        #expect(environment.status == 64)
        #expect(environment.stderr.contains("MOLECULE_LOG_FORMAT must be 'text' or 'json', got 'xml'"))
    }
}
