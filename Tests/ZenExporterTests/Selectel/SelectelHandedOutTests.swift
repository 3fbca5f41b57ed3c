import CostModel
import Foundation
@testable import ProviderSelectel
@testable import SourceKit
import Testing
@testable import ZenExporter

/// What the provider hands out is checked like configuration: catalog URLs before a token goes
/// to them, utilisation means before they are kept.
@Suite("Selectel: URLs and values the provider hands out", .serialized)
struct SelectelHandedOutTests {
    static let now = SelectelSourceTests.now
    static let web = SelectelSourceTests.web

    /// The connector as the Selectel source tests configure it, driven directly.
    func source(_ fake: SelectelFake) throws -> SelectelSource {
        var sourceConfig = try #require(try SelectelSourceTests().config(fake).sources.first)
        // Gnocchi requests start only in the first half of the timeout: on a loaded test run
        // the inventory alone took over 15 s of the configured 30, and no request (so no
        // refusal) was made. These tests are about the URLs and values, not that budget.
        sourceConfig.timeout = .seconds(600)
        return try #require(sourceConfig.makeSource() as? SelectelSource)
    }

    func window(_ now: Date = now) -> CollectionWindow {
        CollectionWindow(now: now, historyDays: 7, reporting: ReportingConfig())
    }

    @Test("a catalog endpoint on plain http:// to a host not named loopback gets no token: refused as insecure_url, the rest lands")
    func insecureCatalogURL() async throws {
        let fake = try SelectelFake(.init(insecureMetricCatalog: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(fake.count("POST gnocchi") == 0)
        let refused = snapshot.endpointFailures.filter { $0.reason == "insecure_url" }
        #expect(refused.map(\.endpoint) == ["gnocchi/ru-1"])
        #expect(refused.first?.message.contains("plain http:// to 0.0.0.0") == true)
        #expect(snapshot.utilization.isEmpty)
        #expect(snapshot.inventory.contains { $0.resourceID == Self.web })
    }

    @Test("a Gnocchi mean that is no ratio (5,000 %, negative, overflowing to infinity) is a counted bad value; the server keeps its last values",
          arguments: [[4000.0, 6000.0], [-50.0], [1e308, 1e308]])
    func absurdUtilisation(means: [Double]) async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let source = try source(fake)
        let good = try await source.collect(window())
        // By hand from the fixtures: CPU (3 + 5) / 2 % = 0.04, memory 1024 of 4096 MB = 0.25.
        #expect(Set(good.utilization.map(\.ratio)) == [0.04, 0.25])

        fake.behaviour.withLock { $0.cpuMeasures = means }
        let bad = try await source.collect(window(Self.now.addingTimeInterval(7200)))
        await fake.stop()
        let counted = bad.endpointFailures.filter { $0.reason == SyncFailure.badValue }
        #expect(counted.map(\.endpoint) == ["gnocchi/ru-1"])
        #expect(counted.first?.message.contains(Self.web) == true)
        #expect(bad.utilization == good.utilization)
    }

    @Test("a mean a little over 100 % (a rate between samples) is read as 1, not as a bad value")
    func slightOvershoot() async throws {
        let fake = try SelectelFake()
        fake.behaviour.withLock { $0.cpuMeasures = [104, 106] }
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(snapshot.endpointFailures.filter { $0.reason == SyncFailure.badValue }.isEmpty)
        #expect(snapshot.utilization.first { $0.dimension == .cpu }?.ratio == 1)
    }
}
