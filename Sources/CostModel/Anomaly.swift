import Foundation

/// How unusual the last full day's cost is: a robust z-score against the trailing 28 days.
///
/// Weekday-aware: each day is first divided by its day type's factor (the median of working
/// days, or of weekend days, over the overall median), so a quiet Sunday is not "normal" for a
/// Monday. Day types rather than single weekdays: four samples per weekday fit the noise
/// itself and make every ordinary day look unusual. Median and MAD instead of mean and
/// standard deviation, so one earlier spike does not hide the next; and against the baseline's
/// Theil–Sen trend line, so steady growth is not an anomaly.
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
        /// What the baseline's trend expected for the day (normalised for its day type).
        public var baselineMedian: Double
        public var score: Double
    }

    /// The score of `day` (normally yesterday) in `series`; nil until the history reaches back
    /// a whole window (a new source's first days would otherwise all look anomalous).
    public func score(_ series: DailySeries, day: LocalDay) -> Score? {
        guard let earliest = series.amounts.keys.min(), earliest <= day.adding(days: -windowDays) else { return nil }
        let baseline = series.values(from: day.adding(days: -windowDays), through: day.adding(days: -1))
        let overall = Statistics.median(baseline.map { $0.amount.doubleValue }) ?? 0
        var factors: [Bool: Double] = [:]
        for weekend in [false, true] {
            let same = baseline.filter { $0.day.isWeekend == weekend }.map { $0.amount.doubleValue }
            let median = Statistics.median(same) ?? overall
            factors[weekend] = overall > 0 && median > 0 ? median / overall : 1
        }
        let normalised = baseline.map { $0.amount.doubleValue / (factors[$0.day.isWeekend] ?? 1) }
        let trend = Statistics.theilSen(normalised)
        let residuals = normalised.enumerated().map { $0.element - trend.value(Double($0.offset)) }
        guard let center = Statistics.median(residuals),
              let mad = Statistics.median(residuals.map { abs($0 - center) }) else { return nil }
        let actual = series.amount(on: day)
        let expected = trend.value(Double(windowDays))
        let target = actual.doubleValue / (factors[day.isWeekend] ?? 1) - expected
        let spread = max(mad * Self.madScale, abs(expected) * Self.minimumSpreadRatio, 1e-9)
        return Score(scope: series.scope, day: day, actual: actual, baselineMedian: expected, score: (target - center) / spread)
    }
}
