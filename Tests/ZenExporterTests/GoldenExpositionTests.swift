import Foundation
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// The demo estate's whole exposition at a fixed instant, checked in as
/// Tests/Fixtures/demo-exposition.prom, so that every metric change shows in review.
/// After an intended change: `scripts/update-golden`.
@Suite("Golden exposition")
struct GoldenExpositionTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/demo-exposition.prom").standardizedFileURL

    @Test("the demo's exposition at 2026-11-20T09:00:00Z matches the checked-in file")
    func matchesFixture() async throws {
        let config = try ConfigLoader.parse("sources:\n  - {name: demo, type: demo}\n", file: "golden.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "golden"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")! }
        await engine.syncAllOnce()
        // The one value that depends on how fast this machine is.
        let rendered = String(buffer: engine.estate.exposition.rendered.body).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("infrazen_sync_duration_seconds{") ? $0.prefix { $0 != " " } + " <duration>" : $0 }
            .joined(separator: "\n")
        let expected = try String(contentsOf: Self.fixture, encoding: .utf8)
        let got = rendered.split(separator: "\n"), want = expected.split(separator: "\n")
        let firstDifference = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
        #expect(rendered == expected, """
            exposition differs from \(Self.fixture.lastPathComponent) at line \(firstDifference + 1):
              got:  \(firstDifference < got.count ? got[firstDifference] : "<end>")
              want: \(firstDifference < want.count ? want[firstDifference] : "<end>")
            run scripts/update-golden if the change is intended
            """)
    }
}
