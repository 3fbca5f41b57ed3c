import CostModel
import Foundation
import Testing
@testable import ZenExporter

/// The Selectel connector against a generated account: consumption answers larger than the
/// body limit.
@Suite("Selectel connector at scale", .serialized)
struct SelectelScaleTests {
    /// 12:00 in Moscow.
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    /// 2026-11-14 00:00 in Moscow: 6 × 24 + 12 hours billed by `now`.
    static let billedSince = ISO8601DateFormatter().date(from: "2026-11-13T21:00:00Z")!
    static let hoursBilled = 6 * 24 + 12

    func source(_ fake: SelectelEstateFake, _ extra: String = "") throws -> (SelectelSource, SourceConfig) {
        let config = try ConfigLoader.parse("""
        sources:
          - name: sel
            type: selectel
            token_env: SEL_TOKEN
            username_env: SEL_USER
            password_env: SEL_PASSWORD
            account_id: "200001"
            project_id: \(SelectelEstateFake.project)
            base_url: "\(fake.baseURL)"
        \(extra)
        """, file: "t.yaml", environment: ["SEL_TOKEN": "t", "SEL_USER": "u", "SEL_PASSWORD": "p"])
        let sourceConfig = try #require(config.sources.first)
        return (try #require(sourceConfig.makeSource() as? SelectelSource), sourceConfig)
    }

    func window(_ now: Date = now, historyDays: Int = 7) -> CollectionWindow {
        CollectionWindow(now: now, historyDays: historyDays, reporting: ReportingConfig())
    }

    /// The accepted windows of one grouping, in order, cover `start…end` exactly once.
    func expectCovered(_ served: [SelectelEstateFake.Served], from start: String, to end: String, limit: Int) throws {
        let accepted = served.filter { $0.bytes <= limit }.sorted { $0.start < $1.start }
        #expect(accepted.first?.start == start)
        #expect(accepted.last?.end == end)
        for (earlier, later) in zip(accepted, accepted.dropFirst()) {
            let gap = try #require(SelectelEstateFake.date(later.start)).timeIntervalSince(try #require(SelectelEstateFake.date(earlier.end)))
            #expect(gap == 1, "\(earlier.start)…\(earlier.end) then \(later.start)…\(later.end)")
        }
    }

    @Test("hourly and daily windows halved down to what fits give the costs one request each gives; the size that fitted is kept")
    func splitWindowsAgree() async throws {
        let fake = try SelectelEstateFake(.init(servers: 40, pageSize: 1000, billedSince: Self.billedSince, now: Self.now, contentLength: true))
        try await fake.start()
        let (whole, _) = try source(fake)
        let reference = try await whole.collect(window())
        #expect(fake.served.withLock { $0 }.map(\.grouping).sorted() == ["day", "hour"])   // as before: one request each

        // ~44 KB of rows an hour (and a day): 100 KB holds two hours or two days at most.
        let limit = 100_000
        var http = ProviderClient(timeout: .seconds(10), retries: 0)
        http.maxBodyBytes = limit
        let split = SelectelSource(settings: whole.settings, http: http)
        fake.served.withLock { $0 = [] }
        let snapshot = try await split.collect(window())
        let served = fake.served.withLock { $0 }
        #expect(served.filter { $0.grouping == "hour" && $0.bytes > limit }.count >= 2)
        #expect(served.filter { $0.grouping == "day" && $0.bytes > limit }.count >= 1)
        try expectCovered(served.filter { $0.grouping == "hour" }, from: "2026-11-19T00:00:00", to: "2026-11-20T12:00:00", limit: limit)
        try expectCovered(served.filter { $0.grouping == "day" }, from: "2026-11-13T00:00:00", to: "2026-11-18T23:59:59", limit: limit)
        #expect(snapshot.dailyCosts == reference.dailyCosts)
        #expect(snapshot.billing == reference.billing)
        #expect(snapshot.unclassifiedLineItems == reference.unclassifiedLineItems)

        // The next sync starts from the sizes that fitted: nothing refused.
        fake.served.withLock { $0 = [] }
        let next = try await split.collect(window())
        #expect(fake.served.withLock { $0 }.allSatisfy { $0.bytes <= limit })
        #expect(next.dailyCosts == reference.dailyCosts)
        await fake.stop()
    }

    @Test("one hour over the limit fails the source as too_large")
    func hourTooLarge() async throws {
        let fake = try SelectelEstateFake(.init(servers: 40, pageSize: 1000, billedSince: Self.billedSince, now: Self.now))
        try await fake.start()
        let (whole, _) = try source(fake)
        var http = ProviderClient(timeout: .seconds(10), retries: 0)
        http.maxBodyBytes = 20_000
        let split = SelectelSource(settings: whole.settings, http: http)
        await #expect { try await split.collect(window()) } throws: { error in
            (error as? SyncFailure)?.isBodyTooLarge == true && (error as? SyncFailure)?.endpoint == "consumption"
        }
        await fake.stop()
    }
}
