import Crypto
import Foundation
import ReconcileRuntime
import Testing

@testable import AWSProviders

/// The AWS SigV4 test-suite vectors and two shaped like our requests (botocore's output),
/// from `shared/reference/provider-apis.md` §1.2.
@Suite("SigV4 signer")
struct SigV4SignerTests {
    static let keys = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", source: "test")
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    @Test("get-vanilla: canonical request, string to sign, signing key and signature")
    func getVanilla() {
        let signer = SigV4Signer(region: "us-east-1", service: "service")
        let request = SigV4Signer.Request(method: "GET", host: "example.amazonaws.com")
        #expect(SigV4Signer.amzDate(Self.date) == "20150830T123600Z")
        let canonical = signer.canonical(request, headers: ["X-Amz-Date": "20150830T123600Z"])
        #expect(
            canonical.request == """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        let stringToSign = SigV4Signer.stringToSign(
            amzDate: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request", canonicalRequest: canonical.request)
        #expect(stringToSign.hasSuffix("\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
        let key = signer.signingKey(secret: Self.keys.secretAccessKey, day: "20150830")
        #expect(
            key.withUnsafeBytes { Hex.string(Array($0)) }
                == "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75")
        let headers = signer.sign(request, credentials: Self.keys, date: Self.date)
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
        #expect(headers["X-Amz-Date"] == "20150830T123600Z")
    }

    @Test("post-vanilla")
    func postVanilla() {
        let signer = SigV4Signer(region: "us-east-1", service: "service")
        let request = SigV4Signer.Request(method: "POST", host: "example.amazonaws.com")
        let canonical = signer.canonical(request, headers: ["X-Amz-Date": "20150830T123600Z"])
        let stringToSign = SigV4Signer.stringToSign(
            amzDate: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request", canonicalRequest: canonical.request)
        #expect(stringToSign.hasSuffix("\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"))
        #expect(
            signer.sign(request, credentials: Self.keys, date: Self.date)["Authorization"]?
                .hasSuffix("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b") == true)
    }

    @Test("an EC2 form POST, as botocore signs it")
    func ec2FormPost() {
        let body =
            "Action=DescribeInstances&Filter.1.Name=tag%3Amolecule%3Aworkspace&Filter.1.Value.1=ws-1&Version=2016-11-15"
        let request = SigV4Signer.Request(
            method: "POST", host: "ec2.us-east-1.amazonaws.com",
            headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"], body: Data(body.utf8))
        let headers = SigV4Signer(region: "us-east-1", service: "ec2").sign(request, credentials: Self.keys, date: Self.date)
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=f3ae2e16f221799c90fd052d9a4ca25df662689c31f3d471e3e82c3bab9160c3"
        )
    }

    @Test("a Secrets Manager JSON POST, as botocore signs it")
    func secretsManagerJSON() {
        let request = SigV4Signer.Request(
            method: "POST", host: "secretsmanager.us-east-1.amazonaws.com",
            headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"],
            body: Data(#"{"SecretId":"molecule/workspace/ws-1/config"}"#.utf8))
        let headers = SigV4Signer(region: "us-east-1", service: "secretsmanager")
            .sign(request, credentials: Self.keys, date: Self.date)
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=9ea487874589a783b200940d3b4eafc8b8bc2983ad1062ec25896a277c72ebe6"
        )
    }

    @Test("RFC 3986 encoding: unreserved kept, space as %20, UTF-8 bytes in uppercase hex")
    func percentEncoding() {
        #expect(SigV4Signer.percentEncode("tag:molecule:workspace") == "tag%3Amolecule%3Aworkspace")
        #expect(SigV4Signer.percentEncode("a b/ä~_.-") == "a%20b%2F%C3%A4~_.-")
    }

    @Test("Query bodies are form-encoded as botocore's urlencode does: a space as +, the rest RFC 3986")
    func formEncoding() {
        #expect(AWSQueryAPI.formEncode("a b/ä~_.-*+%20") == "a+b%2F%C3%A4~_.-%2A%2B%2520")
        #expect(AWSQueryAPI.formEncode(#"{"Sid": "x"}"#) == "%7B%22Sid%22%3A+%22x%22%7D")
    }

    @Test("a session token is sent and signed; the secret key is in no header")
    func sessionToken() {
        var keys = Self.keys
        keys.sessionToken = "session-token-value"
        let headers = SigV4Signer(region: "us-east-1", service: "ec2")
            .sign(.init(method: "POST", host: "h"), credentials: keys, date: Self.date)
        #expect(headers["X-Amz-Security-Token"] == "session-token-value")
        #expect(headers["Authorization"]?.contains("SignedHeaders=host;x-amz-date;x-amz-security-token") == true)
        #expect(!headers.values.contains { $0.contains(keys.secretAccessKey) })
        #expect(!"\(keys)".contains(keys.secretAccessKey) && !"\(keys)".contains("session-token-value"))
    }
}
