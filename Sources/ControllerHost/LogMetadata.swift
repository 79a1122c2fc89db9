import Logging

/// Log metadata keys, defined once.
enum LogKey {
    static let controller = "controller"
    static let key = "resource.key"
    static let reconcileID = "reconcile.id"
    /// The lease token that fences the reconcile's write-back.
    static let fence = "fence"
}
