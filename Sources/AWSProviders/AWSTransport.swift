import CurlHTTP

/// Sends one HTTP request (libcurl in production; a fault-injecting wrapper in tests).
public protocol AWSTransport: Sendable {
    func send(_ request: CurlHTTPClient.Request) async throws -> CurlHTTPClient.Response
}

extension CurlHTTPClient: AWSTransport {}
