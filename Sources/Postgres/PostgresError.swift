/// An error from PostgreSQL or libpq, classified once here at the boundary.
///
/// Descriptions carry the SQLSTATE, the server's primary message and hint, and the
/// constraint/table/column names. They never carry bound values: the server's DETAIL field
/// (which echoes row contents, e.g. "Failing row contains (...)") is deliberately dropped.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Code: Sendable, Equatable {
        case uniqueViolation
        case foreignKeyViolation
        case checkViolation
        case notNullViolation
        /// `RAISE EXCEPTION` from a trigger or function (SQLSTATE P0001).
        case raisedException
        case serializationFailure
        case deadlockDetected
        /// A row or table lock asked for with NOWAIT is held by another session (55P03).
        case lockNotAvailable
        /// Statement timeout or cancellation (57014).
        case queryCanceled
        case undefinedTable
        /// The connection could not be established.
        case connectionFailed
        /// An established connection died (server restart, `pg_terminate_backend`, network).
        case connectionLost
        /// No answer within the client-side deadline (`PostgresConfiguration.statementDeadline`):
        /// the statement was cancelled and the session dropped.
        case timeout
        /// The server accepts no writes: a standby, or a primary in recovery or read-only mode
        /// (25006, "... during recovery"). The session is dropped so the next one finds the primary.
        case serverReadOnly
        /// No pooled connection became free within the pool's checkout deadline.
        case poolTimeout
        /// A value could not be decoded into the requested Swift type.
        case decoding
        case other
    }

    public var code: Code
    public var sqlState: String?
    public var message: String
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?

    public init(
        code: Code, sqlState: String? = nil, message: String, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    public var description: String {
        var text = message
        if let sqlState { text = "\(text) (SQLSTATE \(sqlState))" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    public var debugDescription: String {
        var parts = ["PostgresError(\(code)", description]
        if let constraint { parts.append("constraint: \(constraint)") }
        if let table { parts.append("table: \(table)") }
        if let column { parts.append("column: \(column)") }
        return parts.joined(separator: ", ") + ")"
    }
}
