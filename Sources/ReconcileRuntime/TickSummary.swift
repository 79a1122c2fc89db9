/// What one tick (or several, with `--until-converged`) did, per controller and in total.
public struct TickSummary: Sendable, Codable, Equatable {
    public struct Failure: Sendable, Codable, Equatable {
        public var controller: String
        public var key: String
        public var reason: String
        public var message: String
        public var terminal: Bool

        public init(controller: String, key: String, reason: String, message: String, terminal: Bool) {
            self.controller = controller
            self.key = key
            self.reason = reason
            self.message = message
            self.terminal = terminal
        }
    }

    public struct Controller: Sendable, Codable, Equatable {
        /// Keys looked at (due keys, or every key in a full pass).
        public var examined = 0
        /// Keys whose reconciler ran.
        public var reconciled = 0
        public var succeeded = 0
        public var failed = 0
        /// Keys skipped because another holder had the lease, or they were not due.
        public var skipped = 0
        /// Status rows actually written.
        public var statusWrites = 0
        public init() {}
    }

    public var passes = 0
    public var controllers: [String: Controller] = [:]
    public var actions = ActionLog.Counts()
    public var failures: [Failure] = []
    /// Keys still due when the tick ended.
    public var stillDue = 0
    /// Keys still converging (a look scheduled, no failure) when `--until-converged` ended.
    public var stillConverging = 0

    public init() {}

    public var reconciled: Int { controllers.values.reduce(0) { $0 + $1.reconciled } }
    public var examined: Int { controllers.values.reduce(0) { $0 + $1.examined } }
}
