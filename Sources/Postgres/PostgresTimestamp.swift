import Foundation

/// `timestamptz` text conversion. Every connection runs with `DateStyle=ISO` and
/// `TimeZone=UTC`, so the server prints `2026-11-22 03:25:05.123456+00`.
enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros == 1_000_000 { whole += 1; micros = 0 }
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }

    static func parse(_ text: String) throws -> Date {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        // yyyy-mm-dd hh:mm:ss[.ffffff]+zz[:zz]
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) throws -> Int {
            guard from + count <= bytes.count else { throw invalid(text) }
            var value = 0
            for byte in bytes[from..<from + count] {
                guard byte >= 48, byte <= 57 else { throw invalid(text) }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        var parts = tm()
        parts.tm_year = Int32(try number(0, 4) - 1900)
        parts.tm_mon = Int32(try number(5, 2) - 1)
        parts.tm_mday = Int32(try number(8, 2))
        parts.tm_hour = Int32(try number(11, 2))
        parts.tm_min = Int32(try number(14, 2))
        parts.tm_sec = Int32(try number(17, 2))
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < bytes.count {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            offset = try number(index + 1, 2) * 3600
            if index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: ":") {
                offset += try number(index + 4, 2) * 60
            }
            offset *= sign
        }
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }

    private static func invalid(_ text: String) -> PostgresError {
        PostgresError(code: .decoding, message: "invalid timestamptz text")
    }
}
