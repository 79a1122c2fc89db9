import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("PostgreSQL connection")
struct PostgresConnectionTests {
    @Test("typed values round-trip through parameters and results")
    func typedRoundTrip() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let bytes = Data([0, 1, 0xfe, 0xff])
        let row = try await pool.query(
            """
            SELECT $1::text AS t, $2::bigint AS i, $3::bool AS b, $4::uuid AS u, $5::timestamptz AS ts,
                   $6::jsonb AS j, $7::bytea AS bin, $8::text[] AS arr, $9::bigint[] AS nums, NULL::text AS n
            """,
            [
                "it's \"quoted\" \\ {x,y}", Int64(9_007_199_254_740_993), true, id, when,
                try PostgresJSON(["k": "v"]), bytes, ["a b", "c,d", "\"e\"", ""], [Int64(1), -2],
            ]
        ).rows[0]
        #expect(try row.decode(String.self, "t") == "it's \"quoted\" \\ {x,y}")
        #expect(try row.decode(Int64.self, "i") == 9_007_199_254_740_993)
        #expect(try row.decode(Bool.self, "b") == true)
        #expect(try row.decode(UUID.self, "u") == id)
        let decoded = try #require(try row.decode(Date.self, "ts"))
        #expect(abs(decoded.timeIntervalSince(when)) < 0.000_002)
        #expect(try row.decodeJSON([String: String].self, "j") == ["k": "v"])
        #expect(try row.decode(Data.self, "bin") == bytes)
        #expect(try row.decode([String].self, "arr") == ["a b", "c,d", "\"e\"", ""])
        #expect(try row.decode([Int64].self, "nums") == [1, -2])
        #expect(try row.decode(String.self, "n") == nil)
        #expect(throws: PostgresError.self) { try row.require(String.self, "n") }
    }

    @Test("a parameterised statement is prepared once per session, run by name after, and prepared again on a new session")
    func preparedOncePerSession() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let connection = PostgresConnection(configuration: pool.configuration)
        let sql = "SELECT $1::int + 1 AS n"
        for value in 1...3 {
            #expect(try await connection.query(sql, [value]).rows[0].require(Int.self, "n") == value + 1)
        }
        func preparedHere() async throws -> [String] {
            try await connection.query("SELECT statement FROM pg_prepared_statements WHERE statement = $1", [sql]).rows
                .map { try $0.require(String.self, "statement") }
        }
        #expect(try await preparedHere() == [sql])
        // A new session (the old one terminated) knows nothing prepared: the statement is prepared again.
        let pid = try await connection.backendPID()
        try await pool.query("SELECT pg_terminate_backend($1)", [Int(pid)])
        _ = try? await connection.query(sql, [1])
        #expect(try await connection.query(sql, [41]).rows[0].require(Int.self, "n") == 42)
        #expect(try await preparedHere() == [sql])
        await connection.close()
    }

    @Test("every session runs with ISO dates in UTC and no JIT")
    func sessionSettings() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let row = try await pool.query(
            "SELECT current_setting('DateStyle') AS d, current_setting('TimeZone') AS z, current_setting('jit') AS jit"
        ).rows[0]
        #expect(try row.require(String.self, "d").hasPrefix("ISO"))
        #expect(try row.require(String.self, "z") == "UTC")
        #expect(try row.require(String.self, "jit") == "off")
    }

    @Test("a NULL parameter is SQL NULL")
    func nullParameter() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        let optional: String? = nil
        let row = try await pool.query("SELECT $1::text IS NULL AS isnull", [optional]).rows[0]
        #expect(try row.decode(Bool.self, "isnull") == true)
    }

    @Test("errors carry SQLSTATE and classification, never the bound value")
    func errorsAreClassifiedWithoutValues() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("CREATE TABLE t (k text PRIMARY KEY, CONSTRAINT short CHECK (length(k) < 40))")
        let secret = "s3cr3t-value-that-must-not-leak"
        try await pool.query("INSERT INTO t VALUES ($1)", [secret])
        do {
            try await pool.query("INSERT INTO t VALUES ($1)", [secret])
            Issue.record("duplicate insert succeeded")
        } catch let error as PostgresError {
            #expect(error.code == .uniqueViolation)
            #expect(error.sqlState == "23505")
            #expect(error.constraint == "t_pkey")
            #expect(!error.description.contains(secret))
            #expect(!error.debugDescription.contains(secret))
        }
        let long = String(repeating: "x", count: 50) + secret
        await #expect(throws: PostgresError.self) { try await pool.query("INSERT INTO t VALUES ($1)", [long]) }
        do {
            try await pool.query("INSERT INTO t VALUES ($1)", [long])
        } catch let error as PostgresError {
            #expect(error.code == .checkViolation)
            #expect(!error.debugDescription.contains(secret))
        }
    }

    @Test("a transaction that throws is rolled back")
    func transactionRollback() async throws {
        let pool = try await TestDatabase.create(poolSize: 1)
        try await pool.query("CREATE TABLE t (v int)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { connection in
                try await connection.query("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        _ = try await pool.transaction { try await $0.query("INSERT INTO t VALUES (2)") }
        let values = try await pool.query("SELECT v FROM t").rows.map { try $0.require(Int.self, "v") }
        #expect(values == [2])
    }

    @Test("a killed session reports connectionLost, and the next call reconnects")
    func reconnectsAfterTermination() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let victim = PostgresConnection(configuration: pool.configuration)
        let pid = try await victim.backendPID()
        try await pool.query("SELECT pg_terminate_backend($1)", [Int(pid)])
        do {
            try await victim.query("SELECT 1")
            Issue.record("query on a terminated session succeeded")
        } catch let error as PostgresError {
            #expect(error.code == .connectionLost)
        }
        let row = try await victim.query("SELECT 42 AS answer").rows[0]
        #expect(try row.decode(Int.self, "answer") == 42)
        #expect(try await victim.backendPID() != pid)
    }

    @Test("statement timeouts cancel long statements")
    func statementTimeout() async throws {
        let base = try await TestDatabase.create(poolSize: 1)
        var configuration = base.configuration
        configuration.statementTimeoutMilliseconds = 100
        let connection = PostgresConnection(configuration: configuration)
        do {
            try await connection.query("SELECT pg_sleep(5)")
            Issue.record("pg_sleep(5) was not cancelled")
        } catch let error as PostgresError {
            #expect(error.code == .queryCanceled)
        }
        #expect(try await connection.query("SELECT 1 AS one").rows.count == 1)
    }

    @Test("an unreachable server is reported with host and port, never the password")
    func unreachableServer() async throws {
        let configuration = PostgresConfiguration(conninfo: "postgresql://bob:hunter2-secret@127.0.0.1:1/db?connect_timeout=2")
        do {
            _ = try await PostgresConnection.connect(configuration)
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(error.code == .connectionFailed)
            #expect(error.description.contains("127.0.0.1:1"))
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("the pool serves more callers than it has connections")
    func poolQueuesCallers() async throws {
        let pool = try await TestDatabase.create(poolSize: 2)
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 1...20 {
                group.addTask { try await pool.query("SELECT $1::int AS v", [value]).rows[0].require(Int.self, "v") }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == 210)
        let sessions = try await pool.query(
            """
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'
            """
        ).rows[0].require(Int.self, "n")
        #expect(sessions <= 2)
    }
}
