import ControllerHost

/// The controllers this binary runs. The runtime is complete; the workspace controllers
/// (instances, secret bundles, declared plugins, tunnel ingress) are registered here as they
/// land.
enum Controllers {
    static func all() -> [ReconcilerHost.Controller] {
        []
    }
}
