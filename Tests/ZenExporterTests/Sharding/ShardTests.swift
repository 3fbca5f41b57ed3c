import ArgumentParser
import Foundation
import Logging
import Testing
@testable import ZenExporter

/// The shard of a source, the `shard` key and `--shard` flag, and what each shard runs and serves.
/// Hashes and assignments were computed independently with Python:
/// `h = 0xcbf29ce484222325; for b in name.encode(): h = ((h ^ b) * 0x100000001b3) % 2**64`.
@Suite("Sharding")
struct ShardTests {
    @Test("FNV-1a 64-bit matches the published vectors and Python")
    func fnvVectors() {
        #expect(Shard.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(Shard.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(Shard.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
        #expect(Shard.fnv1a64("demo-a") == 0xe030_d966_aa3c_81e0)
        #expect(Shard.fnv1a64("облако") == 0xddc7_bcd3_6100_7fcd)
    }

    @Test("sources land on the shards Python computed")
    func assignments() {
        let byTwo = ["demo-a": 0, "demo-b": 1, "demo-c": 0, "demo-d": 1, "items": 1, "selectel": 0, "yandex": 0, "облако": 1]
        for (name, shard) in byTwo { #expect(Shard.shardIndex(of: name, count: 2) == shard, "\(name)") }
        let byThree = ["items": 0, "beta": 2, "gamma": 2, "delta": 1, "demo-a": 1, "selectel": 1]
        for (name, shard) in byThree { #expect(Shard.shardIndex(of: name, count: 3) == shard, "\(name)") }
    }

    @Test("every source is owned by exactly one shard, whatever the count")
    func exactlyOne() throws {
        let names = (0..<200).map { "source-\($0)" } + ["items", "", "a"]
        for count in 1...7 {
            let shards = try (0..<count).map { try Shard(index: $0, count: count) }
            for name in names { #expect(shards.filter { $0.owns(sourceNamed: name) }.count == 1, "\(name) of \(count)") }
        }
    }

    @Test("the key: 1/2 and {index: 1, count: 3} load; absent is 0/1")
    func keyLoads() throws {
        let sources = "sources:\n  - name: d\n    type: demo\n"
        #expect(try ConfigLoader.parse(sources, file: "t", environment: [:]).shard == .whole)
        #expect(try ConfigLoader.parse("shard: 1/2\n" + sources, file: "t", environment: [:]).shard == Shard(index: 1, count: 2))
        #expect(try ConfigLoader.parse("shard: {index: 1, count: 3}\n" + sources, file: "t", environment: [:]).shard == Shard(index: 1, count: 3))
    }

    @Test("bad keys name the key and its line:column", arguments: [
        ("2/2", "shard", "INDEX must be between 0 and COUNT-1 (0…1), got 2"),
        ("0/0", "shard", "COUNT must be between 1 and 1024, got 0"),
        ("-1/2", "shard", "INDEX must be between 0 and COUNT-1 (0…1), got -1"),
        ("x", "shard", "expected INDEX/COUNT such as 0/2, got \"x\""),
        ("{index: 2, count: 2}", "shard.index", "INDEX must be between 0 and COUNT-1 (0…1), got 2"),
        ("{index: 0}", "shard.count", "required key is missing"),
        ("[0, 2]", "shard", "expected INDEX/COUNT such as 0/2, or {index: 0, count: 2}; got a list"),
    ])
    func badKeys(value: String, key: String, message: String) throws {
        let found = configIssues("sources:\n  - name: d\n    type: demo\nshard: \(value)\n")
        #expect(found.count == 1, "\(found)")
        let issue = try #require(found.first)
        #expect(issue.key == key)
        #expect(issue.message == message)
        #expect(issue.line == 4)
        #expect(issue.column == (key == "shard.count" ? 8 : key == "shard.index" ? 16 : 8))
    }

    @Test("the flag overrides the key; a bad flag names --shard")
    func flag() throws {
        var config = try ConfigLoader.parse("shard: 0/2\nsources:\n  - name: d\n    type: demo\n", file: "t", environment: [:])
        try ShardOption.parse(["--shard", "2/3"]).apply(to: &config)
        let flagged = try Shard(index: 2, count: 3)
        #expect(config.shard == flagged)
        for bad in ["2/2", "0/0", "-1/2", "x"] {
            do {
                try ShardOption.parse(["--shard=\(bad)"]).apply(to: &config)
                Issue.record("--shard \(bad) was accepted")
            } catch let error as ValidationError {
                #expect(error.message.hasPrefix("--shard: "), "\(error.message)")
            }
        }
    }

    /// 1, 2, 3 and 4 copies of the demo estate: 10 × 117,150 ₽ a month.
    static let demoSources = """
    sources:
      - { name: demo-a, type: demo, scale: 1 }
      - { name: demo-b, type: demo, scale: 2 }
      - { name: demo-c, type: demo, scale: 3 }
      - { name: demo-d, type: demo, scale: 4 }

    """

    static let estate = demoSources + """
    items:
      - { name: example.ru, kind: domain, provider: reg.ru, cost: 1200, period: yearly }
    budgets:
      - { name: all, amount: 2000000 }
      - { name: only-b, amount: 300000, scope: { source: demo-b } }
    """

    @Test("each shard runs its sources, the items of the shard owning `items`, and its budgets")
    func ownedConfig() throws {
        var config = try ConfigLoader.parse(Self.estate, file: "t", environment: [:])
        config.shard = try Shard(index: 0, count: 2)
        let zero = config.ownedByShard
        #expect(zero.sources.map(\.name) == ["demo-a", "demo-c"])
        #expect(zero.items.isEmpty)
        #expect(zero.budgets.map(\.name) == ["all"])
        #expect(config.shardSourceNames == ["demo-a", "demo-c"])
        config.shard = try Shard(index: 1, count: 2)
        let one = config.ownedByShard
        #expect(one.sources.map(\.name) == ["demo-b", "demo-d"])
        #expect(one.items.map(\.name) == ["example.ru"])
        #expect(one.budgets.map(\.name) == ["only-b"])
        #expect(config.shardSourceNames == ["demo-b", "demo-d", "items"])
    }

    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    /// `estate` synced at `now` by the given shard, in memory.
    static func synced(shard: Shard) async throws -> SyncEngine {
        var config = try ConfigLoader.parse(estate, file: "t", environment: [:])
        config.shard = shard
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { now }
        await engine.syncAllOnce()
        return engine
    }

    static func render(shard: Shard) async throws -> ParsedExposition {
        ParsedExposition(String(buffer: try await synced(shard: shard).estate.exposition.rendered.body))
    }

    @Test("the overview of shard 1 says which shard it is and leaves health and tenants to shard 0")
    func overview() async throws {
        let one = String(buffer: try await Self.synced(shard: try Shard(index: 1, count: 2)).estate.overviewPage)
        #expect(one.contains("Shard 1 of 2: the totals below are this shard's sources only."))
        #expect(!one.contains("id=\"health-score\""))
        #expect(one.components(separatedBy: "served by shard 0").count == 3)
        let zero = String(buffer: try await Self.synced(shard: try Shard(index: 0, count: 2)).estate.overviewPage)
        #expect(zero.contains("Shard 0 of 2"))
        #expect(zero.contains("id=\"health-score\""))
        #expect(!zero.contains("served by shard 0"))
    }

    /// The demo estate is 3905.00 ₽ a day, 117,150 ₽ a 720-hour month; demo-a..d are 1, 2, 3
    /// and 4 copies of it, and the items' domain is 1200 / 12 = 100 ₽ a month.
    @Test("two shards: run rates add up to 10 × 117,150 + 100 once; estate figures come from shard 0 only")
    func twoShardsRender() async throws {
        let zero = try await Self.render(shard: try Shard(index: 0, count: 2))
        let one = try await Self.render(shard: try Shard(index: 1, count: 2))
        func total(_ metrics: ParsedExposition) -> Double {
            metrics.samples.filter { $0.name == "infrazen_infrastructure_cost_monthly" }.reduce(0) { $0 + $1.value }
        }
        #expect(abs(total(zero) - 4 * 117_150) < 0.005)
        #expect(abs(total(one) - (6 * 117_150 + 100)) < 0.005)
        let upZero = Set(zero.samples.filter { $0.name == "infrazen_source_up" }.compactMap { $0.labels["source"] })
        let upOne = Set(one.samples.filter { $0.name == "infrazen_source_up" }.compactMap { $0.labels["source"] })
        #expect(upZero == ["demo-a", "demo-c"])
        #expect(upOne == ["demo-b", "demo-d", "items"])
        for (metrics, index) in [(zero, "0"), (one, "1")] {
            #expect(metrics.samples.filter { $0.name == "infrazen_shard_info" }.map(\.labels) == [["shard": index, "shards": "2"]])
            #expect(metrics.samples.first { $0.name == "infrazen_shards" }?.value == 2)
            #expect(metrics.samples.contains { $0.name == "infrazen_build_info" })
        }
        let estateWide = ["infrazen_health_score", "infrazen_cost_forecast", "infrazen_cost_daily", "infrazen_tenant_cost_monthly",
                          "infrazen_unallocated_cost_monthly", "infrazen_cost_anomaly_score"]
        for name in estateWide {
            #expect(zero.samples.contains { $0.name == name }, "\(name) missing on shard 0")
            #expect(!one.samples.contains { $0.name == name }, "\(name) served by shard 1 too")
        }
        #expect(zero.samples.filter { $0.name == "infrazen_budget_amount" }.compactMap { $0.labels["budget"] } == ["all"])
        #expect(one.samples.filter { $0.name == "infrazen_budget_amount" }.compactMap { $0.labels["budget"] } == ["only-b"])
        #expect(one.samples.filter { $0.name == "infrazen_item_cost_monthly" }.map(\.value) == [100])
        #expect(!zero.samples.contains { $0.name == "infrazen_item_cost_monthly" })
    }

    @Test("on the command line: check-config previews the split, sync --once syncs the shard's sources only, bad values stop it")
    func commandLine() throws {
        let daemon = try Daemon(config: Self.estate)
        let preview = try daemon.run(["check-config", "--shard", "1/2"])
        #expect(preview.status == 0, "\(preview.output)")
        #expect(preview.output.contains("shard 1/2 owns: demo-b, demo-d, items"), "\(preview.output)")
        let synced = try daemon.run(["sync", "--once", "--shard", "0/2"])
        #expect(synced.status == 0, "\(synced.output)")
        // 7 resources per copy of the demo (its volume folds into its VM): demo-a 1 copy, demo-c 3.
        #expect(synced.output.split(separator: "\n").filter { $0.hasPrefix("demo-") || $0.hasPrefix("items") }
            == ["demo-a: ok, 7 resources", "demo-c: ok, 21 resources"], "\(synced.output)")
        #expect(synced.output.contains("sources=demo-a,demo-c"))
        // The budget `all` has no source scope: shard 0 says it sees only its own sources.
        #expect(synced.output.contains("budgets_over_this_shard_only=all"), "\(synced.output)")
        let flag = try daemon.run(["sync", "--once", "--shard", "2/2"])
        #expect(flag.status != 0)
        #expect(flag.output.contains("--shard: INDEX must be between 0 and COUNT-1 (0…1), got 2"), "\(flag.output)")

        let badKey = try Daemon(config: "shard: 0/0\n" + Self.demoSources)
        let checked = try badKey.run(["check-config"])
        #expect(checked.status == 2)
        #expect(checked.output.contains("./exporter.yaml:1:8: shard: COUNT must be between 1 and 1024, got 0"), "\(checked.output)")
    }

    /// demo-a is shard 1's of 3 (Python: 0xe030d966aa3c81e0 mod 3 = 1): shard 0 of 3 owns nothing.
    @Test("a shard that owns no source is ready at once and serves only its own health")
    func emptyShard() async throws {
        var config = try ConfigLoader.parse("sources:\n  - { name: demo-a, type: demo }\n", file: "t", environment: [:])
        config.shard = try Shard(index: 0, count: 3)
        #expect(config.shardSourceNames.isEmpty)
        let engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        #expect(await engine.syncAllOnce().isEmpty)
        #expect(await engine.estate.isReady)
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.samples.filter { $0.name == "infrazen_shard_info" }.map(\.labels) == [["shard": "0", "shards": "3"]])
        #expect(!metrics.samples.contains { $0.name == "infrazen_source_up" || $0.name == "infrazen_infrastructure_cost_monthly" })
    }

    @Test("unsharded, the exporter says it is shard 0 of 1")
    func unsharded() async throws {
        let metrics = try await Self.render(shard: .whole)
        #expect(metrics.samples.filter { $0.name == "infrazen_shard_info" }.map(\.labels) == [["shard": "0", "shards": "1"]])
        let total = metrics.samples.filter { $0.name == "infrazen_infrastructure_cost_monthly" }.reduce(0) { $0 + $1.value }
        #expect(abs(total - (10 * 117_150 + 100)) < 0.005)
    }
}
