import Foundation

extension HTTPHeaderFields {
    /// How long the server asked the client to wait (`Retry-After`, RFC 9110 §10.2.3): whole
    /// seconds, or an HTTP-date measured from `now` (a date already past is zero). nil when the
    /// field is absent or malformed.
    public func retryAfter(now: Date) -> Duration? {
        guard let value = self["Retry-After"]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.allSatisfy(\.isASCII), value.allSatisfy(\.isNumber) {
            return Int64(value).map { .seconds($0) }
        }
        guard let date = Self.httpDate(value) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now).rounded(.up)))
    }

    /// The three forms of HTTP-date a recipient must accept (RFC 9110 §5.6.7): IMF-fixdate
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    static func httpDate(_ value: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        let singleSpaced = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        for format in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: singleSpaced) { return date }
        }
        return nil
    }
}
