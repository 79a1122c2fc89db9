import Foundation

/// The OS user a workspace's runtime runs as when the reconciler can switch users: its own uid,
/// and a group of the same number that nobody else is in (systemd's DynamicUser does the same).
/// The group is how the reconciler, which stays the owner of every file it writes, lets this one
/// runtime — and no other — read its bundle.
public struct RuntimeUser: Sendable, Equatable {
    public var uid: uid_t
    public var gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }
}
