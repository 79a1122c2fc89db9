import Foundation
import Logging

/// How a log line shows a control character: `\n`, `\r`, `\t`, and `\u{1B}` for the others —
/// C0, DEL, C1, the line and paragraph separators (U+2028, U+2029) and the bidirectional
/// controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which can end a line or
/// reorder what a reader sees. Backslashes are left as they are: the escaped text is for
/// reading, not for parsing back.
public enum LogEscape {
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": escaped.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": escaped.append(contentsOf: #"\t"#.unicodeScalars)
            case _ where isControl(scalar):
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    public static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        Dictionary(metadata.map { (escape($0.key), escape($0.value)) }) { first, _ in first }
    }

    public static func escape(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text):
            return .string(escape(text))
        case .stringConvertible(let convertible):
            // Kept as it is when clean (it may carry attributes a handler reads).
            let text = convertible.description
            return text.unicodeScalars.contains(where: isControl) ? .string(escape(text)) : value
        case .dictionary(let metadata):
            return .dictionary(escape(metadata))
        case .array(let values):
            return .array(values.map(escape))
        }
    }

    /// A value as a text log line shows it, logfmt-style: in double quotes (inner quotes as
    /// `\"`) when it is empty or holds a space, a quote or `=`, so that `key=value` pairs read
    /// unambiguously; as it is otherwise. Nested dictionaries and arrays are left as they are.
    public static func quoted(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        let text: String
        switch value {
        case .string(let string): text = string
        case .stringConvertible(let convertible): text = convertible.description
        case .dictionary, .array: return value
        }
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return .string("\"" + text.replacingOccurrences(of: "\"", with: #"\""#) + "\"")
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
