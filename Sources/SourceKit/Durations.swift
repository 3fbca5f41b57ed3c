/// Parses Prometheus-style durations: `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1w`.
package enum DurationParser {
    package enum Failure: Error, Equatable { case malformed, negative, overflow }

    /// The longest duration accepted: about 292 years in milliseconds would overflow an Int64
    /// sum; a hundred years is already no schedule.
    package static let maximum: Duration = .seconds(100 * 365 * 86_400)

    package static func parse(_ text: String) -> Result<Duration, Failure> {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("-") { return .failure(.negative) }
        guard !rest.isEmpty else { return .failure(.malformed) }
        var totalMilliseconds: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { return .failure(.malformed) }
            guard let value = Int64(digits) else { return .failure(.overflow) }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let millisecondsPerUnit = units[String(unit)] else { return .failure(.malformed) }
            let (product, overflow) = value.multipliedReportingOverflow(by: millisecondsPerUnit)
            guard !overflow else { return .failure(.overflow) }
            let (sum, sumOverflow) = totalMilliseconds.addingReportingOverflow(product)
            guard !sumOverflow else { return .failure(.overflow) }
            totalMilliseconds = sum
        }
        let duration = Duration.milliseconds(totalMilliseconds)
        return duration > maximum ? .failure(.overflow) : .success(duration)
    }

    private static let units: [String: Int64] = [
        "ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
    ]
}

package extension Duration {
    package var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// `1h30m`-style text, the inverse of `DurationParser`.
    package var prometheusText: String {
        // From the integer parts: seconds × 1000 as a Double rounds, and past Int64 it traps.
        let parts = components
        guard parts.seconds >= 0, parts.seconds < Int64.max / 1000 else { return "\(parts.seconds)s" }
        var milliseconds = parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0s" }
        var text = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] where milliseconds >= size {
            text += "\(milliseconds / size)\(unit)"
            milliseconds %= size
        }
        return text
    }
}
