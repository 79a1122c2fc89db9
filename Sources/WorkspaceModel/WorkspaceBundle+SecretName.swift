extension WorkspaceBundle {
    static let secretPrefix = "molecule/workspace/"

    /// Where a workspace's bundle is staged in the secret store, and where its instance finds it.
    public static func secretName(workspaceID: String) -> String { "\(secretPrefix)\(workspaceID)/config" }

    /// The prefix every bundle's name starts with, for listing them.
    public static var secretNamePrefix: String { secretPrefix }

    /// The workspace a bundle's secret name belongs to; nil for any other name.
    public static func workspaceID(ofSecretName name: String) -> String? {
        guard name.hasPrefix(secretPrefix), name.hasSuffix("/config") else { return nil }
        let id = name.dropFirst(secretPrefix.count).dropLast("/config".count)
        return id.isEmpty || id.contains("/") ? nil : String(id)
    }
}
