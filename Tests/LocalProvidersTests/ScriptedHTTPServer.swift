import Foundation
import Synchronization

/// An HTTP server on loopback for tests that must send what a framework would not (an interim
/// `100 Continue`, any form of `Retry-After`, a body that is not JSON) or nothing at all: each
/// connection reads one request, gets the next scripted reply as raw bytes, and is closed.
/// Blocking socket calls run on a thread of their own, never on Swift's cooperative pool.
final class ScriptedHTTPServer: Sendable {
    enum Reply: Sendable {
        /// These bytes, as they are.
        case raw(String)
        /// No answer: hold the connection this many seconds, then close it.
        case silence(seconds: Double)
    }

    let port: Int
    private let listener: Int32
    private let script: Mutex<[Reply]>

    /// Listens on an ephemeral loopback port; `stop()` closes it.
    init(_ replies: [Reply]) throws {
        #if os(Linux)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let fd = socket(AF_INET, stream, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, listening else {
            let failure = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            close(fd)
            throw failure
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        script = Mutex(replies)
        Thread.detachNewThread { [self] in serve() }
    }

    /// A complete response: status (`429 Too Many Requests`), header lines, body.
    static func response(_ status: String, headers: [String] = [], body: String = "") -> Reply {
        let lines = ["HTTP/1.1 \(status)"] + headers + ["Content-Length: \(body.utf8.count)", "Connection: close"]
        return .raw(lines.map { $0 + "\r\n" }.joined() + "\r\n" + body)
    }

    /// Stops accepting: a later connection is refused.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR { continue }
                return
            }
            readRequest(connection)
            switch script.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            case .raw(let text):
                let bytes = Array(text.utf8)
                var sent = 0
                while sent < bytes.count {
                    let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
                    guard count > 0 else { break }
                    sent += count
                }
            case .silence(let seconds):
                Thread.sleep(forTimeInterval: seconds)
            case nil:
                break
            }
            close(connection)
        }
    }

    /// Reads the head and the `Content-Length` body, so that closing does not reset the connection.
    private func readRequest(_ connection: Int32) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let separator = Array("\r\n\r\n".utf8)
        var expected: Int?
        while expected.map({ received.count < $0 }) ?? true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            received += buffer[..<count]
            if expected == nil, let end = received.indices.first(where: { received[$0...].starts(with: separator) }) {
                let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = end + separator.count + length
            }
        }
    }
}
