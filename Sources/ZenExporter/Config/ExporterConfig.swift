import CostModel
import Foundation
import SourceKit
import Storage

/// exporter.yaml, typed. Every key is optional except `sources`; defaults are the ones in
/// CONFIG.md. Loaded by `ConfigLoader`.
struct ExporterConfig: Sendable {
    /// Problems that do not stop the daemon (`file:line:column: key: message`), printed at start.
    var warnings: [ConfigIssue] = []
    var listen = ListenAddress(host: "0.0.0.0", port: 9469)
    var web = WebServerConfig()
    var storage = StorageConfig()
    var reporting = ReportingConfig()
    var fx = FXConfig()
    var metrics = MetricsConfig()
    var sources: [SourceConfig] = []
    var usage: [UsageSourceConfig] = []
    var budgets: [Budget] = []
    var items: [ManualItem] = []
    var allocation = AllocationPolicy()
    /// Per category, how its unallocated cost is spread; usage drivers resolve at each evaluation.
    var sharedDrivers: [CostCategory: SharedDriverConfig] = [:]
    /// Shared pools and their drivers (`allocation.pools`); their selectors are also in
    /// `allocation.pools`, where tenants are assigned.
    var pools: [PoolConfig] = []
    /// Tenants with their own label value; the rest are summed into tenant="other".
    var maxTenants = 100
    var capacity: [CapacityScopeConfig] = []
    var recommendations = RecommendationsConfig()
    var health = HealthConfig()
    var unitMetrics: [UnitMetricConfig] = []
    var revenue: RevenueConfig?
    /// Which of several exporters this is (`shard:`, `--shard`); the engine runs `ownedByShard`.
    var shard = Shard.whole
}

struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    /// `HOST:PORT`, `:PORT` or `[::1]:PORT`.
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reachable from this host only.
    var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}

/// The HTTP listener: the exporter-toolkit web config (TLS, basic auth, headers) and limits.
struct WebServerConfig: Sendable {
    /// exporter-toolkit web config file; `--web.config.file` overrides it. None: plain HTTP, no auth.
    var configFile: String?
    /// Open connections at most; past it new connections wait in the listen backlog.
    var maxConnections = 4096
    /// A connection with no complete request for this long is closed: idle keep-alive
    /// connections, clients that send a partial request slowly, TLS handshakes that stall.
    var idleTimeout: Duration = .seconds(30)
}

struct StorageConfig: Sendable {
    var path = "./data/infrazen.db"
    /// Per-scope daily costs and snapshots.
    var retentionDays = 400
    /// Per-resource daily costs: what scopes are summed again from when allocation rules change.
    var resourceRetentionDays = 62
    /// Days the data of a source removed from the config is kept after its last sync (0: it
    /// is deleted at the next start).
    var removedSourceDays = 30

    var retention: Retention { Retention(days: retentionDays, resourceDays: min(resourceRetentionDays, retentionDays)) }
}

struct FXConfig: Sendable {
    enum Source: String, Sendable, CaseIterable { case `static`, cbr }
    var source = Source.static
    /// Units of the reporting currency per one unit of the keyed currency; with `cbr`, the
    /// fallback for currencies the bank does not quote.
    var rates: [Currency: Decimal] = [:]
    var url = "https://www.cbr.ru/scripts/XML_daily.asp"
    var refresh: Duration = .seconds(6 * 3600)
}

struct MetricsConfig: Sendable {
    var namespace = "infrazen"
    var perResource = true
}

struct RecommendationsConfig: Sendable {
    var cpuIdleBelow = 0.10
    var memoryIdleBelow = 0.40
    var orphanMinAge: Duration = .seconds(72 * 3600)
    var offHoursEnvironments: Set<String> = ["dev", "staging"]
    var offHoursPerWeek: Decimal = 108

    func policy(hoursPerMonth: Decimal) -> RecommendationPolicy {
        RecommendationPolicy(cpuIdleBelow: cpuIdleBelow, memoryIdleBelow: memoryIdleBelow, offHoursEnvironments: offHoursEnvironments,
                             offHoursPerWeek: offHoursPerWeek, hoursPerMonth: hoursPerMonth)
    }
}

/// Spend no API reports (seed 003): domains, hosting, CDN, SaaS, AI APIs, packages.
struct ManualItem: Sendable, Equatable {
    static let kinds: [String: CostCategory] = [
        "domain": .domain, "hosting": .compute, "cdn": .network, "saas": .saas, "ai": .ai, "package": .saas, "other": .other,
    ]
    var name: String
    var kind: String
    var provider: String
    var cost: Money
    var period: BillingPeriod
    var renews: LocalDay?
    var autoRenew: Bool
    var usage: Decimal?
    var limit: Decimal?
}
