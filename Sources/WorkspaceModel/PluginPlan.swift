/// What the declared-plugins controller does to one running instance, from the declarations,
/// what the runtime reports installed, and what this controller delivered before (seed 001:
/// nothing here looks at the workspace's phase — a failure gate never blocks the repair).
public struct PluginPlan: Sendable, Equatable {
    public struct Declared: Sendable, Equatable {
        public var name: String
        public var ref: String
        /// Loaded only at boot: staged in the bundle, arrives with a new instance.
        public var requiresRestart: Bool
        /// Listed in `privileged_plugins`.
        public var privileged: Bool

        public init(name: String, ref: String, requiresRestart: Bool = false, privileged: Bool = false) {
            self.name = name
            self.ref = ref
            self.requiresRestart = requiresRestart
            self.privileged = privileged
        }
    }

    /// Deliver these (name -> ref) into the running instance, in name order.
    public var install: [(name: String, ref: String)]
    /// Remove these: delivered by us before (or privileged and refused) and no longer wanted.
    public var remove: [String]
    /// Privileged plugins declared for a workspace that is not `platform`: never delivered
    /// (fail closed, whatever let the row in).
    public var refused: [String]
    /// Boot plugins the instance does not have yet: they arrive with the restart the bundle
    /// change asks for.
    public var awaitingRestart: [String]
    /// What this controller manages once the plan is carried out.
    public var managed: [String: String]

    public static func == (lhs: PluginPlan, rhs: PluginPlan) -> Bool {
        lhs.install.map { "\($0.name)=\($0.ref)" } == rhs.install.map { "\($0.name)=\($0.ref)" }
            && lhs.remove == rhs.remove && lhs.refused == rhs.refused
            && lhs.awaitingRestart == rhs.awaitingRestart && lhs.managed == rhs.managed
    }

    /// - Parameters:
    ///   - kind: the workspace's kind; only `platform` may have privileged plugins.
    ///   - installed: what the runtime reports (name -> ref).
    ///   - managed: what this controller delivered before (name -> ref).
    public static func decide(
        kind: WorkspaceKind, declared: [Declared], installed: [String: String],
        managed: [String: String]
    ) -> PluginPlan {
        let refused = declared.filter { $0.privileged && kind != .platform }.map(\.name).sorted()
        let wanted = declared.filter { !refused.contains($0.name) }
        let wantedNames = Set(wanted.map(\.name))
        let install = wanted.filter { !$0.requiresRestart && installed[$0.name] != $0.ref }
            .sorted { $0.name < $1.name }.map { (name: $0.name, ref: $0.ref) }
        let awaiting = wanted.filter { $0.requiresRestart && installed[$0.name] != $0.ref }.map(\.name).sorted()
        let unwanted = Set(managed.keys).union(refused).subtracting(wantedNames)
        let remove = unwanted.filter { installed[$0] != nil }.sorted()
        var after: [String: String] = [:]
        for plugin in wanted { after[plugin.name] = plugin.ref }
        return PluginPlan(install: install, remove: remove, refused: refused, awaitingRestart: awaiting, managed: after)
    }
}
