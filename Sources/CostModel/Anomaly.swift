import Foundation

/// How unusual the last full day's cost is: a robust z-score against the trailing 28 days.
///
/// Weekday-aware: each baseline day is first divided by its weekday's factor (that weekday's
/// median over the overall median), so a quiet Sunday is not "normal" for a Monday. Median
/// and MAD instead of mean and standard deviation, so one earlier spike does not hide the next.
public struct AnomalyDetector: Sendable {
    public var windowDays = 28
    /// Consistency constant: 1.4826 × MAD estimates σ for normal data.
    static let madScale = 1.4826
    /// A flat baseline has MAD 0; deviations are measured against at least 1 % of its median.
    static let minimumSpreadRatio = 0.01

    public init(windowDays: Int = 28) { self.windowDays = windowDays }

    public struct Score: Sendable, Equatable {
        public var scope: CostScope
        public var day: LocalDay
        public var actual: Decimal
        public var baselineMedian: Double
        public var score: Double
    }

    /// The score of `day` (normally yesterday) in `series`; nil until the history reaches back
    /// a whole window (a new source's first days would otherwise all look anomalous).
    public func score(_ series: DailySeries, day: LocalDay) -> Score? {
        guard let earliest = series.amounts.keys.min(), earliest <= day.adding(days: -windowDays) else { return nil }
        let baseline = series.values(from: day.adding(days: -windowDays), through: day.adding(days: -1))
        let overall = Statistics.median(baseline.map { $0.amount.doubleValue }) ?? 0
        var factors: [Int: Double] = [:]
        for weekday in 1...7 {
            let same = baseline.filter { $0.day.isoWeekday == weekday }.map { $0.amount.doubleValue }
            let median = Statistics.median(same) ?? overall
            factors[weekday] = overall > 0 && median > 0 ? median / overall : 1
        }
        let normalised = baseline.map { $0.amount.doubleValue / (factors[$0.day.isoWeekday] ?? 1) }
        guard let center = Statistics.median(normalised),
              let mad = Statistics.median(normalised.map { abs($0 - center) }) else { return nil }
        let actual = series.amount(on: day)
        let target = actual.doubleValue / (factors[day.isoWeekday] ?? 1)
        let spread = max(mad * Self.madScale, abs(center) * Self.minimumSpreadRatio, 1e-9)
        return Score(scope: series.scope, day: day, actual: actual, baselineMedian: center, score: (target - center) / spread)
    }
}
