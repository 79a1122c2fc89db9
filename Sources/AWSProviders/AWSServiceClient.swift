import CurlHTTP
import Foundation
import Providers

/// Signed POSTs to one AWS service at one endpoint: SigV4 over the exact body and Host sent,
/// an explicit `Content-Type`, an empty `Expect` (no `100-continue`). An answer that is not a
/// 2xx becomes a classified `ProviderError` (`AWSErrorClassifier`); a transport failure a
/// timeout (the side effect may have happened) or an unreachable/transient error.
public struct AWSServiceClient: Sendable {
    public let service: String
    public let endpoint: String
    /// `instances`, `secret store`: the provider named in errors.
    public let providerName: String
    public let region: String
    let signer: SigV4Signer
    let credentials: AWSCredentialChain
    let transport: any AWSTransport
    let timeoutMilliseconds: Int
    let clock: @Sendable () -> Date

    public init(
        service: String, providerName: String, settings: ResolvedAWSSettings, credentials: AWSCredentialChain,
        transport: any AWSTransport, clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.service = service
        self.providerName = providerName
        self.region = settings.region
        self.endpoint = settings.endpoint(service: service)
        self.signer = SigV4Signer(region: settings.region, service: service)
        self.credentials = credentials
        self.transport = transport
        self.timeoutMilliseconds = settings.settings.timeoutMilliseconds
        self.clock = clock
    }

    /// POSTs `body` to `/`; returns the 2xx response's body.
    func post(operation: String, headers: [String: String], body: Data) async throws -> Data {
        let keys: AWSCredentials
        do {
            keys = try await credentials.credentials()
        } catch let error as AWSConfigurationError {
            throw ProviderErrorFactory.make(.invalid, providerName, operation, error.description)
        }
        let signed = signer.sign(
            .init(method: "POST", host: Self.hostHeader(endpoint), headers: headers, body: body), credentials: keys,
            date: clock())
        var sent = signed
        sent["Expect"] = ""
        let response: CurlHTTPClient.Response
        do {
            response = try await transport.send(
                .init(method: "POST", url: endpoint + "/", headers: sent, body: body, timeoutMilliseconds: timeoutMilliseconds))
        } catch let failure as CurlHTTPClient.Failure {
            throw ProviderErrorFactory.make(
                failure.isTimeout ? .timeout : .transient, providerName, operation,
                "\(service) at \(endpoint): \(failure.message)")
        }
        guard (200..<300).contains(response.status) else {
            let error = AWSErrorClassifier.classify(response, provider: providerName, operation: operation, redacting: keys)
            if error.code == "ExpiredToken" || error.code == "RequestExpired" { await credentials.invalidate() }
            throw error.providerError
        }
        return response.body
    }

    /// `host[:port]` as libcurl sends it in the Host header: the port only when the URL has one.
    static func hostHeader(_ endpoint: String) -> String {
        guard let components = URLComponents(string: endpoint), let host = components.host else { return endpoint }
        return components.port.map { "\(host):\($0)" } ?? host
    }
}

enum ProviderErrorFactory {
    static func make(_ kind: ProviderError.Kind, _ provider: String, _ operation: String, _ message: String) -> ProviderError {
        ProviderError(kind, provider: provider, operation: operation, message: message)
    }
}
