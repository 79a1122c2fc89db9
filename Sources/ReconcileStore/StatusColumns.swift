/// How a controller's status value reaches its rows inside the host's one fenced write-back:
/// the SQL lives with the controller's other statements (its store), the host splices it into
/// the write-back statement.
///
/// Both parts read the CTE `patch` — one row per key whose lease was still held, with
/// `p.key uuid`, `p.status jsonb` (the controller's `StatusPatch`, NULL when the pass had none)
/// and `p.now timestamptz` (the database clock, or tick mode's) — and may use `$1`, the
/// controller's name.
public struct StatusColumns: Sendable {
    /// A column of the controller's own table. PostgreSQL updates a row once per statement, so
    /// these join the machinery's UPDATE of that table instead of being a statement of their own.
    public struct Column: Sendable {
        public var name: String
        /// The new value: an expression over `p` and `s` (the row as it is).
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A data-modifying statement on another table, written as the body of a CTE that returns
    /// the key of every row it changed as `key` (e.g. `UPDATE workspaces w SET ... FROM patch p
    /// WHERE w.id = p.key AND ... RETURNING w.id AS key`). It must write nothing when nothing changes.
    public struct Statement: Sendable {
        public var name: String
        public var sql: String

        public init(_ name: String, _ sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    /// The table whose rows own the keys, when a statement writes to it (`workspaces` for the
    /// workspace controllers): the write-back locks those rows before anything else, in key
    /// order (docs/DESIGN.md, "Lock order").
    public struct Owner: Sendable {
        /// The table's name and its key column, both identifiers.
        public var table: String
        public var key: String

        public init(table: String, key: String) {
            self.table = table
            self.key = key
        }
    }

    public var columns: [Column]
    public var statements: [Statement]
    public var owner: Owner?

    public init(columns: [Column] = [], statements: [Statement] = [], owner: Owner? = nil) {
        self.columns = columns
        self.statements = statements
        self.owner = owner
    }

    /// A controller with no status beyond the machinery's columns.
    public static let none = StatusColumns()
}

/// A reconciler whose status value has columns of its own (most do); the host splices them
/// into its write-back.
public protocol StatusWriter: Sendable {
    var statusColumns: StatusColumns { get }
}
