import BenchSupport
import Foundation

extension Duration {
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

func format(_ duration: Duration) -> String { String(format: "%.2f s", duration.secondsValue) }

func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
}

func cpuSeconds() -> Double { CPUUsage.processSeconds() }

func peakRSSKilobytes() -> Int { CPUUsage.peakRSSKilobytes() }
