import ArgumentParser
import Foundation

/// A provider setting as every provider option group reads it: the flag, else its
/// `MOLECULE_*` environment variable (empty means unset), else the caller's default.
enum SettingLookup {
    static func text(_ flag: String?, _ variable: String) -> String? {
        flag ?? environment(variable)
    }

    /// The flag, else the environment variable parsed as the flag would be (refused, naming
    /// both, when it does not parse).
    static func parsed<T: ExpressibleByArgument>(_ flag: T?, _ option: String, _ variable: String) throws -> T? {
        if let flag { return flag }
        guard let text = environment(variable) else { return nil }
        guard let parsed = T(argument: text) else {
            throw ValidationError("\(option) (from $\(variable)): cannot use '\(text)'")
        }
        return parsed
    }

    private static func environment(_ variable: String) -> String? {
        ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }
}
