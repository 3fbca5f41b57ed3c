import Foundation

/// Every date a provider sends is parsed here, and every date the exporter writes in a
/// provider's format is formatted here. swift-corelibs-foundation's date formatters trap
/// ("Incorrect range CFRange") on some non-ASCII strings, such as a digit followed by a
/// combining mark (found by the `selectel-json` fuzz target), so text that is not printable
/// ASCII is refused before a formatter sees it: every date format providers use is ASCII.
package enum DateText {
    /// `text` when every byte is printable ASCII, else nil.
    package static func ascii(_ text: String) -> String? {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? text : nil
    }

    /// A formatter of one fixed pattern (`yyyy-MM-dd HH:mm:ss`) in `timeZone`, with the POSIX
    /// locale so that the user's locale never changes what a pattern reads.
    package static func formatter(_ pattern: String, in timeZone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = pattern
        return formatter
    }

    /// `text` read with the first of `patterns` that reads it whole, as wall-clock time in `timeZone`.
    package static func date(_ text: String, patterns: [String], in timeZone: TimeZone) -> Date? {
        guard let text = ascii(text) else { return nil }
        for pattern in patterns {
            if let date = formatter(pattern, in: timeZone).date(from: text) { return date }
        }
        return nil
    }

    /// `date` as wall-clock time in `timeZone` with `pattern`.
    package static func string(_ date: Date, pattern: String, in timeZone: TimeZone) -> String {
        formatter(pattern, in: timeZone).string(from: date)
    }

    /// One ISO 8601 timestamp; for many, make one `ISO8601Dates` and reuse it.
    package static func iso8601(_ text: String) -> Date? { ISO8601Dates().date(text) }
}

/// ISO 8601 timestamps with or without fractional seconds. Making the formatters costs far
/// more than parsing with them: one of these serves a whole page of servers or volumes.
package final class ISO8601Dates {
    private let fractional = ISO8601DateFormatter()
    private let whole = ISO8601DateFormatter()

    package init() {
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        whole.formatOptions = [.withInternetDateTime]
    }

    package func date(_ text: String) -> Date? {
        guard let text = DateText.ascii(text) else { return nil }
        return fractional.date(from: text) ?? whole.date(from: text)
    }

    /// `date` in UTC, `2026-11-20T09:00:00Z`.
    package func string(_ date: Date) -> String { whole.string(from: date) }
}
