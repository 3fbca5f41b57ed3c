import Foundation
import Testing
@testable import ZenExporter

/// Foundation's formatters trap on some non-ASCII strings (the `selectel-json` fuzz target found
/// `2026-11-2` + U+036B + two U+FFFD + `:00:00` in a consumption period); every parser of
/// provider dates refuses such text before a formatter sees it. The trap itself cannot be shown
/// here (it would end the test run): `Fuzz/corpus/selectel-json/period-combining-mark.json`
/// replays it through the Selectel consumption tally in the test command.
@Suite("Provider dates that are not ASCII")
struct DateTextTests {
    static let hostile = "2026-11-2\u{36B}\u{FFFD}\u{FFFD}:00:00"

    @Test("refused by every provider date parser, while their ASCII forms still parse")
    func refusedEverywhere() throws {
        #expect(DateText.ascii(Self.hostile) == nil)
        #expect(DateText.ascii("2026-11-20T10:00:00") == "2026-11-20T10:00:00")
        #expect(FocusTime.parse(Self.hostile) == nil)
        #expect(FocusTime.parse("2026-11-20T00:00:00Z") == Date(timeIntervalSince1970: 1_795_132_800))
        #expect(BegetSource.date(Self.hostile) == nil)
        #expect(BegetSource.date("2026-11-20 03:00:00") == Date(timeIntervalSince1970: 1_795_132_800))  // 03:00 in Moscow is 00:00 UTC
        #expect(ISO8601Dates().date(Self.hostile + "Z") == nil)
        #expect(ISO8601Dates().date("2026-11-20T00:00:00.5Z") == Date(timeIntervalSince1970: 1_795_132_800.5))
    }
}
