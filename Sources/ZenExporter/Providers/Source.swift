import CostModel
import Foundation

/// One configured spend source: a provider connector behind one method, as node_exporter's
/// collectors sit behind `Update`. A connector converts provider units at its edge and never
/// lets a credential into the snapshot it returns.
protocol Source: Sendable {
    /// The `provider` label of the source itself (`demo`, `selectel`, …).
    var provider: String { get }
    /// Whether the source retries each request itself (`ProviderClient`, with `retries` of
    /// the source's config). The engine then makes one attempt per sync, so that a failing
    /// endpoint is called `retries + 1` times and not that squared.
    var retriesRequests: Bool { get }
    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot
}

extension Source {
    var retriesRequests: Bool { false }
}

/// What a sync asks of a source.
struct CollectionWindow: Sendable {
    var now: Date
    /// Days of daily cost history to fetch (the daemon keeps its own beyond that).
    var historyDays: Int
    var reporting: ReportingConfig
    /// The fingerprint of the source's last good sync (see `SourceSnapshot.fingerprint`).
    var previousFingerprint: String? = nil
}

/// Everything one successful collection returned, in model types.
struct SourceSnapshot: Sendable {
    var billing: [BillingLineItem] = []
    var inventory: [InventoryItem] = []
    /// Resources the billing describes itself (a FOCUS export), listed on `listedAt`: taken
    /// as they are by `Reconciliation.reconcile(described:listedAt:)`, in place of `billing`
    /// and `inventory`.
    var described: (resources: [Resource], listedAt: Date)?
    /// Resource types the inventory covers; only these can be zombies.
    var inventoriedTypes: Set<String> = []
    /// Regions whose inventory failed this time; billing there cannot be called a zombie.
    var uninventoriedRegions: Set<String> = []
    /// For inventories read per project (Selectel): the project × region inventories that
    /// answered; billing elsewhere cannot be called a zombie. nil: not per project.
    var inventoriedScopes: Set<InventoryScope>?
    /// Billed cost per resource and day, by column (a month of a large estate is millions of rows).
    var costs = DailyCostTable()
    /// Resources billed in `costs` that are gone now (a FOCUS export's resources without usage
    /// on its last day): not served, but their billed days keep the tenant and team their tags
    /// and the allocation rules give them.
    var formerResources: [Resource] = []
    /// `costs` as values, for sources with a few rows and for tests.
    var dailyCosts: [DailyCost] {
        get { costs.rows }
        set { costs = DailyCostTable(newValue) }
    }
    var utilization: [UtilizationSample] = []
    var capacity: [CapacitySample] = []
    /// Daily used amounts behind `capacity`, oldest first: what exhaustion forecasts fit.
    var capacityHistory: [CapacityPoint] = []
    var accounts: [AccountBalance] = []
    /// Provider → the server sizes it sells with prices: what rightsizing picks from.
    var flavors: [String: [Flavor]] = [:]
    /// Line items whose service no taxonomy table knows (billed as category `other`).
    var unclassifiedLineItems = 0
    /// Resources a price list has no price for (`type: openstack`): listed, costing nothing
    /// known, and counted so that they are seen.
    var unpriced: [UnpricedCount] = []
    /// Endpoints that failed while the rest of the collection succeeded; counted in
    /// `infrazen_sync_errors_total`, not fatal.
    var endpointFailures: [SyncFailure] = []
    /// What the source's input was, for a source that can tell cheaply (file sizes and
    /// modification times): the same fingerprint next time means nothing changed.
    var fingerprint: String?
    /// The input is the one the last good sync read (`window.previousFingerprint`): the rest
    /// of this snapshot is empty, and the last good data stays as it is.
    var unchanged = false

}

struct CapacityPoint: Sendable, Codable, Hashable {
    var scope: String
    var dimension: String
    var day: LocalDay
    var used: Double
}

struct AccountBalance: Sendable, Codable, Hashable {
    var provider: String
    var account: String
    var balance: Money
    /// The provider's own estimate of days until the account is blocked, when it gives one.
    var daysUntilDepleted: Decimal?
}

/// Provider-specific settings parsed from a source's entry in exporter.yaml.
protocol SourceSettings: Sendable {
    /// The provider account this source reads whole, where two sources reading one account
    /// would count its spend twice (`type:` and account): the config refuses the second.
    var exclusiveAccount: String? { get }
}

extension SourceSettings {
    var exclusiveAccount: String? { nil }
}

/// For a source with nothing to configure beyond the common keys.
struct NoSettings: SourceSettings {}

/// How a `type:` is configured and built. Adding a provider is one folder and one row in
/// `SourceRegistry.kinds`.
struct SourceKind: Sendable {
    /// Keys this type accepts besides the common ones.
    var settingKeys: Set<String>
    var readSettings: @Sendable (Fields, ConfigReader) -> any SourceSettings
    var make: @Sendable (SourceConfig) -> any Source
}

enum SourceRegistry {
    /// Keys every source accepts.
    static let commonKeys: Set<String> = ["name", "type", "interval", "timeout", "retries", "jitter", "shard"]

    static let kinds: [String: SourceKind] = [
        "demo": DemoSource.kind,
        "beget": BegetSource.kind,
        "selectel": SelectelSource.kind,
        "focus": FocusSource.kind,
        "yandex": YandexSource.kind,
        "openstack": OpenStackSource.kind,
        "cloudru": CloudRuSource.kind,
        "focus_sql": FocusSQLSource.kind,
    ]
}

/// The endpoints of one collection that may fail alone: their failures are gathered for
/// `SourceSnapshot.endpointFailures` instead of aborting the sync.
struct EndpointFailures {
    private(set) var all: [SyncFailure] = []

    /// Runs `body`; a `SyncFailure` is kept instead of thrown, unless it `failsTheSync`.
    /// Returns whether it succeeded.
    @discardableResult
    mutating func attempt(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return true
        } catch let failure as SyncFailure where !failure.failsTheSync {
            all.append(failure)
            return false
        }
    }
}
