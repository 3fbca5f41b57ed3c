import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderDemo
@testable import SourceKit
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

/// A source whose behaviour the test scripts call by call: the engine under test is real.
final class ScriptedSource: Source, Sendable {
    enum Step: Sendable { case succeed(SourceSnapshot), fail(SyncFailure), hang }
    let provider = "scripted"
    private let steps: Mutex<[Step]>
    init(_ steps: [Step]) { self.steps = Mutex(steps) }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let step = steps.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
        switch step {
        case let .succeed(snapshot): return snapshot
        case let .fail(failure): throw failure
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return SourceSnapshot()
        }
    }
}

@Suite("Sync engine")
struct EngineTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    func config(_ yaml: String = "") throws -> ExporterConfig {
        try ConfigLoader.parse("""
        sources:
          - {name: demo, type: demo, retries: 2}
          - {name: other, type: demo, retries: 2, timeout: 200ms}
        \(yaml)
        """, file: "test.yaml", environment: [:])
    }

    func engine(_ config: ExporterConfig, store: Store, replacing name: String, with source: any Source) -> SyncEngine {
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.retryBase = .milliseconds(1)
        engine.clock = { Self.now }
        engine = engine.replacingSource(name, with: source)
        return engine
    }

    func exposition(_ engine: SyncEngine) -> ParsedExposition {
        ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
    }

    var demoSnapshot: SourceSnapshot { DemoEstate.snapshot(now: Self.now, historyDays: 90, timeZone: TimeZone(identifier: "Europe/Moscow")!) }

    @Test("a failing source keeps its last good data and the other source carries on")
    func failureKeepsLastGood() async throws {
        let store = try Store()
        let failure = SyncFailure(endpoint: "billing", reason: "http_503", message: "503 Service Unavailable")
        let engine = engine(try config(), store: store, replacing: "other",
                            with: ScriptedSource([.succeed(demoSnapshot), .fail(failure)]))
        #expect(await engine.syncAllOnce() == [])
        let before = exposition(engine)
        #expect(before.sum("infrazen_infrastructure_cost_monthly") == 2 * 117_150)

        #expect(await engine.syncAllOnce() == ["other"])
        let after = exposition(engine)
        #expect(after.sum("infrazen_infrastructure_cost_monthly") == 2 * 117_150)
        #expect(after.value("infrazen_source_up", ["source": "other"]) == 0)
        #expect(after.value("infrazen_source_up", ["source": "demo"]) == 1)
        // One initial attempt and two retries.
        #expect(after.value("infrazen_sync_errors_total", ["source": "other", "endpoint": "billing", "reason": "http_503"]) == 3)
        #expect(after.sum("infrazen_resource_cost_per_hour", where: { $0["source"] == "other" })
            == before.sum("infrazen_resource_cost_per_hour", where: { $0["source"] == "other" }))
        let restored = try #require(try await store.latestSnapshot(source: "other"))
        #expect(restored.resources.count == 7)
        #expect(try await store.snapshotCount(source: "other") == 2)  // the good one and the failure
    }

    @Test("a source that does not answer within its timeout is counted as a timeout")
    func timeout() async throws {
        let engine = engine(try config(), store: try Store(), replacing: "other", with: ScriptedSource([.hang]))
        let started = ContinuousClock.now
        #expect(await engine.syncAllOnce() == ["other"])
        // Three 200 ms attempts and ~3 s of backoff at most, beside the demo's own sync; a hang
        // would never return. The margin is for a loaded CI machine (17 s was seen).
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(exposition(engine).value("infrazen_sync_errors_total", ["source": "other", "reason": "timeout"]) == 3)
    }

    @Test("a failure that recovers on retry is a success")
    func retryRecovers() async throws {
        let failure = SyncFailure(endpoint: "collect", reason: "http_429", message: "429")
        let engine = engine(try config(), store: try Store(), replacing: "other",
                            with: ScriptedSource([.fail(failure), .succeed(demoSnapshot)]))
        #expect(await engine.syncAllOnce() == [])
        let parsed = exposition(engine)
        #expect(parsed.value("infrazen_source_up", ["source": "other"]) == 1)
        #expect(parsed.value("infrazen_sync_errors_total", ["source": "other", "reason": "http_429"]) == 1)
    }

    @Test("the second identical sync leaves every resource unchanged; a vanished one is deleted")
    func changeCounts() async throws {
        var smaller = demoSnapshot
        smaller.billing.removeAll { $0.resourceID == "yc-static" }
        smaller.inventory.removeAll { $0.resourceID == "yc-static" }
        let store = try Store()
        let engine = engine(try config(), store: store, replacing: "other",
                            with: ScriptedSource([.succeed(demoSnapshot), .succeed(demoSnapshot), .succeed(smaller)]))
        await engine.syncAllOnce()
        #expect(exposition(engine).value("infrazen_sync_resources", ["source": "other", "action": "created"]) == 7)
        await engine.syncAllOnce()
        #expect(exposition(engine).value("infrazen_sync_resources", ["source": "other", "action": "unchanged"]) == 7)
        await engine.syncAllOnce()
        let parsed = exposition(engine)
        #expect(parsed.value("infrazen_sync_resources", ["source": "other", "action": "deleted"]) == 1)
        #expect(parsed.value("infrazen_sync_resources", ["source": "other", "action": "unchanged"]) == 6)
    }

    @Test("after a restart the restored snapshot renders the same figures before any sync")
    func restoreAfterRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zen-\(UUID().uuidString)/infrazen.db").path
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let config = try config()
        let first = try Store(path: path)
        let running = engine(config, store: first, replacing: "other", with: ScriptedSource([.succeed(demoSnapshot)]))
        await running.syncAllOnce()
        let served = exposition(running)
        try first.close()

        let second = try Store(path: path)
        defer { try? second.close() }
        let restarted = engine(config, store: second, replacing: "other", with: ScriptedSource([.hang]))
        await restarted.restore()
        let restored = exposition(restarted)
        for name in ["infrazen_infrastructure_cost_monthly", "infrazen_cost_month_to_date", "infrazen_resource_cost_per_hour",
                     "infrazen_account_balance"] {
            #expect(restored.sum(name) == served.sum(name), "\(name)")
            #expect(restored.values(name).count == served.values(name).count, "\(name)")
        }
        #expect(restored.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"]) == Self.now.timeIntervalSince1970)
        #expect(await restarted.estate.isReady)
    }

    @Test("month-to-date sums the month's billed days, spike included")
    func monthToDate() async throws {
        let engine = engine(try config(), store: try Store(), replacing: "other", with: ScriptedSource([.succeed(demoSnapshot)]))
        await engine.syncAllOnce()
        let moscow = TimeZone(identifier: "Europe/Moscow")!
        let first = LocalDay(year: 2026, month: 11, day: 1)
        let expected = demoSnapshot.dailyCosts.filter { $0.day >= first }.map(\.cost.amount).reduce(0, +)
        let served = exposition(engine).sum("infrazen_cost_month_to_date", where: { $0["source"] == "other" })
        #expect(abs(served - NSDecimalNumber(decimal: expected).doubleValue) < 0.005)
        #expect(LocalDay(Self.now, in: moscow) == LocalDay(year: 2026, month: 11, day: 20))
    }

    /// Two sources sync at once: one lands with the evaluation made ahead of it while a full
    /// evaluation, begun before that landing, is still running. The demo estate is 117,150 ₽ a
    /// month; both sources together 234,300 ₽.
    @Test("an evaluation begun before a landing never replaces the one published with it")
    func staleEvaluationDropped() async throws {
        let config = try config()
        let engine = engine(config, store: try Store(), replacing: "other", with: ScriptedSource([.hang]))
        let demo = try #require(engine.sources.first { $0.config.name == "demo" })
        #expect(await engine.sync(demo))
        let estate = engine.estate
        let synced = try #require(await estate.status(of: "demo"))
        let evaluate: @Sendable ([SourceStatus], [UsageStatus]) -> EstateEvaluation = { statuses, usage in
            EstateEvaluation(sources: statuses, usage: usage, config: config, fx: FXHistory(reporting: .rub, fixed: [:]), now: Self.now)
        }
        let (entered, enter) = AsyncStream<Void>.makeStream()
        let (release, letGo) = AsyncStream<Void>.makeStream()
        let begunBefore = Task {
            await estate.evaluate { statuses, usage in
                enter.yield()
                for await _ in release { break }
                return evaluate(statuses, usage)
            }
        }
        for await _ in entered { break }

        let landing: Estate.StatusChange = { status in
            status.resources = synced.resources
            status.dimensions = synced.dimensions
            status.history = synced.history
            status.hasData = true
            status.up = true
            status.lastSuccess = Self.now
        }
        let prepared = await estate.prepareEvaluation(of: ["other": landing], evaluate)
        #expect(await estate.land(["other": landing], with: prepared))
        #expect(abs(exposition(engine).sum("infrazen_infrastructure_cost_monthly") - 234_300) < 0.005)

        letGo.yield()
        await begunBefore.value
        #expect(abs(exposition(engine).sum("infrazen_infrastructure_cost_monthly") - 234_300) < 0.005)
        let total = await estate.currentEvaluation.infrastructureMonthly.values.reduce(0, +)
        #expect(total == 234_300)
    }
}

extension SyncEngine {
    /// The same engine with one configured source's connector swapped for another.
    func replacingSource(_ name: String, with source: any Source) -> SyncEngine {
        var copy = self
        copy.sources = sources.map { $0.config.name == name ? Configured(config: $0.config, source: source) : $0 }
        return copy
    }
}
