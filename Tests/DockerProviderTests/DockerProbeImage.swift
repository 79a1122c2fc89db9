import Foundation
import Synchronization

@testable import DockerProvider

/// The workspace image plus `id`, `cat` and `ls` (and the libraries they load), so that a test
/// can look around from inside a workspace container as that container's user
/// (`DockerWorld.exec`). Built once per engine, on top of `DockerEngine.image`.
extension DockerEngine {
    static let probeImage = "molecule-workspace:probe"

    /// Builds `probeImage` into this engine (once; later calls wait for the first).
    func buildProbeImage() throws {
        try Self.probeBuilt.withLock { built in
            if built.contains(socket) { return }
            let context = directory.appendingPathComponent("probe-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: context) }
            let root = context.appendingPathComponent("rootfs")
            var files: Set<String> = []
            for tool in ["/usr/bin/id", "/usr/bin/cat", "/usr/bin/ls"] {
                files.insert(tool)
                files.formUnion(try Self.libraries(of: tool))
            }
            for file in files {
                let target = root.appendingPathComponent(String(file.dropFirst()))
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try FileManager.default.copyItem(
                    at: URL(fileURLWithPath: file).resolvingSymlinksInPath(), to: target)
            }
            try Data("FROM \(Self.image)\nCOPY rootfs/ /\n".utf8).write(to: context.appendingPathComponent("Dockerfile"))
            let output = try Self.run(
                Self.executable("docker")!, ["-H", host, "build", "--quiet", "-t", Self.probeImage, context.path],
                environment: ["DOCKER_BUILDKIT": "0"])
            guard output.status == 0 else { throw EngineFailure(message: "probe image: \(output.text.suffix(1_500))") }
            built.insert(socket)
        }
    }

    private static let probeBuilt = Mutex<Set<String>>([])

    /// The shared libraries `ldd` lists for `binary`, and the loader.
    private static func libraries(of binary: String) throws -> [String] {
        let output = try run("/usr/bin/ldd", [binary])
        return output.text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ").map(String.init)
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
                return words[arrow + 1]
            }
            return words.first.flatMap { $0.hasPrefix("/") ? $0 : nil }
        }
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, text: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
