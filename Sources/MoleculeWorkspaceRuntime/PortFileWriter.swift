import Foundation
import ServiceLifecycle

/// Writes the port the server listens on to `--port-file` (where the local instance provider
/// learns the runtime's address), then stays until shutdown. A port file that cannot be written
/// stops the runtime with an error, so the process exits non-zero: nobody could reach a runtime
/// whose port is unknown.
struct PortFileWriter: Service {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    /// Yields the bound port once the server is listening.
    let ports: AsyncStream<Int>

    func run() async throws {
        var bound = ports.makeAsyncIterator()
        guard let port = await bound.next() else {
            if Task.isCancelled { return }
            throw Failure(description: "the server reported no port to write to the port file \(path)")
        }
        do {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure(description: "cannot write the port file \(path): \(error.localizedDescription)")
        }
        try await gracefulShutdown()
    }
}
