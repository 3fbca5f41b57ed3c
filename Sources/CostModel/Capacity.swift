import Foundation

/// How much of a capacity is left, and when it runs out at the current growth.
public struct CapacityStatus: Sendable, Equatable {
    public var scope: String
    public var dimension: String
    public var used: Double
    public var total: Double
    public var headroomRatio: Double
    /// Days until used reaches total on a straight line through the history; nil when not growing.
    public var exhaustionDays: Double?

    /// `history`: used amount per day, oldest first, ending with today's.
    public init(sample: CapacitySample, history: [(day: LocalDay, used: Double)]) {
        scope = sample.scope
        dimension = sample.dimension
        used = sample.used
        total = sample.total
        headroomRatio = sample.total > 0 ? 1 - sample.used / sample.total : 0
        exhaustionDays = nil
        guard let first = history.first?.day,
              let fit = Statistics.linearFit(history.map { (Double(first.days(until: $0.day)), $0.used) }),
              fit.slope > 0 else { return }
        exhaustionDays = max(0, (sample.total - sample.used) / fit.slope)
    }
}
