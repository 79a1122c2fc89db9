import CCurl
import Dispatch
import Foundation

/// An HTTP/1.1 client on libcurl. Each request's blocking `curl_easy_perform` runs on a
/// dispatch queue, never on Swift's cooperative pool; no curl pointer leaves this file.
public struct CurlHTTPClient: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: [String: String]
        public var body: Data?
        /// Whole-request timeout in milliseconds. Default 10 000.
        public var timeoutMilliseconds: Int
        /// Connect to this unix socket instead of the URL's host and port (the Docker Engine
        /// API); the URL still names the path and the `Host` header. Default nil (TCP).
        public var unixSocketPath: String?

        public init(
            method: String = "GET", url: String, headers: [String: String] = [:], body: Data? = nil,
            timeoutMilliseconds: Int = 10_000, unixSocketPath: String? = nil
        ) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeoutMilliseconds = timeoutMilliseconds
            self.unixSocketPath = unixSocketPath
        }
    }

    public struct Response: Sendable {
        public var status: Int
        /// The final response's header fields (not those of an interim `100 Continue`).
        public var headers: HTTPHeaderFields
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }

        public init(status: Int, headers: HTTPHeaderFields = HTTPHeaderFields(), body: Data = Data()) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// A transport failure (no HTTP status): curl's code and its message. Never contains the
    /// request body or headers.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var curlCode: Int
        public var message: String
        public var isTimeout: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
        public static let timeoutCode = Int(CURLE_OPERATION_TIMEDOUT.rawValue)

        public init(curlCode: Int, message: String) {
            self.curlCode = curlCode
            self.message = message
        }
        public var description: String { "HTTP transport error \(curlCode): \(message)" }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init() {
        _ = Self.globalInit
    }

    public func send(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            // A serial queue of its own per transfer: serial queues overcommit (a blocked one gets a
            // new thread at once), whereas the blocking transfers of one concurrent queue would
            // share libdispatch's width-limited pool (one thread per core) with Swift's executor
            // on Linux and stall it — and any server in the same process — until they time out.
            DispatchQueue(label: "molecule.curl.transfer").async {
                continuation.resume(with: Result { try Self.perform(request) })
            }
        }
    }

    /// What the callbacks collect during one `curl_easy_perform`, on its thread only.
    private final class Sink {
        var data = Data()
        var headers = ResponseHeaderParser()
    }

    private static func perform(_ request: Request) throws -> Response {
        guard let handle = curl_easy_init() else {
            throw Failure(curlCode: -1, message: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(handle) }
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        let sink = Sink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        _ = request.url.withCString { curl_setopt_ptr(handle, CURLOPT_URL, $0) }
        _ = request.method.withCString { curl_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, $0) }
        _ = curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        if let socket = request.unixSocketPath {
            _ = socket.withCString { curl_setopt_ptr(handle, CURLOPT_UNIX_SOCKET_PATH, $0) }
        }
        _ = curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)
        _ = curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
        _ = curl_setopt_ptr(handle, CURLOPT_WRITEDATA, sinkPointer)
        _ = curl_setopt_write(handle) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            sink.data.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: size * count)
            return size * count
        }
        _ = curl_setopt_ptr(handle, CURLOPT_HEADERDATA, sinkPointer)
        _ = curl_setopt_header(handle) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let line = UnsafeRawBufferPointer(start: buffer, count: size * count)
            sink.headers.consume(String(decoding: line, as: UTF8.self))
            return size * count
        }
        if let body = request.body {
            _ = curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            _ = body.withUnsafeBytes { curl_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }
        }
        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            throw Failure(curlCode: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        _ = curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: sink.headers.fields, body: sink.data)
    }
}
