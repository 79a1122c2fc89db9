import Foundation

/// A Prometheus text exposition read back: families with their TYPE and HELP, and samples.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    let text: String
    /// Family name -> type.
    private(set) var families: [String: String] = [:]
    /// Families with a `# HELP` line.
    private(set) var helped: Set<String> = []
    private(set) var samples: [Sample] = []

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n").map(String.init) {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            if line.hasPrefix("# TYPE "), words.count >= 4 {
                families[words[2]] = words[3]
            } else if line.hasPrefix("# HELP "), words.count >= 4 {
                helped.insert(words[2])
            } else if !line.hasPrefix("#"), let sample = Self.sample(line) {
                samples.append(sample)
            }
        }
    }

    /// Whether a name a query uses is exported: a family, or a histogram's series.
    func exports(_ metric: String) -> Bool {
        if families[metric] != nil { return true }
        for suffix in ["_bucket", "_sum", "_count"] where metric.hasSuffix(suffix) {
            if families[String(metric.dropLast(suffix.count))] == "histogram" { return true }
        }
        return false
    }

    /// The one sample of `name` with exactly these labels.
    func value(_ name: String, _ labels: [String: String]) throws -> Double {
        guard let sample = samples.first(where: { $0.name == name && $0.labels == labels }) else {
            throw Missing(description: "no sample \(name)\(labels)")
        }
        return sample.value
    }

    func sum(_ name: String) -> Double {
        samples.filter { $0.name == name }.reduce(0) { $0 + $1.value }
    }

    func lines(of name: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(name) }
    }

    /// The metric names a dashboard or rule file mentions (the reconciler's prefixes).
    static func metricNames(in document: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\b(?:molecule|workqueue|controller_runtime|process)_[a-z_]+"#)
        let range = NSRange(document.startIndex..., in: document)
        return Set(
            pattern.matches(in: document, range: range).compactMap { Range($0.range, in: document).map { String(document[$0]) } })
    }

    /// `name{a="x",b="y"} value` or `name value`.
    private static func sample(_ line: String) -> Sample? {
        guard let valueStart = line.lastIndex(of: " "), let value = Double(line[line.index(after: valueStart)...]) else {
            return nil
        }
        let series = line[..<valueStart]
        guard let open = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
        var labels: [String: String] = [:]
        var rest = series[series.index(after: open)...].dropLast()
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var index = rest.index(equals, offsetBy: 2)
            var text = ""
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\" { index = rest.index(after: index) }
                text.append(rest[index])
                index = rest.index(after: index)
            }
            labels[key] = text
            rest = rest[rest.index(after: index)...]
        }
        return Sample(name: String(series[..<open]), labels: labels, value: value)
    }
}
