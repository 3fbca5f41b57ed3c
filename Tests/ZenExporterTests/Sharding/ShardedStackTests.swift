import Foundation
import Testing
import Yams

/// Two shards, and an HA pair, of the real daemon on loopback, scraped by Prometheus from
/// Debian with the shipped example configs (deploy/prometheus/shards.yml, ha-pair.yml) and rules.
///
/// The estate: four `demo` sources of 1, 2, 3 and 4 copies of the demo estate, which is
/// 3905.00 ₽ a day, 117,150 ₽ a 720-hour month: 10 × 117,150 = 1,171,500 ₽ in all. By FNV-1a
/// (computed with Python, see ShardTests) demo-a and demo-b are shard 0's of 2, demo-c and demo-d shard 1's.
@Suite("Shards and HA pairs through Prometheus", .serialized, .timeLimit(.minutes(4)))
struct ShardedStackTests {
    static let root = MonitoringStackTests.root
    static let copies = ["demo-a": 1, "demo-b": 2, "demo-c": 3, "demo-d": 4]
    static let owner = ["demo-a": "0", "demo-b": "0", "demo-c": "1", "demo-d": "1"]
    static let demoMonthly = 117_150.0
    static let total = 1_171_500.0

    static let config = ShardTests.demoSources

    /// A shipped example with its targets replaced by `targets` (in order, labels kept), its rule
    /// files made absolute, no Alertmanager, and a scrape and evaluation every second.
    static func prometheusConfig(example: String, targets: [Int]) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent("deploy/prometheus/\(example)"), encoding: .utf8)
        var config = try #require(try Yams.load(yaml: text) as? [String: Any])
        config["global"] = ["scrape_interval": "1s", "evaluation_interval": "1s"]
        config["alerting"] = nil
        config["rule_files"] = ["recording.rules.yml", "chom-compat.rules.yml"].map { root.appendingPathComponent("deploy/prometheus/\($0)").path }
        var jobs = try #require(config["scrape_configs"] as? [[String: Any]])
        var statics = try #require(jobs[0]["static_configs"] as? [[String: Any]])
        try #require(statics.count == targets.count)
        for index in statics.indices { statics[index]["targets"] = ["127.0.0.1:\(targets[index])"] }
        jobs[0]["static_configs"] = statics
        config["scrape_configs"] = jobs
        return try Yams.dump(object: config)
    }

    static func startPrometheus(example: String, targets: [Int]) async throws -> BackgroundTool {
        let prometheus = try BackgroundTool("prometheus", [
            "--config.file={dir}/prometheus.yml", "--storage.tsdb.path={dir}/data", "--web.listen-address=127.0.0.1:{port}",
        ])
        _ = try prometheus.write("prometheus.yml", try prometheusConfig(example: example, targets: targets))
        try prometheus.start()
        try await prometheus.waitUntilReady("/-/ready")
        return prometheus
    }

    /// The value of a query that returns one sample, or nil when it returns none.
    static func value(_ prometheus: BackgroundTool, _ expr: String) async throws -> Double? {
        let series = try await MonitoringStackTests.instantQuery(prometheus, expr)
        guard let sample = series.first as? [String: Any], let pair = sample["value"] as? [Any], let text = pair.last as? String else { return nil }
        return Double(text)
    }

    /// Polls until `expr` returns `expected` (bounded): scrapes and rule evaluations take a few seconds.
    static func waitFor(_ prometheus: BackgroundTool, _ expr: String, equal expected: Double, timeout: Double = 60) async throws -> Double? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Double?
        while Date() < deadline {
            last = try await value(prometheus, expr)
            if let last, abs(last - expected) < 0.01 { return last }
            try await Task.sleep(for: .milliseconds(500))
        }
        return last
    }

    @Test("two shards: each source is served by one shard and every cost is counted once")
    func twoShards() async throws {
        let shards = try ["0", "1"].map { index in
            let daemon = try Daemon(config: Self.config)
            try daemon.start(["serve", "--shard", "\(index)/2"])
            return daemon
        }
        for daemon in shards { try await daemon.waitUntilReady() }
        #expect(shards[0].logText.contains("sources=demo-a,demo-b"), "\(shards[0].logText)")
        #expect(shards[1].logText.contains("sources=demo-c,demo-d"), "\(shards[1].logText)")
        let prometheus = try await Self.startPrometheus(example: "shards.yml", targets: shards.map(\.port))

        let raw = try await Self.waitFor(prometheus, "sum(infrazen_infrastructure_cost_monthly)", equal: Self.total)
        #expect(raw.map { abs($0 - Self.total) < 0.01 } == true, "sum over both shards: \(String(describing: raw))")
        let recorded = try await Self.waitFor(prometheus, #"currency:infrazen_infrastructure_cost_monthly:sum{currency="RUB"}"#, equal: Self.total)
        #expect(recorded.map { abs($0 - Self.total) < 0.01 } == true, "recorded total: \(String(describing: recorded))")
        for (source, copies) in Self.copies {
            let shard = try #require(Self.owner[source])
            #expect(try await Self.value(prometheus, #"count(infrazen_source_up{source="\#(source)"})"#) == 1, "\(source)")
            #expect(try await Self.value(prometheus, #"count(infrazen_source_up{source="\#(source)",shard="\#(shard)"})"#) == 1, "\(source)")
            let monthly = try await Self.value(prometheus, #"sum(infrazen_resource_cost_per_hour{source="\#(source)"}) * 720"#)
            #expect(monthly.map { abs($0 - Double(copies) * Self.demoMonthly) < 0.01 } == true, "\(source): \(String(describing: monthly))")
        }
        #expect(try await Self.value(prometheus, "count(count by (shard) (infrazen_shard_info))") == 2)
        #expect(try await Self.value(prometheus, "max(infrazen_shards)") == 2)
        // Estate-wide figures come from shard 0 alone.
        #expect(try await Self.value(prometheus, #"count(infrazen_cost_daily{scope="total"})"#) == 1)
        #expect(try await Self.value(prometheus, #"count(infrazen_cost_daily{scope="total",shard="0"})"#) == 1)
    }

    @Test("an HA pair: the recorded total is the same with both replicas up and with one stopped")
    func haPair() async throws {
        let replicas = try (0..<2).map { _ in try Daemon(config: Self.config) }
        for replica in replicas { try replica.start() }
        for replica in replicas { try await replica.waitUntilReady() }
        let prometheus = try await Self.startPrometheus(example: "ha-pair.yml", targets: replicas.map(\.port))

        let total = #"currency:infrazen_infrastructure_cost_monthly:sum{currency="RUB"}"#
        #expect(try await Self.waitFor(prometheus, "count(up == 1)", equal: 2) == 2)
        // Both replicas serve every series: the raw sum counts it twice, the rules once.
        let raw = try await Self.waitFor(prometheus, "sum(infrazen_infrastructure_cost_monthly)", equal: 2 * Self.total)
        #expect(raw.map { abs($0 - 2 * Self.total) < 0.01 } == true, "raw: \(String(describing: raw))")
        let bothUp = try await Self.waitFor(prometheus, total, equal: Self.total)
        #expect(bothUp.map { abs($0 - Self.total) < 0.01 } == true, "both up: \(String(describing: bothUp))")
        let panel = #"sum(max without (instance, replica) (infrazen_infrastructure_cost_monthly{currency="RUB"}))"#
        #expect(try await Self.value(prometheus, panel).map { abs($0 - Self.total) < 0.01 } == true)

        #expect(replicas[1].stop() != nil, "replica b did not stop")
        // Its scrape fails and its series go stale; then the rules are evaluated again.
        #expect(try await Self.waitFor(prometheus, #"count(infrazen_shard_info)"#, equal: 1) == 1)
        #expect(try await Self.waitFor(prometheus, #"up{replica="b"}"#, equal: 0) == 0)
        try await Task.sleep(for: .seconds(3))
        let oneUp = try await Self.value(prometheus, total)
        #expect(oneUp.map { abs($0 - Self.total) < 0.01 } == true, "one up: \(String(describing: oneUp))")
        #expect(try await Self.value(prometheus, "sum(infrazen_infrastructure_cost_monthly)").map { abs($0 - Self.total) < 0.01 } == true)
    }
}
