import ReconcileRuntime
import Testing

@Suite("rate limiters")
struct RateLimiterTests {
    @Test(
        "exponential backoff doubles from the base up to the cap",
        arguments: [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (9, 60.0), (200, 60.0)])
    func backoffWithoutJitter(failures: Int, seconds: Double) {
        let backoff = ExponentialBackoff(base: .seconds(1), cap: .seconds(60), jitter: 0)
        #expect(backoff.delay(afterFailures: failures, random: 0.9) == .seconds(seconds))
    }

    @Test("jitter adds at most its share and never exceeds the cap")
    func jitter() {
        let backoff = ExponentialBackoff(base: .milliseconds(100), cap: .seconds(1), jitter: 0.5)
        #expect(backoff.delay(afterFailures: 1, random: 0) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 1, random: 0.5) == .milliseconds(125))
        #expect(backoff.delay(afterFailures: 4, random: 0.99) == .seconds(1))
    }

    @Test("the token bucket allows a burst, then paces at its rate")
    func tokenBucket() {
        var bucket = TokenBucket(rate: 2, burst: 3)
        let t0 = Duration.seconds(100)
        let r1 = bucket.reserve(now: t0)
        #expect(r1 == .zero)
        let r2 = bucket.reserve(now: t0)
        #expect(r2 == .zero)
        let r3 = bucket.reserve(now: t0)
        #expect(r3 == .zero)
        let r4 = bucket.reserve(now: t0)
        #expect(r4 == .milliseconds(500))
        let r5 = bucket.reserve(now: t0)
        #expect(r5 == .seconds(1))
        // Two seconds later four tokens have come back; two were owed.
        let r6 = bucket.reserve(now: t0 + .seconds(2))
        #expect(r6 == .zero)
        let r7 = bucket.reserve(now: t0 + .seconds(2))
        #expect(r7 == .zero)
        let r8 = bucket.reserve(now: t0 + .seconds(2))
        #expect(r8 == .milliseconds(500))
    }

    @Test("a retry waits for the largest of backoff, bucket and retry-after")
    func retryPolicy() {
        var policy = RetryPolicy(
            backoff: ExponentialBackoff(base: .seconds(1), cap: .seconds(300), jitter: 0),
            bucket: TokenBucket(rate: 1, burst: 1))
        let r9 = policy.delay(afterFailures: 3, retryAfter: nil, now: .zero, random: 0)
        #expect(r9 == .seconds(4))
        let r10 = policy.delay(afterFailures: 1, retryAfter: nil, now: .zero, random: 0)
        #expect(r10 == .seconds(1))
        let r11 = policy.delay(afterFailures: 1, retryAfter: .seconds(30), now: .seconds(10), random: 0)
        #expect(r11 == .seconds(30))
    }

}

@Suite("lease renewal state machine")
struct LeaseRenewalTests {
    @Test("renews every third of the duration, counted from when the last renewal was sent")
    func schedule() {
        var renewal = LeaseRenewal(duration: .seconds(30), claimedAt: .seconds(100))
        #expect(renewal.first == .renew(at: .seconds(110)))
        #expect(renewal.renewed(sentAt: .seconds(110)) == .renew(at: .seconds(120)))
        #expect(renewal.trustDeadline == .seconds(137))
    }

    @Test(
        "failed renewals are retried while the lease is trusted, then it is distrusted",
        arguments: [
            (Duration.seconds(111), LeaseRenewal.Action.renew(at: .seconds(113))),
            (.seconds(120), .renew(at: .seconds(122)) as LeaseRenewal.Action),
            (.seconds(126.9), .renew(at: .seconds(127))),
            (.seconds(127), .distrust),
            (.seconds(500), .distrust),
        ])
    func failures(at now: Duration, expected: LeaseRenewal.Action) {
        let renewal = LeaseRenewal(duration: .seconds(30), claimedAt: .seconds(100))
        #expect(renewal.failed(at: now) == expected)
    }

    @Test("a late answer never moves the trust back")
    func lateAnswer() {
        var renewal = LeaseRenewal(duration: .seconds(30), claimedAt: .seconds(100))
        _ = renewal.renewed(sentAt: .seconds(120))
        _ = renewal.renewed(sentAt: .seconds(110))
        #expect(renewal.confirmedAt == .seconds(120))
    }
}

@Suite("hex")
struct HexTests {
    @Test("bytes as lower-case hexadecimal, like printf's %02x")
    func hex() {
        let bytes: [UInt8] = [0, 1, 0x0f, 0x10, 0xab, 0xff]
        #expect(Hex.string(bytes) == "00010f10abff")
        #expect(
            Hex.string(bytes)
                == bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined())
        #expect(Hex.string([UInt8]()) == "")
    }
}
