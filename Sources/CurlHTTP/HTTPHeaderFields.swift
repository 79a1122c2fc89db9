/// The header fields of one HTTP response, in the order received. Names are matched without
/// regard to case (RFC 9110 §5.1); a field sent more than once keeps every value.
public struct HTTPHeaderFields: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        /// As the server spelled it.
        public var name: String
        /// Without the surrounding whitespace.
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init(_ fields: [Field] = []) {
        self.fields = fields
    }

    /// The first value of the field `name`, whatever its case; nil when it is absent.
    public subscript(name: String) -> String? {
        let wanted = name.lowercased()
        return fields.first { $0.name.lowercased() == wanted }?.value
    }

    /// Every value of the field `name`, whatever its case, in the order received.
    public func values(for name: String) -> [String] {
        let wanted = name.lowercased()
        return fields.filter { $0.name.lowercased() == wanted }.map(\.value)
    }

    mutating func append(_ field: Field) {
        fields.append(field)
    }

    /// Continues the last field's value (obsolete line folding, RFC 9112 §5.2).
    mutating func continueLastValue(_ more: String) {
        guard !fields.isEmpty else { return }
        fields[fields.count - 1].value += " " + more
    }
}
