import CLibPQ

extension LibPQ {
    /// The settings a conninfo string or URL sets explicitly (libpq's own parser: key/value and
    /// URL forms, multi-host lists), or nil when it does not parse.
    static func parseConninfo(_ conninfo: String) -> [String: String]? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var settings: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                settings[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        return settings
    }
}
