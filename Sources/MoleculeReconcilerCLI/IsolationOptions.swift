import ArgumentParser
import Foundation
import LocalProviders

/// Whether the local runtimes run as users of their own (`RuntimeIsolation`): automatic when
/// this process is root; these options choose the uids and whether running without it is allowed.
struct IsolationOptions: ParsableArguments {
    /// `MOLECULE_REQUIRE_ISOLATION` is the environment's way to say the same.
    @Flag(
        name: .long,
        help: "Refuse to start local runtimes unless each runs as its own user (needs root; or MOLECULE_REQUIRE_ISOLATION=1).")
    var requireIsolation = false

    @Option(
        name: .long,
        help:
            "The uids (and gids) of the local runtimes when root, one per workspace (default: $MOLECULE_RUNTIME_UIDS, then 61000-65000)."
    )
    var runtimeUids: String?

    static let defaultUIDs: ClosedRange<uid_t> = 61_000...65_000

    var required: Bool {
        requireIsolation
            || ["1", "true", "yes", "on"].contains(
                ProcessInfo.processInfo.environment["MOLECULE_REQUIRE_ISOLATION"]?.lowercased() ?? "")
    }

    func validate() throws {
        _ = try uids()
    }

    /// The range from `--runtime-uids`, then `MOLECULE_RUNTIME_UIDS`, then the default.
    func uids() throws -> ClosedRange<uid_t> {
        let (setting, text) =
            runtimeUids.map { ("--runtime-uids", $0) }
            ?? ProcessInfo.processInfo.environment["MOLECULE_RUNTIME_UIDS"].map { ("MOLECULE_RUNTIME_UIDS", $0) }
            ?? ("", "")
        if setting.isEmpty { return Self.defaultUIDs }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { uid_t($0) }
        guard bounds.count == 2, let low = bounds[0], let high = bounds[1], low >= 1_000, low <= high, high < 1 << 31
        else {
            throw ValidationError("\(setting): must be FIRST-LAST with 1000 <= FIRST <= LAST < 2147483648, got '\(text)'")
        }
        return low...high
    }

    func resolve(stateDirectory: String) throws -> RuntimeIsolation {
        RuntimeIsolation.detect(
            stateDirectory: URL(fileURLWithPath: stateDirectory), uids: try uids(), required: required)
    }
}
