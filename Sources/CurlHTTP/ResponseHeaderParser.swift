import Foundation

/// Turns the header lines libcurl hands over, one call per line, into the final response's
/// fields. Each response libcurl reads (an interim `100 Continue`, a redirect, a proxy's answer
/// to CONNECT, the final response) begins with its status line, which starts afresh: only the
/// final response's fields remain, joined by the trailers of a chunked body if it has any.
struct ResponseHeaderParser {
    private(set) var fields = HTTPHeaderFields()

    /// One line as libcurl delivers it, line ending included; bytes that are not UTF-8 are
    /// replaced (header values are ASCII in practice).
    mutating func consume(_ line: String) {
        if line.hasPrefix("HTTP/") {
            fields = HTTPHeaderFields()
        } else if line.first == " " || line.first == "\t" {
            fields.continueLastValue(line.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let colon = line.firstIndex(of: ":") {
            fields.append(
                .init(
                    name: line[..<colon].trimmingCharacters(in: .whitespaces),
                    value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }
}
