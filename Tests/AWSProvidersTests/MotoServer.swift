import CurlHTTP
import Foundation

@testable import AWSProviders

/// One `moto_server` per test process, on a free loopback port, with signature checking on:
/// started with `INITIAL_NO_AUTH_ACTION_COUNT=0`, then three unauthenticated actions are
/// allowed once (`/moto-api/reset-auth`) and spent on IAM (a user, an `Allow *` policy, an
/// access key); from then on every request's SigV4 signature is verified against that key.
/// Stopped at process exit. Tests share it: they use their own workspace IDs (fresh UUIDs) and
/// never reset it.
actor MotoServer {
    static let shared = MotoServer()

    struct Endpoint: Sendable {
        var url: String
        var accessKeyID: String
        var secretAccessKey: String

        /// The process environment a provider on this endpoint resolves.
        var environment: [String: String] {
            [
                "AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
            ]
        }
    }

    private var ready: Task<Endpoint, Error>?

    func endpoint() async throws -> Endpoint {
        if let ready { return try await ready.value }
        let task = Task { try await Self.start() }
        ready = task
        return try await task.value
    }

    private static func start() async throws -> Endpoint {
        MotoShutdown.removeAbandonedServers()
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        process.environment = environment
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        MotoShutdown.register(pid: process.processIdentifier)
        let url = "http://127.0.0.1:\(port)"
        let http = CurlHTTPClient()
        var answered = false
        for _ in 0..<300 {
            if let response = try? await http.send(.init(url: url + "/moto-api/", timeoutMilliseconds: 1_000)),
                response.status == 200
            {
                answered = true
                break
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard answered else { throw MotoUnavailable(reason: "moto_server did not answer on \(url) (is moto[server] installed?)") }
        let allowed = try await http.send(
            .init(
                method: "POST", url: url + "/moto-api/reset-auth", headers: ["Content-Type": "text/plain"],
                body: Data("3".utf8)))
        guard allowed.status == 200 else { throw MotoUnavailable(reason: "reset-auth answered \(allowed.status)") }
        return try await createAccessKey(url: url, http: http)
    }

    /// The three unauthenticated IAM actions: a user, its `Allow *` policy, its access key.
    private static func createAccessKey(url: String, http: CurlHTTPClient) async throws -> Endpoint {
        let bootstrap = AWSCredentials(accessKeyID: "AKIABOOTSTRAP0000000", secretAccessKey: "bootstrap", source: "test")
        func iam(_ parameters: [(String, String)]) async throws -> XMLElementNode {
            let body = (parameters + [("Version", "2010-05-08")])
                .map { "\(SigV4Signer.percentEncode($0.0))=\(SigV4Signer.percentEncode($0.1))" }.joined(separator: "&")
            let headers = SigV4Signer(region: "us-east-1", service: "iam").sign(
                .init(
                    method: "POST", host: AWSServiceClient.hostHeader(url),
                    headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"], body: Data(body.utf8)),
                credentials: bootstrap, date: Date())
            let response = try await http.send(.init(method: "POST", url: url + "/", headers: headers, body: Data(body.utf8)))
            guard response.status == 200, let root = XMLElementNode.parse(response.body) else {
                throw MotoUnavailable(reason: "IAM \(parameters[0].1) answered \(response.status)")
            }
            return root
        }
        let user = "molecule-reconciler-test"
        _ = try await iam([("Action", "CreateUser"), ("UserName", user)])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        _ = try await iam([("Action", "PutUserPolicy"), ("UserName", user), ("PolicyName", "all"), ("PolicyDocument", policy)])
        let key = try await iam([("Action", "CreateAccessKey"), ("UserName", user)])
        guard let id = key.value("CreateAccessKeyResult/AccessKey/AccessKeyId"),
            let secret = key.value("CreateAccessKeyResult/AccessKey/SecretAccessKey")
        else { throw MotoUnavailable(reason: "CreateAccessKey answered no key") }
        return Endpoint(url: url, accessKeyID: id, secretAccessKey: secret)
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw MotoUnavailable(reason: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct MotoUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { "moto: \(reason)" }
}

/// Stops moto at process exit (atexit takes a C function, hence the global). SIGKILL: moto's
/// SIGTERM handler (`sys.exit` in the main thread) leaves its threaded server running, and its
/// state is in memory only.
enum MotoShutdown {
    nonisolated(unsafe) private static var pid: Int32 = 0

    /// `/tmp/molecule-moto-<test process>.pid` holds the server's pid, so that a server left by
    /// a test process killed before its exit handler ran is stopped by the next run.
    static func register(pid: Int32) {
        Self.pid = pid
        try? String(pid).write(toFile: "/tmp/molecule-moto-\(getpid()).pid", atomically: true, encoding: .utf8)
        atexit {
            unlink("/tmp/molecule-moto-\(getpid()).pid")
            if MotoShutdown.pid > 0 { kill(MotoShutdown.pid, SIGKILL) }
        }
    }
}

extension MotoShutdown {
    static func removeAbandonedServers() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix("molecule-moto-") && entry.hasSuffix(".pid") {
            let owner = Int32(entry.dropFirst("molecule-moto-".count).dropLast(".pid".count)) ?? 0
            guard owner > 0, kill(owner, 0) != 0 else { continue }
            let path = "/tmp/\(entry)"
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let server = Int32(text), server > 0,
                let command = try? String(contentsOfFile: "/proc/\(server)/cmdline", encoding: .utf8),
                command.contains("moto_server")
            {
                kill(server, SIGKILL)
            }
            unlink(path)
        }
    }
}
