import Foundation

/// The Engine's log stream of a container without a TTY: frames of an 8-byte header (stream
/// type, three zero bytes, a big-endian 32-bit length) followed by that many bytes.
enum DockerLogStream {
    /// The frames' payloads joined, in order (stdout and stderr interleaved as written). A
    /// truncated last frame keeps what arrived.
    static func demultiplex(_ data: Data) -> String {
        let bytes = [UInt8](data)
        var output: [UInt8] = []
        var offset = 0
        while offset + 8 <= bytes.count {
            let length =
                Int(bytes[offset + 4]) << 24 | Int(bytes[offset + 5]) << 16 | Int(bytes[offset + 6]) << 8
                | Int(bytes[offset + 7])
            let start = offset + 8
            let end = min(bytes.count, start + length)
            output += bytes[start..<end]
            offset = end
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The last lines as one line for a status message: control characters escaped, lines
    /// joined with ` | `, at most `limit` characters (the end kept).
    static func summary(_ text: String, limit: Int = 800) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { line in
            line.unicodeScalars.map { scalar in
                scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            }.joined()
        }
        let joined = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: " | ")
        return joined.count <= limit ? joined : "…" + String(joined.suffix(limit))
    }
}
