extension WorkspaceBundle {
    /// Where a workspace's bundle is staged in the secret store, and where its instance finds it.
    public static func secretName(workspaceID: String) -> String { "molecule/workspace/\(workspaceID)/config" }
}
