/// The files of a template that may reach a workspace: `config.yaml` and `prompts/**` only
/// (seed 004: a restart must re-deliver exactly these, never a stub). Anything else is refused
/// with the path and the reason, never silently dropped.
public enum TemplateFiles {
    /// Largest single file, in bytes. 256 KiB.
    public static let maxFileBytes = 256 * 1024
    /// Largest template, in bytes. 1 MiB.
    public static let maxTotalBytes = 1024 * 1024

    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var reason: String

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }

        public var description: String { "template file '\(path)': \(reason)" }
    }

    /// Checks every file; returns them unchanged when all are acceptable.
    public static func validate(_ files: [String: String]) throws -> [String: String] {
        var total = 0
        for path in files.keys.sorted() {
            let size = files[path]!.utf8.count
            if let reason = problem(with: path) { throw Rejection(path: path, reason: reason) }
            if size > maxFileBytes {
                throw Rejection(path: path, reason: "\(size) bytes is over the \(maxFileBytes)-byte limit per file")
            }
            total += size
        }
        if total > maxTotalBytes {
            throw Rejection(path: "*", reason: "\(total) bytes in all is over the \(maxTotalBytes)-byte limit per template")
        }
        return files
    }

    static func problem(with path: String) -> String? {
        if path.isEmpty { return "empty path" }
        if path.hasPrefix("/") { return "absolute paths are not allowed" }
        if path.contains("\\") || path.contains("\0") { return "backslashes and NUL are not allowed" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == ".." || $0 == "." }) { return "the path escapes the template directory" }
        if segments.contains(where: \.isEmpty) { return "empty path segment" }
        if path == "config.yaml" { return nil }
        if segments.count >= 2 && segments[0] == "prompts" { return nil }
        return "only config.yaml and prompts/** may be delivered"
    }
}
