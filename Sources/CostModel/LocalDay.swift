import Foundation

/// A calendar day in the reporting time zone, `2026-11-20`. Daily costs and month-to-date
/// are kept per local day so that "today" means the same thing to finance and to the exporter.
public struct LocalDay: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The day `instant` falls on in `timeZone`.
    public init(_ instant: Date, in timeZone: TimeZone) {
        let parts = Self.calendar(timeZone).dateComponents([.year, .month, .day], from: instant)
        self.init(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
    }

    /// Parses `YYYY-MM-DD` (read for every stored daily cost, so byte by byte).
    public init?(_ text: String) {
        var parts = [0, 0, 0]
        var index = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "-") {
                guard digits > 0, index < 2 else { return nil }
                index += 1
                digits = 0
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                parts[index] = parts[index] * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 4 else { return nil }
            } else {
                return nil
            }
        }
        guard index == 2, digits > 0, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        self.init(year: parts[0], month: parts[1], day: parts[2])
    }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    public var firstOfMonth: LocalDay { LocalDay(year: year, month: month, day: 1) }

    /// Midnight at the start of this day in `timeZone`.
    public func start(in timeZone: TimeZone) -> Date {
        let components = DateComponents(year: year, month: month, day: day)
        return Self.calendar(timeZone).date(from: components) ?? Date(timeIntervalSince1970: 0)
    }

    public func adding(days: Int) -> LocalDay {
        let utc = TimeZone(identifier: "UTC") ?? .current
        let shifted = start(in: utc).addingTimeInterval(Double(days) * 86_400)
        return LocalDay(shifted, in: utc)
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var isoWeekday: Int {
        let utc = TimeZone(identifier: "UTC") ?? .current
        let weekday = Self.calendar(utc).component(.weekday, from: start(in: utc)) // 1 = Sunday
        return weekday == 1 ? 7 : weekday - 1
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = LocalDay(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a YYYY-MM-DD day: \(text)"))
        }
        self = day
    }

    private static func calendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }
}

public extension LocalDay {
    /// The last day of this day's month.
    var lastOfMonth: LocalDay {
        let nextMonth = month == 12 ? LocalDay(year: year + 1, month: 1, day: 1) : LocalDay(year: year, month: month + 1, day: 1)
        return nextMonth.adding(days: -1)
    }

    var isWeekend: Bool { isoWeekday >= 6 }

    /// Days from `self` to `other` (positive when `other` is later).
    func days(until other: LocalDay) -> Int {
        let utc = TimeZone(identifier: "UTC") ?? .current
        return Int((other.start(in: utc).timeIntervalSince(start(in: utc)) / 86_400).rounded())
    }
}
