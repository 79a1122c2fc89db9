import Foundation
import CLibPQ

/// The only place that turns libpq handles and results into Swift values. Every function here
/// blocks; callers run them on a connection's dispatch queue or the listener's own thread.
enum LibPQ {
    /// Opens a connection (the conninfo gets `ConninfoDefaults` where the user set nothing) and
    /// applies the session settings every statement here relies on.
    static func connect(_ configuration: PostgresConfiguration) throws -> OpaquePointer {
        guard let handle = PQconnectdb(configuration.conninfoWithDefaults()) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let error = PostgresError(code: .connectionFailed, message: connectionMessage(handle))
            PQfinish(handle)
            throw error
        }
        do {
            try simpleExec(handle, """
                SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET client_min_messages = warning;
                SET statement_timeout = \(max(0, configuration.statementTimeoutMilliseconds));
                SELECT set_config('application_name', \(quoteLiteral(configuration.applicationName)), false)
                """)
        } catch {
            PQfinish(handle)
            throw error
        }
        return handle
    }

    /// `host:port` of a connection attempt and libpq's reason. libpq never puts the password
    /// in its messages.
    static func connectionMessage(_ handle: OpaquePointer) -> String {
        let host = PQhost(handle).map { String(cString: $0) } ?? "?"
        let port = PQport(handle).map { String(cString: $0) } ?? "?"
        let reason = errorMessage(handle)
        return "cannot connect to PostgreSQL at \(host):\(port): \(reason)"
    }

    static func errorMessage(_ handle: OpaquePointer) -> String {
        guard let raw = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a statement with text parameters (`nil` is SQL NULL) and copies the result out.
    static func execute(_ handle: OpaquePointer, _ sql: String, _ parameters: [String?]) throws -> PostgresResult {
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let result = cStrings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, buffer.count)) {
                PQexecParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : $0, nil, nil, 0)
            }
        }
        return try consume(handle, result)
    }

    /// Runs one or more statements without parameters (migrations, session setup).
    @discardableResult
    static func simpleExec(_ handle: OpaquePointer, _ sql: String) throws -> PostgresResult {
        try consume(handle, PQexec(handle, sql))
    }

    private static func consume(_ handle: OpaquePointer, _ result: OpaquePointer?) throws -> PostgresResult {
        guard let result else {
            throw PostgresError(code: PQstatus(handle) == CONNECTION_OK ? .other : .connectionLost,
                                message: errorMessage(handle))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return copy(result)
        default:
            throw error(from: result, handle: handle)
        }
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
        var code = PostgresError.classify(sqlState: sqlState)
        if PQstatus(handle) != CONNECTION_OK { code = .connectionLost }
        let message = field(UInt8(ascii: "M")) ?? errorMessage(handle)
        return PostgresError(code: code, sqlState: sqlState, message: message,
                             hint: field(UInt8(ascii: "H")),
                             constraint: field(UInt8(ascii: "n")),
                             table: field(UInt8(ascii: "t")),
                             column: field(UInt8(ascii: "c")))
    }

    static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func isConnected(_ handle: OpaquePointer) -> Bool {
        PQstatus(handle) == CONNECTION_OK
    }
}
