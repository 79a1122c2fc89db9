/// A `platform_paths.pattern`: an absolute path of segments `[A-Za-z0-9._~-]`, either exact
/// (`/healthz`, `/`) or a prefix ending in `/*` (`/api/*`: `/api` and everything under it).
/// Rendered as an anchored regular expression, and ordered most specific first. The schema
/// refuses at write time exactly what this refuses (`molecule_path_pattern_is_valid`, schema
/// 0008); a test runs a table of patterns through both.
public struct PathPattern: Sendable, Equatable, Comparable {
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public var pattern: String
        public var reason: String
        public var description: String { "platform_paths.pattern '\(pattern)': \(reason)" }
    }

    /// Longest pattern, in characters (Unicode scalars, as PostgreSQL counts them).
    public static let maxLength = 512

    public let pattern: String
    public let segments: [String]
    public let isPrefix: Bool

    public init(_ pattern: String) throws {
        guard pattern.unicodeScalars.count <= Self.maxLength else {
            throw Rejection(pattern: String(pattern.prefix(64)), reason: "is longer than \(Self.maxLength) characters")
        }
        guard pattern.hasPrefix("/") else { throw Rejection(pattern: pattern, reason: "must start with '/'") }
        var body = Substring(pattern.dropFirst())
        var prefix = false
        if body == "*" || body.hasSuffix("/*") {
            prefix = true
            body = body.dropLast(body == "*" ? 1 : 2)
        }
        let segments = body.isEmpty ? [] : body.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-")
        for segment in segments {
            guard !segment.isEmpty else { throw Rejection(pattern: pattern, reason: "has an empty segment") }
            guard segment.allSatisfy(allowed.contains) else {
                throw Rejection(
                    pattern: pattern, reason: "segment '\(segment)' may only contain [A-Za-z0-9._~-] ('*' only as a final '/*')")
            }
            guard segment != "." && segment != ".." else {
                throw Rejection(pattern: pattern, reason: "has a '\(segment)' segment")
            }
        }
        self.pattern = pattern
        self.segments = segments
        self.isPrefix = prefix
    }

    /// The anchored regular expression (Go RE2 syntax, which cloudflared uses): `^/api(/|$)`
    /// for `/api/*`, `^/healthz$` for `/healthz`, `^/` for `/*`, `^/$` for `/`.
    public var regex: String {
        let literal = segments.map { "/" + Self.escape($0) }.joined()
        if isPrefix { return literal.isEmpty ? "^/" : "^\(literal)(/|$)" }
        return literal.isEmpty ? "^/$" : "^\(literal)$"
    }

    /// Most specific first: deeper paths before shallower, exact before prefix at the same
    /// depth, then by pattern text — a total order, so rendering is deterministic and a prefix
    /// never shadows a path under it.
    public static func < (lhs: PathPattern, rhs: PathPattern) -> Bool {
        if lhs.segments.count != rhs.segments.count { return lhs.segments.count > rhs.segments.count }
        if lhs.isPrefix != rhs.isPrefix { return !lhs.isPrefix }
        return lhs.pattern < rhs.pattern
    }

    private static func escape(_ segment: String) -> String {
        segment.map { $0 == "." ? "\\." : String($0) }.joined()
    }
}
