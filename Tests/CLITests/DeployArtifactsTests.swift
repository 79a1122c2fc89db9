import Foundation
import PostgresTestSupport
import Testing

/// `deploy/` checked by the tools that consume it: the Kubernetes manifests by an offline schema
/// validator (kubernetes-validate from PyPI, via `deploy/kubernetes/validate`), the systemd unit
/// by `systemd-analyze verify`, the sysusers file by `systemd-sysusers`, and `scripts/install`
/// by installing the built binaries and running the installed one.
@Suite("deploy artifacts")
struct DeployArtifactsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let products = Bundle.main.executableURL!.deletingLastPathComponent()

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs a program (found on PATH) from the repository's root; standard error goes through
    /// a file, so that neither pipe can fill up while the other is read.
    static func exec(_ executable: String, _ arguments: [String]) throws -> Outcome {
        let errorFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("deploy-\(UUID().uuidString).err")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = repository
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
            errors: try String(contentsOf: errorFile, encoding: .utf8))
    }

    static func temporaryDirectory() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("the Kubernetes manifests pass kubernetes-validate --strict and the reconciler checks; a broken one fails")
    func kubernetesManifests() throws {
        let validate = Self.repository.appendingPathComponent("deploy/kubernetes/validate").path
        let good = try Self.exec("python3", [validate])
        #expect(good.status == 0, "\(good.output)\(good.errors)")
        #expect(good.output.contains("reconciler-ha.yaml: 5 documents, ok"))
        #expect(good.output.contains("reconciler-sidecar.yaml: 4 documents, ok"))
        // The validator is real: a misspelled field, a probe on the wrong path and an unknown
        // field of a ServiceMonitor are each found.
        let folder = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/kubernetes/reconciler-ha.yaml"), encoding: .utf8)
        let broken = [
            ("periodSeconds: 10", "periodSecond: 10", "'periodSecond' was unexpected"),
            ("path: /readyz", "path: /ready", "needs a readinessProbe on /readyz"),
            ("interval: 30s", "intervall: 30s", "'intervall' was unexpected"),
            ("minAvailable: 2", "minAvailable: 2\n  selector: {}\n  extra: 1", "'extra' was unexpected"),
        ]
        for (from, to, message) in broken {
            let file = folder.appendingPathComponent("broken.yaml")
            try original.replacingOccurrences(of: from, with: to).write(to: file, atomically: true, encoding: .utf8)
            let outcome = try Self.exec("python3", [validate, file.path])
            #expect(outcome.status == 1 && outcome.output.contains(message), "\(to): \(outcome.output)\(outcome.errors)")
        }
    }

    @Test("systemd-analyze verify accepts the unit without a word; it keeps the runtimes and its state")
    func systemdUnit() throws {
        let unit = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/molecule-reconciler.service"), encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map(String.init))
        #expect(lines.contains("KillMode=process"))
        #expect(lines.contains("StateDirectory=molecule-reconciler"))
        #expect(
            lines.contains {
                $0.hasPrefix("ExecStart=/usr/local/bin/molecule-reconciler run --state-dir /var/lib/molecule-reconciler")
            })
        // verify checks that ExecStart's binary exists: point it at the built one.
        let folder = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("molecule-reconciler.service")
        try unit.replacingOccurrences(
            of: "/usr/local/bin/molecule-reconciler", with: Self.products.appendingPathComponent("molecule-reconciler").path
        ).write(to: file, atomically: true, encoding: .utf8)
        let verified = try Self.exec("systemd-analyze", ["verify", file.path])
        #expect(verified.status == 0 && verified.errors.isEmpty && verified.output.isEmpty, "\(verified.errors)")
        // And it would say so: an unknown key is reported.
        try unit.replacingOccurrences(of: "StateDirectoryMode", with: "StateDirektoryMode")
            .replacingOccurrences(of: "/usr/local/bin/molecule-reconciler", with: "/bin/true")
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try Self.exec("systemd-analyze", ["verify", file.path]).errors.contains("Unknown key 'StateDirektoryMode'"))
    }

    @Test("systemd-sysusers creates the reconciler's system user from the sysusers.d file")
    func sysusers() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        let outcome = try Self.exec(
            "systemd-sysusers",
            ["--root=\(root.path)", Self.repository.appendingPathComponent("deploy/sysusers.d/molecule-reconciler.conf").path])
        #expect(outcome.status == 0, "\(outcome.errors)")
        let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
        let entry = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("molecule-reconciler:") })
        let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
        #expect(fields[5] == "/var/lib/molecule-reconciler" && fields[6] == "/usr/sbin/nologin")
        #expect(Int(fields[2]).map { $0 > 0 && $0 < 1000 } == true)
    }

    /// systemd's own checks on the unit as `scripts/install` put it under `root` (PID 1 here is
    /// not systemd, so no unit can be started): `verify --root` loads it with the host's units
    /// and resolves ExecStart through the installed link; `security --offline` keeps its exposure
    /// under 5.0; the non-root variant its comment describes loads as a drop-in and is less exposed.
    static func verifyInstalledUnit(root: URL) throws {
        let units = root.appendingPathComponent("usr/lib/systemd/system")
        try FileManager.default.createDirectory(at: units.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/usr/lib/systemd/system", toPath: units.path)
        let verify = ["verify", "--root=\(root.path)", "molecule-reconciler.service"]
        let verified = try Self.exec("systemd-analyze", verify)
        #expect(verified.status == 0 && verified.errors.isEmpty && verified.output.isEmpty, "\(verified.errors)")
        let security = ["security", "--offline=true", "--threshold=50", "--root=\(root.path)", "molecule-reconciler.service"]
        let asRoot = try Self.exec("systemd-analyze", security)
        #expect(asRoot.status == 0, "\(asRoot.output.suffix(500))\(asRoot.errors)")
        let dropIns = root.appendingPathComponent("etc/systemd/system/molecule-reconciler.service.d")
        try FileManager.default.createDirectory(at: dropIns, withIntermediateDirectories: true)
        try "[Service]\nUser=molecule-reconciler\nEnvironment=MOLECULE_REQUIRE_ISOLATION=0\nCapabilityBoundingSet=\n".write(
            to: dropIns.appendingPathComponent("non-root.conf"), atomically: true, encoding: .utf8)
        let withDropIn = try Self.exec("systemd-analyze", verify)
        #expect(withDropIn.status == 0 && withDropIn.errors.isEmpty, "\(withDropIn.errors)")
        let nonRoot = try Self.exec("systemd-analyze", security)
        #expect(nonRoot.output.contains("✓ User=/DynamicUser="), "\(nonRoot.output)")
        #expect(try #require(exposure(nonRoot.output)) < exposure(asRoot.output)!)
        // The check is real: the binary missing under the root is reported.
        let binary = root.appendingPathComponent("opt/molecule/lib/molecule-reconciler/molecule-reconciler")
        try FileManager.default.moveItem(at: binary, to: root.appendingPathComponent("moved"))
        defer { try? FileManager.default.moveItem(at: root.appendingPathComponent("moved"), to: binary) }
        let missing = try Self.exec("systemd-analyze", verify)
        #expect(missing.status != 0 && missing.errors.contains("/opt/molecule/bin/molecule-reconciler is not executable"))
    }

    /// "Overall exposure level for molecule-reconciler.service: 4.3 OK".
    static func exposure(_ report: String) -> Double? {
        report.firstMatch(of: /Overall exposure level for molecule-reconciler\.service: (\d+\.\d)/).flatMap { Double($0.1) }
    }

    @Test(
        "scripts/install stages the binaries, the schema and the unit; systemd-analyze verifies the unit as installed; the installed link finds its schema"
    )
    func install() async throws {
        let destination = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: destination) }
        let outcome = try Self.exec(
            "bash", ["scripts/install", "--from", Self.products.path, "--destdir", destination.path, "--prefix", "/opt/molecule"])
        #expect(outcome.status == 0, "\(outcome.output)\(outcome.errors)")
        let lib = destination.appendingPathComponent("opt/molecule/lib/molecule-reconciler")
        for file in [
            "molecule-reconciler", "molecule-workspace-runtime",
            "molecule-reconciler_SchemaManifests.resources/schema/0001_controller_machinery.sql",
        ] {
            #expect(FileManager.default.fileExists(atPath: lib.appendingPathComponent(file).path), "\(file)")
        }
        let unit = try String(
            contentsOf: destination.appendingPathComponent("etc/systemd/system/molecule-reconciler.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/molecule/bin/molecule-reconciler run") && !unit.contains("/usr/local/"))
        #expect(
            FileManager.default.fileExists(
                atPath: destination.appendingPathComponent("usr/lib/sysusers.d/molecule-reconciler.conf").path))
        let env = try FileManager.default.attributesOfItem(
            atPath: destination.appendingPathComponent("etc/molecule-reconciler/env").path)
        #expect((env[.posixPermissions] as? Int) == 0o640)
        try Self.verifyInstalledUnit(root: destination)
        // Run through its link, as the unit does: the schema is found beside the real path.
        let conninfo = try await TestDatabase.createEmpty()
        let migrate = try Self.exec(
            destination.appendingPathComponent("opt/molecule/bin/molecule-reconciler").path,
            ["migrate", "--database-url", conninfo, "--log-level", "error"])
        #expect(
            migrate.status == 0 && (migrate.output + migrate.errors).contains("applied: 0001_controller_machinery"),
            "\(migrate.errors)")
        // A wrong option is refused.
        #expect(try Self.exec("bash", ["scripts/install", "--no-such-option"]).status == 64)
    }
}
