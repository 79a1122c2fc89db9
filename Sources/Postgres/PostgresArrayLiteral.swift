/// Encoding and parsing of one-dimensional PostgreSQL array literals (`{a,"b c",NULL}`).
enum PostgresArrayLiteral {
    static func encode(_ elements: [String?]) -> String {
        var out = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
            guard let element else { out += "NULL"; continue }
            out += "\""
            for ch in element {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    static func parse(_ text: String) throws -> [String?] {
        let chars = Array(text.utf8)
        guard chars.first == UInt8(ascii: "{"), chars.last == UInt8(ascii: "}") else {
            throw PostgresError(code: .decoding, message: "not a one-dimensional array literal")
        }
        var elements: [String?] = []
        var index = 1
        let end = chars.count - 1
        if index == end { return [] }
        while index <= end {
            var bytes: [UInt8] = []
            var quoted = false
            if chars[index] == UInt8(ascii: "\"") {
                quoted = true
                index += 1
                while index < end, chars[index] != UInt8(ascii: "\"") {
                    if chars[index] == UInt8(ascii: "\\") { index += 1 }
                    bytes.append(chars[index])
                    index += 1
                }
                index += 1
            } else {
                while index < end, chars[index] != UInt8(ascii: ",") {
                    bytes.append(chars[index])
                    index += 1
                }
            }
            let value = String(decoding: bytes, as: UTF8.self)
            elements.append(!quoted && value == "NULL" ? nil : value)
            index += 1
        }
        return elements
    }
}
