import Foundation

/// The fields of `/proc/<pid>/stat` the process provider needs. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted from its last `)`.
struct ProcessStat: Equatable {
    /// Field 3: R, S, D, T, t, Z (zombie), X (dead)...
    var state: Character
    /// Field 22: the start time in clock ticks since boot (with the pid, a process's identity).
    var startTime: String

    /// nil when the process does not exist (or its stat cannot be read).
    init?(pid: Int32) {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        self.init(text: String(decoding: data, as: UTF8.self))
    }

    init?(text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first else { return nil }
        self.state = state
        self.startTime = String(fields[19])
    }

    /// Exited: a zombie waiting to be reaped, or already gone.
    var isDead: Bool { state == "Z" || state == "X" || state == "x" }
}
