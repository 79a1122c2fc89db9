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

    /// Longest path, in UTF-8 bytes (a file name's limit on Linux).
    public static let maxPathBytes = 255

    /// Why `path` may not be delivered, or nil. The schema refuses the same paths at write time
    /// with the same reasons (`molecule_template_path_problem`, schema 0008; a test runs a table
    /// of paths through both): it works on Unicode scalars, as PostgreSQL does, not on
    /// grapheme clusters (`"/\u{301}"` is one Character but still starts with a slash).
    public static func problem(with path: String) -> String? {
        let scalars = path.unicodeScalars
        if scalars.isEmpty { return "empty path" }
        if path.utf8.count > maxPathBytes { return "the path is \(path.utf8.count) bytes, over the \(maxPathBytes)-byte limit" }
        if scalars.first == "/" { return "absolute paths are not allowed" }
        if scalars.contains("\\") || scalars.contains("\0") { return "backslashes and NUL are not allowed" }
        if scalars.contains(where: isControl) { return "control characters are not allowed" }
        // Compared scalar by scalar: String's == is canonical equivalence, PostgreSQL's = is not.
        let segments = scalars.split(separator: "/", omittingEmptySubsequences: false).map(Array.init)
        let dot = Array(".".unicodeScalars)
        let dotDot = Array("..".unicodeScalars)
        if segments.contains(where: { $0 == dot || $0 == dotDot }) { return "the path escapes the template directory" }
        if segments.contains(where: \.isEmpty) { return "empty path segment" }
        if Array(scalars) == Array("config.yaml".unicodeScalars) { return nil }
        if segments.count >= 2 && segments[0] == Array("prompts".unicodeScalars) { return nil }
        return "only config.yaml and prompts/** may be delivered"
    }

    /// C0, DEL, C1, the line and paragraph separators and the bidirectional controls: what can
    /// forge a line or reorder what an operator reads (schema 0008's `molecule_control_class`).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
