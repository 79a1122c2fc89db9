/// The workspace platform's controllers: each name is also its table and its NOTIFY channel
/// (see `manifests/schema/0003_controller_tables.sql`). The one home of these names.
public enum ControllerName: String, CaseIterable, Sendable {
    case instances
    case secretBundles = "secret_bundles"
    case pluginInstalls = "plugin_installs"
    case tunnelIngress = "tunnel_ingress"
}
