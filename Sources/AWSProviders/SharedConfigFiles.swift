import Foundation

/// The AWS shared credentials file (`~/.aws/credentials`, `[name]` sections) and config file
/// (`~/.aws/config`, `[profile name]` sections and `[default]`), at the paths
/// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name. A missing file is empty.
struct SharedConfigFiles {
    var credentialsPath: String
    var configPath: String

    init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsPath = nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? "\(home)/.aws/credentials"
        configPath = nonEmpty(environment["AWS_CONFIG_FILE"]) ?? "\(home)/.aws/config"
    }

    /// A key of the profile in the credentials file, else in the config file.
    func value(_ key: String, profile: String) -> String? {
        Self.sections(credentialsPath)[profile]?[key] ?? configValue(key, profile: profile)
    }

    func configValue(_ key: String, profile: String) -> String? {
        let sections = Self.sections(configPath)
        return (sections["profile \(profile)"] ?? (profile == "default" ? sections["default"] : nil))?[key]
    }

    /// `[section]` → key → value; comments (`#`, `;`) and blank lines skipped, names trimmed.
    static func sections(_ path: String) -> [String: [String: String]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true).joined(
                    separator: " ")
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}
