import AWSProviders
import CurlHTTP
import Foundation

/// One `moto_server` for the cloud-fleet suite, with signature checking on
/// (`INITIAL_NO_AUTH_ACTION_COUNT=0`: three unauthenticated IAM actions create an `Allow *` user
/// and its access key, then every request's SigV4 signature is verified against that key) and
/// moto's request recorder on: every request moto receives is appended to `recording`, which
/// is what the tests count the reconciler's mutating calls from — the server's side, not the
/// client's. Stopped at process exit.
actor CloudMoto {
    static let shared = CloudMoto()

    struct Endpoint: Sendable {
        var url: String
        var accessKeyID: String
        var secretAccessKey: String
        /// moto's request log (JSON lines: method, url, headers, body).
        var recording: String

        /// What the reconciler's process (and the tests' own clients) resolve: moto's key, its
        /// region, moto as the endpoint, no metadata service, no shared files.
        var environment: [String: String] {
            [
                "AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
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
        CloudMotoShutdown.removeAbandonedServers()
        let port = try freePort()
        let recording = NSTemporaryDirectory() + "molecule-cloud-moto-\(getpid()).jsonl"
        _ = FileManager.default.createFile(atPath: recording, contents: Data())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        environment["MOTO_ENABLE_RECORDING"] = "true"
        environment["MOTO_RECORDER_FILEPATH"] = recording
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        CloudMotoShutdown.register(pid: process.processIdentifier, recording: recording)
        let url = "http://127.0.0.1:\(port)"
        let http = CurlHTTPClient()
        var answered = false
        for _ in 0..<300 where process.isRunning {
            if let response = try? await http.send(.init(url: url + "/moto-api/", timeoutMilliseconds: 1_000)),
                response.status == 200
            {
                answered = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard answered else { throw CloudMotoUnavailable(reason: "moto_server did not answer on \(url)") }
        let allowed = try await http.send(
            .init(
                method: "POST", url: url + "/moto-api/reset-auth", headers: ["Content-Type": "text/plain"],
                body: Data("3".utf8)))
        guard allowed.status == 200 else { throw CloudMotoUnavailable(reason: "reset-auth answered \(allowed.status)") }
        // The three unauthenticated IAM actions (signed with a made-up key: moto routes by the
        // signature's scope and does not check it yet).
        let bootstrap = Endpoint(
            url: url, accessKeyID: "AKIABOOTSTRAP0000000", secretAccessKey: "bootstrap", recording: recording)
        let user = "molecule-cloud-fleet"
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        _ = try await bootstrap.query("iam", "CreateUser", [("UserName", user)], version: "2010-05-08")
        _ = try await bootstrap.query(
            "iam", "PutUserPolicy", [("UserName", user), ("PolicyName", "all"), ("PolicyDocument", policy)],
            version: "2010-05-08")
        let key = try await bootstrap.query("iam", "CreateAccessKey", [("UserName", user)], version: "2010-05-08")
        guard let id = CloudMoto.element("AccessKeyId", in: key), let secret = CloudMoto.element("SecretAccessKey", in: key)
        else { throw CloudMotoUnavailable(reason: "CreateAccessKey answered no key") }
        return Endpoint(url: url, accessKeyID: id, secretAccessKey: secret, recording: recording)
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
        guard bound else { throw CloudMotoUnavailable(reason: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The text of the first `<name>` element of an XML answer.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
            let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
    }
}

extension CloudMoto.Endpoint {
    /// A signed AWS Query call (EC2, IAM): the XML answer; a non-2xx answer throws.
    func query(_ service: String, _ action: String, _ parameters: [(String, String)], version: String) async throws
        -> String
    {
        let body = ([("Action", action), ("Version", version)] + parameters)
            .map { "\(SigV4Signer.percentEncode($0.0))=\(SigV4Signer.percentEncode($0.1))" }.joined(separator: "&")
        return try await post(
            service, headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"], body: Data(body.utf8),
            what: action)
    }

    /// A signed AWS JSON call (Secrets Manager): the JSON answer.
    func json(_ service: String, target: String, _ parameters: [String: Any]) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: parameters)
        let answer = try await post(
            service, headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target], body: body,
            what: target)
        return (try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]) ?? [:]
    }

    private func post(_ service: String, headers: [String: String], body: Data, what: String) async throws -> String {
        let host = String(url.dropFirst("http://".count))
        var signed = SigV4Signer(region: "us-east-1", service: service).sign(
            .init(method: "POST", host: host, headers: headers, body: body),
            credentials: AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, source: "test"),
            date: Date())
        signed["Expect"] = ""
        let response = try await CurlHTTPClient().send(
            .init(method: "POST", url: url + "/", headers: signed, body: body, timeoutMilliseconds: 60_000))
        let text = String(decoding: response.body, as: UTF8.self)
        guard (200..<300).contains(response.status) else {
            throw CloudMotoUnavailable(reason: "\(what) answered \(response.status): \(text.prefix(300))")
        }
        return text
    }

    /// Every AWS action moto has received so far, in order: `ec2.RunInstances`,
    /// `secretsmanager.PutSecretValue`... (from its recorder; moto's own `/moto-api` calls are
    /// not actions).
    func recordedActions() throws -> [String] {
        let text = try String(contentsOfFile: recording, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> String? in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            let headers = entry["headers"] as? [String: String] ?? [:]
            if let target = headers.first(where: { $0.key.lowercased() == "x-amz-target" })?.value {
                // secretsmanager.PutSecretValue
                return target
            }
            var body = entry["body"] as? String ?? ""
            if entry["body_encoded"] as? Bool == true, let data = Data(base64Encoded: body) {
                body = String(decoding: data, as: UTF8.self)
            }
            let scope =
                headers.first { $0.key.lowercased() == "authorization" }?.value
                .split(separator: "/").dropFirst(3).first.map(String.init) ?? "?"
            let action = body.split(separator: "&").first { $0.hasPrefix("Action=") }?.dropFirst("Action=".count)
            return action.map { "\(scope).\($0)" }
        }
    }

    /// The recorded actions that change something in AWS.
    static func mutating(_ actions: some Sequence<String>) -> [String] {
        let reads = ["Describe", "List", "Get"]
        return actions.filter { action in
            let name = action.split(separator: ".").last.map(String.init) ?? action
            return !reads.contains { name.hasPrefix($0) }
        }
    }
}

struct CloudMotoUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { "moto: \(reason)" }
}

/// Stops moto at process exit (SIGKILL: moto's SIGTERM handler leaves its threaded server
/// running); a server left by a test process killed before its exit handler ran is stopped by
/// the next run (`/tmp/molecule-cloud-moto-<test process>.pid`).
enum CloudMotoShutdown {
    nonisolated(unsafe) private static var pid: Int32 = 0

    static func register(pid: Int32, recording: String) {
        Self.pid = pid
        try? String(pid).write(toFile: "/tmp/molecule-cloud-moto-\(getpid()).pid", atomically: true, encoding: .utf8)
        atexit {
            unlink("/tmp/molecule-cloud-moto-\(getpid()).pid")
            unlink(NSTemporaryDirectory() + "molecule-cloud-moto-\(getpid()).jsonl")
            if CloudMotoShutdown.pid > 0 { kill(CloudMotoShutdown.pid, SIGKILL) }
        }
    }

    static func removeAbandonedServers() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix("molecule-cloud-moto-") && entry.hasSuffix(".pid") {
            let owner = Int32(entry.dropFirst("molecule-cloud-moto-".count).dropLast(".pid".count)) ?? 0
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
