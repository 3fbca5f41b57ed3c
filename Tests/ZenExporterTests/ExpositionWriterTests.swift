@testable import Exposition
import Foundation
import NIOCore
import Testing
@testable import ZenExporter

/// Sample lines as the Prometheus text format 0.0.4 spells them, written by hand.
@Suite("Exposition writer")
struct ExpositionWriterTests {
    let family = MetricFamily(name: "test_cost", kind: .gauge, help: "A test.", labels: ["a", "b"])

    func lines(_ samples: [(labels: [String], value: SampleValue)]) -> [String] {
        var writer = ExpositionWriter(namespace: "infrazen")
        writer.write(family, samples)
        return String(buffer: writer.current).split(separator: "\n").dropFirst(2).map(String.init)
    }

    @Test("exact values print without trailing zeros, a sign only when not zero; quotes, backslashes and line feeds are escaped")
    func exactValuesAndEscapes() {
        #expect(lines([
            (["x\"y\\z\nw", "plain"], .scaled(-1_234_500, scale: 8)),
            (["", "ж"], .scaled(0, scale: 8)),
            (["a", "b"], .scaled(100_000_000, scale: 8)),
            (["a", "b"], .scaled(-1, scale: 8)),
            (["a", "b"], .scaled(Int64.min, scale: 0)),
            (["a", "b"], .scaled(5, scale: 40)),
        ]) == [
            #"infrazen_test_cost{a="x\"y\\z\nw",b="plain"} -0.012345"#,
            #"infrazen_test_cost{a="",b="ж"} 0"#,
            #"infrazen_test_cost{a="a",b="b"} 1"#,
            #"infrazen_test_cost{a="a",b="b"} -0.00000001"#,
            #"infrazen_test_cost{a="a",b="b"} -9223372036854775808"#,
            #"infrazen_test_cost{a="a",b="b"} 0.0000000000000000000000000000000000000005"#,
        ])
    }

    @Test("a label value over 256 bytes is cut at 256 characters; a scale past 40 is still exact")
    func longValuesAndScales() {
        let long = String(repeating: "é", count: 300)  // 600 bytes
        #expect(lines([
            ([long, "b"], .scaled(25, scale: 1)),
            (["a", "b"], .scaled(7, scale: 41)),
        ]) == [
            "infrazen_test_cost{a=\"\(String(repeating: "é", count: 256))\",b=\"b\"} 2.5",
            #"infrazen_test_cost{a="a",b="b"} 0.00000000000000000000000000000000000000007"#,
        ])
    }
}
