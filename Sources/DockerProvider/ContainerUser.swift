import Foundation

/// The numeric user and group a workspace's container runs as (the image has no user
/// database, and needs none).
public struct ContainerUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}

/// The user a workspace's container runs as, after letting that user read the workspace's
/// bundle (`bundleName`); nil for the reconciler's own user. A thrown `ProviderError` is the
/// create's failure as it is (isolation required and unavailable names its setting).
public typealias ContainerUserSource = @Sendable (_ workspaceID: String, _ bundleName: String) throws -> ContainerUser?

/// The image a container runs, and the setting or field that chose it (named when the engine
/// does not have it).
struct ImageChoice: Sendable, Equatable {
    var name: String
    var setting: String
}
