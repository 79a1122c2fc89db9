import Crypto
import Foundation
import ReconcileRuntime

/// Everything an instance of one generation boots with, derived from the source of truth on
/// every reconcile (never from whoever asked for a restart): the template's files, the org's
/// and the workspace's secrets (the workspace's win on the same key), and the instance token
/// of this generation.
public struct WorkspaceBundle: Sendable, Equatable {
    public struct Secret: Sendable, Equatable {
        public var value: String
        /// Whether the runtime reads it; a change to a key it does not read needs no restart.
        public var runtimeConsumed: Bool

        public init(value: String, runtimeConsumed: Bool) {
            self.value = value
            self.runtimeConsumed = runtimeConsumed
        }
    }

    public let instanceGeneration: Int64
    public let files: [String: String]
    public let secrets: [String: Secret]
    public let instanceToken: String
    /// Plugins the runtime installs at boot (declared with `requires_restart`): name -> ref.
    public let bootPlugins: [String: String]
    /// The staged form: canonical JSON (sorted keys), identical bytes for identical inputs.
    /// `plugins` appears only when there are boot plugins (bundles without stay as they were).
    public let canonicalData: Data
    /// SHA-256 of the staged form: any change means "stage again".
    public let hash: String
    /// SHA-256 of what the runtime consumes (files, consumed keys, token, boot plugins): only a
    /// change here can call for a restart.
    public let runtimeHash: String

    /// - Throws: `TemplateFiles.Rejection` for a file that may not be delivered; the JSON
    ///   encoder's error if the bundle cannot be encoded (then nothing may be staged or hashed).
    public init(
        instanceGeneration: Int64, templateFiles: [String: String], orgSecrets: [String: Secret],
        workspaceSecrets: [String: Secret], instanceToken: String, bootPlugins: [String: String] = [:]
    ) throws {
        self.instanceGeneration = instanceGeneration
        self.files = try TemplateFiles.validate(templateFiles)
        self.secrets = orgSecrets.merging(workspaceSecrets) { _, workspace in workspace }
        self.instanceToken = instanceToken
        self.bootPlugins = bootPlugins
        var staged: [String: Any] = [
            "files": files,
            "env": secrets.mapValues(\.value),
            "instance_token": instanceToken,
            "instance_generation": String(instanceGeneration),
        ]
        var consumed: [String: Any] = [
            "files": files,
            "env": secrets.filter(\.value.runtimeConsumed).mapValues(\.value),
            "instance_token": instanceToken,
        ]
        if !bootPlugins.isEmpty {
            staged["plugins"] = bootPlugins
            consumed["plugins"] = bootPlugins
        }
        self.canonicalData = try Self.canonical(staged)
        self.hash = Self.sha256(canonicalData)
        self.runtimeHash = Self.sha256(try Self.canonical(consumed))
    }

    /// The secret store's version token for this bundle: the same for every retry of one
    /// staging, different whenever workspace, generation or content differ (so a value going
    /// A -> B -> A still makes A current again).
    public func versionToken(workspaceID: String) -> String {
        Self.sha256(Data("\(workspaceID):\(instanceGeneration):\(hash)".utf8))
    }

    static func canonical(_ object: [String: Any]) throws -> Data {
        // Sorted keys and no whitespace: JSONSerialization's output is then a function of the value.
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func sha256(_ data: Data) -> String {
        Hex.string(SHA256.hash(data: data))
    }
}

/// The instance token of one generation: HMAC-SHA256 of the workspace's token seed (kept in the
/// database, never logged) over the workspace and generation. Stable for every reconcile of a
/// generation, different for the next one, so the old token leaves the bundle on restart
/// (seed 003).
public enum InstanceToken {
    public static func derive(seed: String, workspaceID: String, generation: Int64) -> String {
        let key = SymmetricKey(data: Data(seed.utf8))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("molecule-instance-token:\(workspaceID):\(generation)".utf8), using: key)
        return Hex.string(mac)
    }
}
