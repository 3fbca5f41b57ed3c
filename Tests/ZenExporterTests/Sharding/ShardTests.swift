import ArgumentParser
import Foundation
import Logging
@testable import Storage
import Testing
@testable import ZenExporter

/// The shard of a source, the `shard` key and `--shard` flag, and what each shard runs and serves.
/// Hashes and assignments are computed independently with Python (`Self.python`): FNV-1a 64,
/// SplitMix64's finaliser, Lamping and Veach's jump consistent hash, and the load band.
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

    /// The reference implementation, in Python's integers: name → shard for each count.
    static let python = """
    import json, sys
    M = 2**64
    def fnv(s):
        h = 0xcbf29ce484222325
        for b in s.encode(): h = ((h ^ b) * 0x100000001b3) % M
        return h
    def mix(v):
        z = (v + 0x9E3779B97F4A7C15) % M
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % M
        return z ^ (z >> 31)
    def jump(key, n):
        b, j = -1, 0
        while j < n:
            b = j
            key = (key * 2862933555777941757 + 1) % M
            j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
        return b
    G = 0x9E3779B97F4A7C15
    def band(m, c):
        return min(-(-3 * m // (4 * c)), m // c), max(5 * m // (4 * c), -(-m // c))
    def assign(sources, count):
        key = {x: mix(fnv(x)) for x, _ in sources}
        pin = {x: p for x, p in sources if p is not None and 0 <= p < count}
        free = [x for x, _ in sources if x not in pin]
        shard = {x: 0 for x in free}
        shard.update({x: 0 for x, p in pin.items() if p == 0})
        for k in range(1, count):
            shard.update({x: k for x, p in pin.items() if p == k})
            lo, hi = band(len(shard), k + 1)
            load = [0] * (k + 1)
            for s in shard.values(): load[s] += 1
            h = {x: mix((key[x] + k * G) % M) for x in free}
            rank = lambda x: (0 if jump(key[x], k + 1) == k else 1, h[x], x.encode())
            cand = [sorted((x for x in free if shard[x] == j), key=rank) for j in range(k)]
            take, least, most = [], [], []
            for j in range(k):
                a = min(len(cand[j]), max(0, load[j] - hi))
                b = max(a, min(len(cand[j]), load[j] - lo))
                natural = sum(1 for x in cand[j] if jump(key[x], k + 1) == k)
                take.append(min(max(natural, a), b)); least.append(a); most.append(b)
            total = load[k] + sum(take)
            while total > hi and any(take[j] > least[j] for j in range(k)):
                j = max((j for j in range(k) if take[j] > least[j]), key=lambda j: rank(cand[j][take[j] - 1]))
                take[j] -= 1; total -= 1
            while total < lo and any(take[j] < most[j] for j in range(k)):
                j = min((j for j in range(k) if take[j] < most[j]), key=lambda j: rank(cand[j][take[j]]))
                take[j] += 1; total += 1
            for j in range(k):
                for x in cand[j][:take[j]]: shard[x] = k
            load = [0] * (k + 1)
            for s in shard.values(): load[s] += 1
            while True:
                big = max(range(k + 1), key=lambda s: (load[s], -s)); small = min(range(k + 1), key=lambda s: (load[s], s))
                movable = [x for x in free if shard[x] == big]
                if load[big] <= hi and load[small] >= lo or load[big] - load[small] < 2 or not movable: break
                x = max(movable, key=lambda x: (h[x], x.encode()))
                shard[x] = small; load[big] -= 1; load[small] += 1
        return shard
    request = json.load(sys.stdin)
    sources = [(name, request["pins"].get(name)) for name in request["names"]]
    print(json.dumps({str(n): assign(sources, n) for n in range(1, 9)}))
    """

    /// Python's shard of each name, for counts 1…8, the names being one config's sources.
    static func pythonShards(_ names: [String], pins: [String: Int] = [:]) throws -> [Int: [String: Int]] {
        struct Request: Encodable { var names: [String]; var pins: [String: Int] }
        let result = try runTool("python3", ["-c", python], stdin: try JSONEncoder().encode(Request(names: names, pins: pins)))
        try #require(result.status == 0, "\(result.output)")
        let decoded = try JSONDecoder().decode([String: [String: Int]].self, from: Data(result.output.utf8))
        return Dictionary(uniqueKeysWithValues: decoded.compactMap { key, value in Int(key).map { ($0, value) } })
    }

    /// 300 names as operators give them: provider, environment, region or team, number.
    static let realisticNames: [String] = {
        let providers = ["selectel", "yandex", "beget", "vk", "cloudru", "aws-focus", "gcp-focus", "azure-focus", "openstack", "warehouse"]
        let environments = ["prod", "staging", "dev"]
        var names: [String] = []
        for provider in providers {
            for environment in environments {
                for number in 1...10 { names.append("\(provider)-\(environment)-\(String(format: "%02d", number))") }
            }
        }
        return names
    }()

    static func assignment(_ names: [String], count: Int, pins: [String: Int] = [:]) -> ShardAssignment {
        ShardAssignment(names.map { ($0, pins[$0]) }, count: count)
    }

    @Test("sources land on the shards Python computed, for every count from 1 to 8")
    func assignments() throws {
        let names = ["demo-a", "demo-b", "demo-c", "demo-d", "items", "selectel", "yandex", "облако", "alpha", "bravo", "charlie", "delta"]
            + Self.realisticNames
        for (count, expected) in try Self.pythonShards(names) {
            let assignment = Self.assignment(names, count: count)
            for name in names { #expect(assignment.shard(of: name) == expected[name], "\(name) of \(count)") }
        }
    }

    @Test("with pins, sources land where Python puts them, and every pinned source stays on its pin")
    func pinnedAssignments() throws {
        // A third of the names pinned, skewed towards shard 0: the band must place the rest around them.
        let pins = Dictionary(uniqueKeysWithValues: Self.realisticNames.enumerated().compactMap { index, name in
            index % 3 == 0 ? (name, index % 7 == 0 ? 0 : index % 5) : nil
        })
        for (count, expected) in try Self.pythonShards(Self.realisticNames, pins: pins) {
            let assignment = Self.assignment(Self.realisticNames, count: count, pins: pins)
            for name in Self.realisticNames { #expect(assignment.shard(of: name) == expected[name], "\(name) of \(count)") }
            for (name, pin) in pins where pin < count { #expect(assignment.shard(of: name) == pin, "\(name) pinned to \(pin) of \(count)") }
        }
    }

    @Test("4 → 5 shards moves at most a quarter of 300 realistic names (a fifth expected), all onto the new shard")
    func fewMove() {
        let (four, five) = (Self.assignment(Self.realisticNames, count: 4), Self.assignment(Self.realisticNames, count: 5))
        let moved = Self.realisticNames.filter { four.shard(of: $0) != five.shard(of: $0) }
        #expect(Double(moved.count) / 300 <= 0.25, "\(moved.count) of 300 moved")
        #expect(moved.allSatisfy { five.shard(of: $0) == 4 })
    }

    /// A uniform hash alone spreads names binomially: at 8 shards of 300 names only 41 % of
    /// random name sets keep every shard within a quarter of its share. The band makes it hold
    /// for any names; four names on two shards split two and two.
    @Test("2, 3, 4 and 8 shards each get within a quarter of their even share of 300 names", arguments: [2, 3, 4, 8])
    func evenShares(count: Int) {
        let even = 300 / Double(count)
        let assignment = Self.assignment(Self.realisticNames, count: count)
        var load = [Int](repeating: 0, count: count)
        for name in Self.realisticNames { load[assignment.shard(of: name)] += 1 }
        #expect(load.allSatisfy { abs(Double($0) - even) <= 0.25 * even }, "\(load)")
        let small = Self.assignment(["alpha", "bravo", "charlie", "delta"], count: 2)
        #expect(["alpha", "bravo", "charlie", "delta"].filter { small.shard(of: $0) == 0 }.count == 2)
    }

    @Test("a pinned source runs on its pin whatever the hash says; a pin past COUNT is a config error naming the key")
    func pinned() throws {
        var config = try ConfigLoader.parse("""
        sources:
          - {name: alpha, type: demo, shard: 0}
          - {name: bravo, type: demo, shard: 0}
          - {name: charlie, type: demo}
          - {name: delta, type: demo, shard: 1}
        """, file: "t", environment: [:])
        // Jump hashing sends alpha, bravo and charlie to shard 1 of 2 and delta to 0; with alpha and
        // bravo pinned to 0 and delta to 1, the band gives charlie to shard 1 (two each).
        config.shard = try Shard(index: 0, count: 2)
        #expect(config.ownedByShard.sources.map(\.name) == ["alpha", "bravo"])
        config.shard = try Shard(index: 1, count: 2)
        #expect(config.ownedByShard.sources.map(\.name) == ["charlie", "delta"])
        let found = configIssues("shard: 0/2\nsources:\n  - {name: alpha, type: demo, shard: 2}\n")
        #expect(found.map(\.key) == ["sources[0].shard"], "\(found)")
        #expect(found.first?.message == "pins the source to shard 2, but there are 2 shards (0…1)")
        #expect(found.first?.line == 3)
        var flagged = try ConfigLoader.parse("sources:\n  - {name: alpha, type: demo, shard: 3}\n", file: "t", environment: [:])
        #expect(throws: ValidationError.self) { try ShardOption.parse(["--shard", "0/2"]).apply(to: &flagged) }
    }

    @Test("every source is owned by exactly one shard, whatever the count")
    func exactlyOne() throws {
        let yaml = "sources:\n" + (0..<200).map { "  - {name: source-\($0), type: demo}\n" }.joined()
        var config = try ConfigLoader.parse(yaml, file: "t", environment: [:])
        for count in 1...7 {
            var owners: [String: Int] = [:]
            for index in 0..<count {
                config.shard = try Shard(index: index, count: count)
                for source in config.ownedByShard.sources { owners[source.name, default: 0] += 1 }
            }
            #expect(owners.count == 200 && owners.values.allSatisfy { $0 == 1 }, "\(count) shards")
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
        // Python: demo-a, demo-b and items are shard 0's of 2; demo-c and demo-d shard 1's.
        let zero = config.ownedByShard
        #expect(zero.sources.map(\.name) == ["demo-a", "demo-b"])
        #expect(zero.items.map(\.name) == ["example.ru"])
        #expect(zero.budgets.map(\.name) == ["all", "only-b"])
        #expect(config.shardSourceNames == ["demo-a", "demo-b", "items"])
        config.shard = try Shard(index: 1, count: 2)
        let one = config.ownedByShard
        #expect(one.sources.map(\.name) == ["demo-c", "demo-d"])
        #expect(one.items.isEmpty)
        #expect(one.budgets.isEmpty)
        #expect(config.shardSourceNames == ["demo-c", "demo-d"])
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
        #expect(abs(total(zero) - (3 * 117_150 + 100)) < 0.005)
        #expect(abs(total(one) - 7 * 117_150) < 0.005)
        let upZero = Set(zero.samples.filter { $0.name == "infrazen_source_up" }.compactMap { $0.labels["source"] })
        let upOne = Set(one.samples.filter { $0.name == "infrazen_source_up" }.compactMap { $0.labels["source"] })
        #expect(upZero == ["demo-a", "demo-b", "items"])
        #expect(upOne == ["demo-c", "demo-d"])
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
        #expect(zero.samples.filter { $0.name == "infrazen_budget_amount" }.compactMap { $0.labels["budget"] } == ["all", "only-b"])
        #expect(!one.samples.contains { $0.name == "infrazen_budget_amount" })
        #expect(zero.samples.filter { $0.name == "infrazen_item_cost_monthly" }.map(\.value) == [100])
        #expect(!one.samples.contains { $0.name == "infrazen_item_cost_monthly" })
    }

    @Test("two shards with pinned sources add up to one exporter, series by series, and each runs what it is pinned")
    func pinnedShardsAddUp() async throws {
        // Against the hash (demo-a and demo-b on 0, demo-c and demo-d on 1): demo-a to 1, demo-c to 0.
        let pinned = Self.estate.replacingOccurrences(of: "{ name: demo-a, type: demo, scale: 1 }", with: "{ name: demo-a, type: demo, scale: 1, shard: 1 }")
            .replacingOccurrences(of: "{ name: demo-c, type: demo, scale: 3 }", with: "{ name: demo-c, type: demo, scale: 3, shard: 0 }")
        func render(_ shard: Shard) async throws -> ParsedExposition {
            var config = try ConfigLoader.parse(pinned, file: "t", environment: [:])
            config.shard = shard
            var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
            engine.clock = { Self.now }
            await engine.syncAllOnce()
            return ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        }
        let whole = try await render(.whole), zero = try await render(try Shard(index: 0, count: 2)), one = try await render(try Shard(index: 1, count: 2))
        func up(_ metrics: ParsedExposition) -> Set<String> { Set(metrics.values("infrazen_source_up").compactMap { $0.labels["source"] }) }
        #expect(up(zero) == ["demo-b", "demo-c", "items"] && up(one) == ["demo-a", "demo-d"])
        for family in ["infrazen_cost_month_to_date", "infrazen_infrastructure_cost_monthly", "infrazen_waste_cost_monthly"] {
            func sums(_ metrics: ParsedExposition) -> [String: Decimal] {
                metrics.values(family).reduce(into: [:]) { result, sample in
                    result[sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","), default: 0] += Decimal(string: sample.text) ?? .nan
                }
            }
            #expect(sums(zero).merging(sums(one), uniquingKeysWith: +) == sums(whole), "\(family)")
        }
        #expect(abs(one.sum("infrazen_infrastructure_cost_monthly") - 5 * 117_150) < 0.005)  // demo-a 1 + demo-d 4 copies
    }

    @Test("on the command line: check-config previews the split, sync --once syncs the shard's sources only, bad values stop it")
    func commandLine() throws {
        let daemon = try Daemon(config: Self.estate)
        let preview = try daemon.run(["check-config", "--shard", "1/2"])
        #expect(preview.status == 0, "\(preview.output)")
        #expect(preview.output.contains("shard 1/2 owns: demo-c, demo-d"), "\(preview.output)")
        let synced = try daemon.run(["sync", "--once", "--shard", "0/2"])
        #expect(synced.status == 0, "\(synced.output)")
        // 7 resources per copy of the demo (its volume folds into its VM): demo-a 1 copy, demo-b 2; the item.
        #expect(synced.output.split(separator: "\n").filter { $0.hasPrefix("demo-") || $0.hasPrefix("items") }
            == ["demo-a: ok, 7 resources", "demo-b: ok, 14 resources", "items: ok, 1 resources"], "\(synced.output)")
        #expect(synced.output.contains("sources=demo-a,demo-b,items"))
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

    /// The estate synced unsharded, then planned over 3 shards. Python: demo-a, demo-b, demo-c
    /// and demo-d → 2 of 3, items → 0; demo-d is pinned to 1.
    @Test("check-config --shard-plan 3 prints each shard's sources with their resources, and what moves against COUNT 2")
    func shardPlan() throws {
        let daemon = try Daemon(config: "shard: 0/2\n" + Self.estate.replacingOccurrences(of: "{ name: demo-d, type: demo, scale: 4 }",
                                                                                                with: "{ name: demo-d, type: demo, scale: 4, shard: 1 }"))
        #expect(try daemon.run(["sync", "--once", "--shard", "0/1"]).status == 0)
        let plan = try daemon.run(["check-config", "--shard-plan", "3"])
        #expect(plan.status == 0, "\(plan.output)")
        let lines = plan.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("shard 0/3: 1 source(s), 1 resources at the last sync"), "\(plan.output)")
        #expect(lines.contains("  items: 1 resources"))
        // Python (`Self.python`, demo-d pinned to 1): of 3, items 0, demo-c and demo-d 1, demo-a and
        // demo-b 2; of 2, demo-a, demo-b and items 0, demo-c and demo-d 1.
        #expect(lines.contains("shard 1/3: 2 source(s), 49 resources at the last sync"), "\(plan.output)")
        #expect(lines.contains("  demo-c: 21 resources") && lines.contains("  demo-d: 28 resources, pinned (shard: 1)"))
        #expect(lines.contains("shard 2/3: 2 source(s), 21 resources at the last sync"))
        #expect(lines.contains("  demo-a: 7 resources") && lines.contains("  demo-b: 14 resources"))
        #expect(lines.contains("against the current COUNT 2: 2 of 5 source(s) move (demo-a 0→2, demo-b 0→2)"), "\(plan.output)")
        let refused = try daemon.run(["check-config", "--shard-plan", "0"])
        #expect(refused.status != 0 && refused.output.contains("--shard-plan: N must be between 1 and 1024, got 0"), "\(refused.output)")
    }

    /// demo-a is shard 2's of 3 (Python, `Self.python`): shard 0 of 3 owns nothing.
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
