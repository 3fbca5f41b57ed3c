@testable import FocusFormat
import Foundation
@testable import Ingest
@testable import ProviderBeget
@testable import ProviderSelectel
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

    @Test("a Selectel consumption row billed for a period that is no time fails its window as bad_value, naming the object and period")
    func selectelPeriodIsNamed() throws {
        var tally = ConsumptionTally()
        let body = #"{"status": "success", "data": [{"object": {"id": "vm-1"}, "period": "2026-11-19T10:00:00", "value": 12.5},"#
            + #"{"object": {"id": "vm-2"}, "period": "2026-11-2\#u{36B}:00:00", "value": 3}]}"#
        var bytes = body
        _ = try bytes.withUTF8 { try Selectel.ConsumptionReader.read(UnsafeRawBufferPointer($0)) { tally.add($0, hourly: true) } }
        let failure = try #require(tally.unreadPeriodFailure)
        #expect(failure.reason == "bad_value" && failure.endpoint == "consumption" && failure.failsTheSync)
        #expect(failure.message == "consumption: object vm-2: period \"2026-11-2\u{36B}:00:00\" is not a Moscow time yyyy-MM-ddTHH:mm:ss")
        // A tally of good rows has none.
        var good = ConsumptionTally()
        var clean = #"{"status": "success", "data": [{"object": {"id": "vm-1"}, "period": "2026-11-19T10:00:00", "value": 12.5}]}"#
        _ = try clean.withUTF8 { try Selectel.ConsumptionReader.read(UnsafeRawBufferPointer($0)) { good.add($0, hourly: true) } }
        #expect(good.unreadPeriodFailure == nil)
        #expect(good.days.count == 1)
    }
}
