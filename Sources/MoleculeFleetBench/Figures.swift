import Foundation

extension Duration {
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A target printed beside a figure. A measurement, not a test: a missed target is reported,
/// never a failure.
struct Target {
    let text: String
    let met: Bool

    static func atLeast(_ value: Double, _ bound: Double, _ unit: String) -> Target {
        Target(text: "target ≥ \(grouped(bound))\(unit)", met: value >= bound)
    }

    static func atMost(_ value: Double, _ bound: Double, _ unit: String) -> Target {
        Target(text: "target ≤ \(grouped(bound))\(unit)", met: value <= bound)
    }

    var verdict: String { "[\(text): \(met ? "met" : "MISSED")]" }
}

func grouped(_ value: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = value < 100 ? 2 : 0
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: value)) ?? String(value)
}

func seconds(_ value: Double) -> String { "\(fixed(value, 2)) s" }

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

/// Polls `progress` every `interval` until it reaches `target`, or `timeout` passes (then the
/// phase is reported as not reached, with how far it got).
func wait(
    until target: Int, every interval: Duration, timeout: Duration,
    _ progress: () async throws -> Int
) async throws -> (reached: Bool, last: Int) {
    let deadline = ContinuousClock.now + timeout
    while true {
        let last = try await progress()
        if last >= target { return (true, last) }
        if ContinuousClock.now >= deadline { return (false, last) }
        try await Task.sleep(for: interval)
    }
}

/// Prints a figure's indented detail lines, and flushes, so that each figure appears as soon as
/// it is measured also when the output is a file.
func printDetails(_ lines: [String]) {
    for line in lines { print("     \(line)") }
    fflush(nil)
}
