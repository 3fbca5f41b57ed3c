import Foundation

/// Small, exact-enough statistics the model needs. Doubles here: these are estimates
/// (forecasts, scores), not money that must add up to the kopeck.
enum Statistics {
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Theil–Sen line through (index, value): the median of all pairwise slopes, robust to
    /// the outliers a least-squares fit would follow.
    static func theilSen(_ values: [Double]) -> (intercept: Double, slope: Double, value: (Double) -> Double) {
        var slopes: [Double] = []
        for i in values.indices {
            for j in values.indices where j > i { slopes.append((values[j] - values[i]) / Double(j - i)) }
        }
        let slope = median(slopes) ?? 0
        let intercept = median(values.enumerated().map { $0.element - slope * Double($0.offset) }) ?? 0
        return (intercept, slope, { intercept + slope * $0 })
    }

    /// Least-squares line through (x, y): intercept and slope. nil with fewer than two distinct x.
    static func linearFit(_ points: [(x: Double, y: Double)]) -> (intercept: Double, slope: Double)? {
        let n = Double(points.count)
        guard n >= 2 else { return nil }
        let meanX = points.map(\.x).reduce(0, +) / n
        let meanY = points.map(\.y).reduce(0, +) / n
        let sxx = points.map { ($0.x - meanX) * ($0.x - meanX) }.reduce(0, +)
        guard sxx > 0 else { return nil }
        let sxy = points.map { ($0.x - meanX) * ($0.y - meanY) }.reduce(0, +)
        let slope = sxy / sxx
        return (meanY - slope * meanX, slope)
    }
}

extension Decimal {
    var doubleValue: Double { NSDecimalNumber(decimal: self).doubleValue }
}
