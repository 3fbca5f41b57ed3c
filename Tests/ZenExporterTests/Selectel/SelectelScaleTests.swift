import CostModel
import Foundation
@testable import ProviderSelectel
@testable import SourceKit
import Testing
@testable import ZenExporter

/// The Selectel connector against a generated account: thousands of servers, consumption
/// answers larger than the body limit, utilisation on its own cadence.
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

    @Test("3,000 servers: consumption over 64 MiB read in halves, every server priced and inventoried, utilisation for all, within the default timeout")
    func threeThousandServers() async throws {
        let fake = try SelectelEstateFake(.init(servers: 3000, pageSize: 1000, billedSince: Self.billedSince, now: Self.now))
        try await fake.start()
        let (source, config) = try source(fake)
        #expect(config.timeout == .seconds(60))   // the default: no `timeout:` above

        let clock = ContinuousClock()
        let started = clock.now
        let snapshot = try await source.collect(window())
        let elapsed = clock.now - started
        print("3,000 servers: first collect took \(elapsed), \(snapshot.utilization.count) utilisation samples")
        #expect(elapsed < config.timeout)

        // The hourly rows since yesterday are over the limit: refused whole, read in halves
        // that cover the window once.
        let limit = source.http.maxBodyBytes
        let hourly = fake.served.withLock { $0 }.filter { $0.grouping == "hour" }
        let accepted = hourly.filter { $0.bytes <= limit }
        let acceptedBytes = accepted.map(\.bytes).reduce(0, +)
        print("3,000 servers: hourly consumption served \(hourly.map { "\($0.start)…\($0.end): \($0.bytes)" }), \(acceptedBytes) bytes accepted; "
              + "daily \(fake.served.withLock { $0 }.filter { $0.grouping == "day" }.map(\.bytes))")
        #expect(acceptedBytes >= 64 << 20)
        #expect(hourly.first { $0.bytes > limit }.map { ($0.start, $0.end) } ?? ("", "") == ("2026-11-19T00:00:00", "2026-11-20T12:00:00"))
        try expectCovered(hourly, from: "2026-11-19T00:00:00", to: "2026-11-20T12:00:00", limit: limit)
        #expect(snapshot.endpointFailures.isEmpty, "\(snapshot.endpointFailures)")

        // Every server and its disk billed at the fake's kopecks for the latest hour; costs for
        // every hour since billing began, each counted once.
        let billing = Dictionary(snapshot.billing.map { ($0.resourceID, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(snapshot.billing.count == 6000)
        var costs: [String: Decimal] = [:]
        for row in snapshot.dailyCosts { costs[row.resourceID, default: 0] += row.cost.amount }
        for i in 0..<3000 {
            let server = billing[SelectelEstateFake.serverID(i)]
            #expect(server?.resourceType == "server" && server?.region == "ru-1" && server?.parentID == nil)
            #expect(server?.rate.perHour == Money(Decimal(SelectelEstateFake.serverKopecks(i)) / 100, .rub), "server \(i)")
            let disk = billing[SelectelEstateFake.diskID(i)]
            #expect(disk?.parentID == SelectelEstateFake.serverID(i) && disk?.rate.perHour == Money(Decimal(string: "0.1") ?? 0, .rub), "disk \(i)")
            #expect(costs[SelectelEstateFake.serverID(i)] == Decimal(Self.hoursBilled * SelectelEstateFake.serverKopecks(i)) / 100, "server \(i)")
        }

        // No zombie: everything billed of an inventoried type is in the inventory, and every
        // region's inventory was read.
        let inventory = Set(snapshot.inventory.map(\.resourceID))
        #expect(snapshot.inventory.filter { $0.resourceType == "server" && $0.status == "ACTIVE" }.count == 3000)
        #expect(snapshot.inventoriedTypes.contains("server") && snapshot.uninventoriedRegions.isEmpty)
        let zombies = snapshot.billing.filter { snapshot.inventoriedTypes.contains($0.resourceType) && !inventory.contains($0.resourceID) }
        #expect(zombies.isEmpty, "\(zombies.prefix(3).map(\.resourceID))")

        // Utilisation for every server, at most 8 Gnocchi requests at a time. Alone on two cores
        // the first collect reads all 3,000; when the machine is busier than the timeout allows,
        // Gnocchi requests stop at half of it and the next syncs (a minute apart) read the rest.
        var latest = snapshot
        var collects = 1
        while latest.utilization.count < 6000 && collects < 4 {
            latest = try await source.collect(window(Self.now.addingTimeInterval(Double(60 * collects))))
            collects += 1
        }
        print("3,000 servers: utilisation for every server after \(collects) collect(s)")
        let utilization = Dictionary(latest.utilization.map { ("\($0.resourceID) \($0.dimension)", $0.ratio) }, uniquingKeysWith: { first, _ in first })
        #expect(latest.utilization.count == 6000)
        for i in 0..<3000 {
            let id = SelectelEstateFake.serverID(i)
            #expect(abs((utilization["\(id) cpu"] ?? -1) - SelectelEstateFake.cpuPercent(i) / 100) < 1e-9, "cpu \(i)")
            #expect(abs((utilization["\(id) memory"] ?? -1) - SelectelEstateFake.memoryMB(i) / 4096) < 1e-9, "memory \(i)")
        }
        #expect(fake.gnocchiCalls.withLock { $0 } == 6000)
        #expect(fake.gnocchiMaxInFlight <= 8)

        // The next sync, half an hour later: no Gnocchi call, and consumption asked for in the
        // halves that fitted, without a refused answer first.
        fake.served.withLock { $0 = [] }
        let second = clock.now
        let again = try await source.collect(window(Self.now.addingTimeInterval(1800)))
        print("3,000 servers: collect within utilization_interval took \(clock.now - second)")
        #expect(fake.gnocchiCalls.withLock { $0 } == 6000)
        #expect(again.utilization.count == 6000)
        #expect(fake.served.withLock { $0 }.allSatisfy { $0.bytes <= limit })
        #expect(again.billing == snapshot.billing)
        await fake.stop()
    }

    @Test("utilisation is fetched once per utilization_interval; between, the last values serve; a failing server keeps its last values")
    func utilizationCadence() async throws {
        let fake = try SelectelEstateFake(.init(servers: 20, pageSize: 7, billedSince: Self.billedSince, now: Self.now))
        try await fake.start()
        let (source, _) = try source(fake, """
            retries: 0
            utilization_interval: 2h
            utilization_concurrency: 3
        """)
        #expect(source.settings.utilizationInterval == .seconds(7200) && source.settings.utilizationConcurrency == 3)

        let first = try await source.collect(window())
        #expect(fake.gnocchiCalls.withLock { $0 } == 40)
        #expect(fake.gnocchiMaxInFlight <= 3)
        #expect(first.utilization.count == 40)

        // Within the interval: not one Gnocchi call, the same values.
        let within = try await source.collect(window(Self.now.addingTimeInterval(3600)))
        #expect(fake.gnocchiCalls.withLock { $0 } == 40)
        #expect(within.utilization == first.utilization)
        #expect(within.endpointFailures.isEmpty)

        // 1 h 50 min later, a sync arriving early by the jitter: due again. Server 5's Gnocchi
        // fails (its first request, so 39 calls): an endpoint failure, the sync lands, its last
        // values stay.
        fake.failingGnocchi.withLock { $0 = [5] }
        let due = try await source.collect(window(Self.now.addingTimeInterval(6600)))
        #expect(fake.gnocchiCalls.withLock { $0 } == 79)
        #expect(due.endpointFailures.map(\.endpoint) == ["gnocchi/ru-1"])
        #expect(due.endpointFailures.first?.reason == "http_500")
        #expect(due.utilization == first.utilization)

        // Server 5 is asked again at the next sync (its values are stale); the others are not.
        fake.failingGnocchi.withLock { $0 = [] }
        let retried = try await source.collect(window(Self.now.addingTimeInterval(7000)))
        #expect(fake.gnocchiCalls.withLock { $0 } == 81)
        #expect(retried.endpointFailures.isEmpty)
        #expect(retried.utilization == first.utilization)
        await fake.stop()
    }

    @Test("a slow Gnocchi does not fail the sync: requests start in the first half of the timeout, the rest at the next syncs")
    func slowGnocchi() async throws {
        let fake = try SelectelEstateFake(.init(servers: 20, pageSize: 1000, billedSince: Self.billedSince, now: Self.now))
        try await fake.start()
        fake.gnocchiDelay.withLock { $0 = .milliseconds(250) }
        let (source, _) = try source(fake, """
            timeout: 2s
            utilization_concurrency: 2
        """)
        // 20 servers × 2 requests × 250 ms, 2 at a time: 5 s of Gnocchi; the timeout is 2 s.
        var counts: [Int] = []
        for _ in 0..<8 where counts.last != 40 {
            let clock = ContinuousClock()
            let started = clock.now
            let snapshot = try await source.collect(window())
            // Under the 5 s all of Gnocchi takes: the sync stopped asking near its 2 s timeout
            // (not at it exactly; CI runs the suite in parallel on two cores).
            #expect(clock.now - started < .seconds(4))
            #expect(snapshot.endpointFailures.isEmpty)
            counts.append(snapshot.utilization.count)
        }
        // Progress at every sync, and all 20 servers in the end.
        #expect(counts.count > 1 && counts.first ?? 0 > 0)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 < $1 }, "\(counts)")
        #expect(counts.last == 40)
        #expect(fake.gnocchiCalls.withLock { $0 } == 40)
        await fake.stop()
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
        // The refused body's connection is still being torn down on the server side; stopping the
        // server under it made Hummingbird trap ("Deinited NIOAsyncWriter") about one run in six.
        try await Task.sleep(for: .seconds(1))
        await fake.stop()
    }
}
