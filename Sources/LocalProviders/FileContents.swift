import Foundation

/// Reading a file whose absence means something ("no configuration yet") without confusing
/// absent with unreadable: only a missing file (ENOENT) is absent; every other failure is
/// thrown, so that nobody writes over a file they could not read.
enum FileContents {
    /// Why a file could not be read: the `errno` of the failing call, in words.
    struct ReadFailure: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "\(String(cString: strerror(code))) (errno \(code))" }
    }

    /// The file's bytes; nil when it does not exist.
    static func readIfPresent(_ url: URL) throws(ReadFailure) -> Data? {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw ReadFailure(code: errno)
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadFailure(code: errno)
            }
            data.append(contentsOf: buffer[..<count])
        }
    }
}
