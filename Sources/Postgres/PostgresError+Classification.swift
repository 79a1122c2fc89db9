extension PostgresError {
    /// Whether the session is unusable or talks to the wrong server (lost, timed out, refused,
    /// read-only or in recovery): it is dropped, never lent again, and the next session is opened
    /// through the conninfo's host list, which is how the sidecar follows the primary.
    public var isConnectionLevel: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timeout, .serverReadOnly:
            return true
        default:
            return false
        }
    }

    /// The code for a server error, from its SQLSTATE and, for the errors PostgreSQL raises
    /// without a specific SQLSTATE (or before a session exists), its message.
    static func classify(sqlState: String?, message: String) -> Code {
        if let sqlState, let code = codes[sqlState] { return code }
        if sqlState?.hasPrefix("08") == true { return .connectionLost }
        if unavailableMessages.contains(where: message.contains) { return .connectionLost }
        if message.contains("during recovery") { return .serverReadOnly }
        return .other
    }

    private static let codes: [String: Code] = [
        "23505": .uniqueViolation,
        "23503": .foreignKeyViolation,
        "23514": .checkViolation,
        "23502": .notNullViolation,
        "P0001": .raisedException,
        "40001": .serializationFailure,
        "40P01": .deadlockDetected,
        "55P03": .lockNotAvailable,
        "57014": .queryCanceled,
        "42P01": .undefinedTable,
        "25006": .serverReadOnly,
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01": .connectionLost,
        "57P02": .connectionLost,
        "57P03": .connectionLost,
    ]

    /// What the server says when it is starting, stopping or recovering (57P03's messages).
    private static let unavailableMessages = [
        "the database system is in recovery mode",
        "the database system is starting up",
        "the database system is shutting down",
        "the database system is not yet accepting connections",
        "the database system is not accepting connections",
    ]
}
