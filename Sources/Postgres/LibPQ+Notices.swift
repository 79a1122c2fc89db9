import CLibPQ
import Logging

extension LibPQ {
    /// libpq writes notices — and a FATAL the server sends to an idle session, such as
    /// "terminating connection due to administrator command" — to standard error by default,
    /// which would put unformatted lines between the log's (and break `--log-format json`).
    /// They go to the log instead, at warning level, first line only: a DETAIL line can quote
    /// row values.
    static func routeNotices(_ handle: OpaquePointer) {
        PQsetNoticeProcessor(handle, logNotice, nil)
    }
}

private let noticeLogger = Logger(label: "molecule-reconciler.postgres")

private func logNotice(_ context: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {
    guard let message else { return }
    let firstLine = String(cString: message).split(separator: "\n").first.map(String.init) ?? ""
    noticeLogger.warning("PostgreSQL notice", metadata: ["notice": "\(firstLine)"])
}
