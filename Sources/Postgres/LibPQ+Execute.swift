import CLibPQ
import Foundation

/// Statements in libpq's non-blocking mode: send, flush and read results while polling the
/// socket, so that a server that stops answering costs at most `timeout` and then a `.timeout`
/// error. The caller must then drop the session (`LibPQ.drop`): it is mid-statement.
extension LibPQ {
    /// Runs a statement with text parameters (`nil` is SQL NULL) and copies the result out.
    static func execute(
        _ handle: OpaquePointer, _ sql: String, _ parameters: [String?],
        timeout: Duration
    ) throws -> PostgresResult {
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let sent = cStrings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, buffer.count)) {
                PQsendQueryParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : $0, nil, nil, 0)
            }
        }
        return try finish(handle, sent: sent, timeout: timeout)
    }

    /// Prepares `sql` as the named statement `name` on this session (parsed and planned once;
    /// PostgreSQL then reuses or re-plans it as its plan cache decides).
    static func prepare(_ handle: OpaquePointer, name: String, _ sql: String, parameterCount: Int, timeout: Duration) throws {
        _ = try finish(handle, sent: PQsendPrepare(handle, name, sql, Int32(parameterCount), nil), timeout: timeout)
    }

    /// Runs the prepared statement `name` with text parameters and copies the result out.
    static func executePrepared(
        _ handle: OpaquePointer, name: String, _ parameters: [String?],
        timeout: Duration
    ) throws -> PostgresResult {
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let sent = cStrings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, buffer.count)) {
                PQsendQueryPrepared(handle, name, Int32(parameters.count), parameters.isEmpty ? nil : $0, nil, nil, 0)
            }
        }
        return try finish(handle, sent: sent, timeout: timeout)
    }

    /// Runs one or more statements without parameters (migrations, session setup); like
    /// `PQexec`, the last result (an error stops the script) is the answer.
    @discardableResult
    static func simpleExec(_ handle: OpaquePointer, _ sql: String, timeout: Duration) throws -> PostgresResult {
        try finish(handle, sent: PQsendQuery(handle, sql), timeout: timeout)
    }

    private static func finish(_ handle: OpaquePointer, sent: Int32, timeout: Duration) throws -> PostgresResult {
        guard sent == 1 else { throw sessionError(handle) }
        let deadline = ContinuousClock.now + timeout
        try flush(handle, until: deadline, timeout: timeout)
        let result = try lastResult(handle, until: deadline, timeout: timeout)
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return copy(result)
        default:
            throw error(from: result, handle: handle)
        }
    }

    /// Sends what libpq buffered; reads meanwhile, as libpq asks, so that the server is never
    /// blocked writing to us while we write to it.
    private static func flush(_ handle: OpaquePointer, until deadline: ContinuousClock.Instant, timeout: Duration) throws {
        while true {
            switch PQflush(handle) {
            case 0: return
            case 1: break
            default: throw sessionError(handle)
            }
            guard let events = waitForSocket(handle, events: Int16(POLLIN | POLLOUT), until: deadline) else {
                throw timeoutError(handle, timeout)
            }
            if events & Int16(POLLIN) != 0, PQconsumeInput(handle) == 0 { throw sessionError(handle) }
        }
    }

    /// Reads until the statement is complete and returns its last result (the caller clears it).
    private static func lastResult(
        _ handle: OpaquePointer, until deadline: ContinuousClock.Instant,
        timeout: Duration
    ) throws -> OpaquePointer {
        var last: OpaquePointer?
        while true {
            while PQisBusy(handle) == 1 {
                guard waitForSocket(handle, events: Int16(POLLIN), until: deadline) != nil else {
                    PQclear(last)
                    throw timeoutError(handle, timeout)
                }
                guard PQconsumeInput(handle) == 1 else {
                    // The server's last word (e.g. FATAL 57P01) says more than "connection lost".
                    if let last, PQresultStatus(last) == PGRES_FATAL_ERROR { return last }
                    PQclear(last)
                    throw sessionError(handle)
                }
            }
            guard let result = PQgetResult(handle) else { break }
            PQclear(last)
            last = result
            let status = PQresultStatus(result)
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH
                || !isConnected(handle)
            {
                break
            }
        }
        guard let last else { throw sessionError(handle) }
        return last
    }

    /// libpq refused or failed outside a result: a lost session, or a misuse.
    private static func sessionError(_ handle: OpaquePointer) -> PostgresError {
        PostgresError(code: isConnected(handle) ? .other : .connectionLost, message: errorMessage(handle))
    }

    private static func timeoutError(_ handle: OpaquePointer, _ timeout: Duration) -> PostgresError {
        PostgresError(
            code: .timeout, message: "PostgreSQL at \(address(handle)) did not answer within \(timeout); the session was dropped")
    }

    private static func copy(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        var columnIndex: [String: Int] = [:]
        for column in 0..<columnCount {
            let name = String(cString: PQfname(result, Int32(column)))
            columns.append(name)
            columnIndex[name] = columnIndex[name] ?? column
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(PostgresRow(columnIndex: columnIndex, values: values))
        }
        let affected = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
        return PostgresResult(columns: columns, rows: rows, affectedRows: affected)
    }

    private static func error(from result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let sqlState = field(UInt8(ascii: "C"))
        let message = field(UInt8(ascii: "M")) ?? errorMessage(handle)
        var code = PostgresError.classify(sqlState: sqlState, message: message)
        if !isConnected(handle) { code = .connectionLost }
        return PostgresError(
            code: code, sqlState: sqlState, message: message,
            hint: field(UInt8(ascii: "H")),
            constraint: field(UInt8(ascii: "n")),
            table: field(UInt8(ascii: "t")),
            column: field(UInt8(ascii: "c")))
    }
}
