import Metrics

/// Every metric of the PostgreSQL boundary, declared once. Created on first use; `declare()`
/// creates them all at zero (the CLI calls it after bootstrapping metrics). Labels are error
/// codes only (a bounded set), never a statement or a value.
public enum PostgresMetrics {
    /// `# HELP` text of every family this module exports.
    public static let help: [String: String] = [
        "molecule_postgres_errors_total":
            "Errors from PostgreSQL or libpq, by classified code (connection_failed, connection_lost, timeout, ...).",
        "molecule_postgres_sessions_opened_total": "PostgreSQL sessions opened by the pool's connections.",
        "molecule_postgres_connect_failures_total": "Attempts to open a PostgreSQL session that failed.",
        "molecule_postgres_reconnects_total":
            "Sessions lost (the server went away, restarted, ended them or stopped answering); the next use of the connection opens a new one.",
        "molecule_postgres_pool_wait_seconds": "How long a caller waited for a free pooled connection.",
    ]

    /// Creates every series at zero.
    public static func declare() {
        _ = (errors, sessionsOpened, connectFailures, reconnects, poolWait)
    }

    static let errors: [String: Counter] = Dictionary(
        uniqueKeysWithValues: PostgresError.Code.all.map {
            ($0.metricLabel, Counter(label: "molecule_postgres_errors_total", dimensions: [("code", $0.metricLabel)]))
        })
    static let sessionsOpened = Counter(label: "molecule_postgres_sessions_opened_total")
    static let connectFailures = Counter(label: "molecule_postgres_connect_failures_total")
    static let reconnects = Counter(label: "molecule_postgres_reconnects_total")
    static let poolWait = Timer(label: "molecule_postgres_pool_wait_seconds", preferredDisplayUnit: .seconds)

    static func record(_ error: any Error) {
        guard let error = error as? PostgresError else { return }
        errors[error.code.metricLabel]?.increment()
    }
}

extension PostgresError.Code {
    static let all: [PostgresError.Code] = [
        .uniqueViolation, .foreignKeyViolation, .checkViolation, .notNullViolation, .raisedException,
        .serializationFailure, .deadlockDetected, .lockNotAvailable, .queryCanceled, .undefinedTable, .connectionFailed,
        .connectionLost, .timeout, .serverReadOnly, .poolTimeout, .decoding, .other,
    ]

    /// The `code` label.
    var metricLabel: String {
        switch self {
        case .uniqueViolation: "unique_violation"
        case .foreignKeyViolation: "foreign_key_violation"
        case .checkViolation: "check_violation"
        case .notNullViolation: "not_null_violation"
        case .raisedException: "raised_exception"
        case .serializationFailure: "serialization_failure"
        case .deadlockDetected: "deadlock_detected"
        case .lockNotAvailable: "lock_not_available"
        case .queryCanceled: "query_canceled"
        case .undefinedTable: "undefined_table"
        case .connectionFailed: "connection_failed"
        case .connectionLost: "connection_lost"
        case .timeout: "timeout"
        case .serverReadOnly: "server_read_only"
        case .poolTimeout: "pool_timeout"
        case .decoding: "decoding"
        case .other: "other"
        }
    }
}
