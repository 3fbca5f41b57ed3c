@testable import Ingest
import Testing
@testable import ZenExporter

@Suite("FOCUS sums per line and day")
struct LineDaySumsTests {
    /// The expected sums by a different route: a dictionary keyed by (day, line), sorted.
    func expected(_ rows: [(line: Int32, day: Int32, micros: Int64)]) -> [[Int64]] {
        var sums: [[Int32]: Int64] = [:]
        for row in rows { sums[[row.day, row.line], default: 0] += row.micros }
        return sums.keys.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }.map { [Int64($0[0]), Int64($0[1]), sums[$0] ?? 0] }
    }

    func read(_ sums: LineDaySums) -> [[Int64]] {
        var all: [[Int64]] = []
        sums.forEachByDayThenLine { day, line, micros in all.append([Int64(day), Int64(line), micros]) }
        return all
    }

    @Test("resources billed every day: sums by day, then line, repeated rows added, a zero-cost row kept")
    func denseDays() {
        var rows: [(line: Int32, day: Int32, micros: Int64)] = []
        for day: Int32 in [20_400, 20_402, 20_401] {
            for line: Int32 in 0..<3000 { rows.append((line, day, Int64(line) * 10 + Int64(day % 7))) }
        }
        rows.append((5, 20_401, 1_000_000))  // the same line and day again
        rows.append((3001, 20_400, 0))       // billed nothing, still a row
        var sums = LineDaySums()
        for row in rows { sums.add(line: row.line, day: row.day, row.micros) }
        #expect(sums.count == 9001)
        #expect(!sums.isHashed)
        #expect(read(sums) == expected(rows))
        // Line 5 on day 20,401: 5 × 10 + 20,401 mod 7 (3), then 1,000,000 more.
        #expect(read(sums).contains([20_401, 5, 1_000_053]))
    }

    @Test("resources that each live one day (CI runners): the sums move to a hash table and still come out by day, then line")
    func shortLivedResources() {
        var rows: [(line: Int32, day: Int32, micros: Int64)] = []
        for line: Int32 in 0..<400_000 { rows.append((line, 20_000 + line / 2000, Int64(line % 977) - 300)) }
        // A line seen again on a day long after it began, and a line seen before its own day's batch.
        rows.append((7, 20_199, 11))
        rows.append((399_999, 20_000, 13))
        var sums = LineDaySums()
        for row in rows { sums.add(line: row.line, day: row.day, row.micros) }
        #expect(sums.count == 400_002)
        #expect(sums.isHashed)
        #expect(read(sums) == expected(rows))
    }
}
