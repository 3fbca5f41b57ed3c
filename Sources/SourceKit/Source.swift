import CostModel
import Foundation

/// One configured spend source: a provider connector behind one method, as node_exporter's
/// collectors sit behind `Update`. A connector converts provider units at its edge and never
/// lets a credential into the snapshot it returns.
package protocol Source: Sendable {
    /// The `provider` label of the source itself (`demo`, `selectel`, …).
    var provider: String { get }
    /// Whether the source retries each request itself (`ProviderClient`, with `retries` of
    /// the source's config). The engine then makes one attempt per sync, so that a failing
    /// endpoint is called `retries + 1` times and not that squared.
    var retriesRequests: Bool { get }
    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot
}

extension Source {
    package var retriesRequests: Bool { false }
}

/// What a sync asks of a source.
package struct CollectionWindow: Sendable {
    package var now: Date
    /// Days of daily cost history to fetch (the daemon keeps its own beyond that).
    package var historyDays: Int
    package var reporting: ReportingConfig
    /// The fingerprint of the source's last good sync (see `SourceSnapshot.fingerprint`).
    package var previousFingerprint: String? = nil

    package init(now: Date, historyDays: Int, reporting: ReportingConfig, previousFingerprint: String? = nil) {
        self.now = now
        self.historyDays = historyDays
        self.reporting = reporting
        self.previousFingerprint = previousFingerprint
    }
}

/// Everything one successful collection returned, in model types.
package struct SourceSnapshot: Sendable {
    package var billing: [BillingLineItem] = []
    package var inventory: [InventoryItem] = []
    /// Resources the billing describes itself (a FOCUS export), listed on `listedAt`: taken
    /// as they are by `Reconciliation.reconcile(described:listedAt:)`, in place of `billing`
    /// and `inventory`.
    package var described: (resources: [Resource], listedAt: Date)?
    /// Resource types the inventory covers; only these can be zombies.
    package var inventoriedTypes: Set<String> = []
    /// Regions whose inventory failed this time; billing there cannot be called a zombie.
    package var uninventoriedRegions: Set<String> = []
    /// For inventories read per project (Selectel): the project × region inventories that
    /// answered; billing elsewhere cannot be called a zombie. nil: not per project.
    package var inventoriedScopes: Set<InventoryScope>?
    /// Billed cost per resource and day, by column (a month of a large estate is millions of rows).
    package var costs = DailyCostTable()
    /// Resources billed in `costs` that are gone now (a FOCUS export's resources without usage
    /// on its last day): not served, but their billed days keep the tenant and team their tags
    /// and the allocation rules give them.
    package var formerResources: [Resource] = []
    /// `costs` as values, for sources with a few rows and for tests.
    package var dailyCosts: [DailyCost] {
        get { costs.rows }
        set { costs = DailyCostTable(newValue) }
    }
    package var utilization: [UtilizationSample] = []
    package var capacity: [CapacitySample] = []
    /// Daily used amounts behind `capacity`, oldest first: what exhaustion forecasts fit.
    package var capacityHistory: [CapacityPoint] = []
    package var accounts: [AccountBalance] = []
    /// Provider → the server sizes it sells with prices: what rightsizing picks from.
    package var flavors: [String: [Flavor]] = [:]
    /// Line items whose service no taxonomy table knows (billed as category `other`).
    package var unclassifiedLineItems = 0
    /// Resources a price list has no price for (`type: openstack`): listed, costing nothing
    /// known, and counted so that they are seen.
    package var unpriced: [UnpricedCount] = []
    /// Endpoints that failed while the rest of the collection succeeded; counted in
    /// `infrazen_sync_errors_total`, not fatal.
    package var endpointFailures: [SyncFailure] = []
    /// What the source's input was, for a source that can tell cheaply (file sizes and
    /// modification times): the same fingerprint next time means nothing changed.
    package var fingerprint: String?
    /// EffectiveCost (amortised) per scope and day, resource IDs empty (FOCUS); nil when the
    /// source reports none.
    package var effectiveDays: [DailyCost]?
    /// The effective (amortised) run rate: a day's usage EffectiveCost per provider, category,
    /// resource type and currency (FOCUS); nil when the source reports none.
    package var effectiveRates: [EffectiveRate]?
    /// Commitment discounts, coverage and invoices (FOCUS 1.1 and later), by day.
    package var commitments: CommitmentLedger?
    /// The input is the one the last good sync read (`window.previousFingerprint`): the rest
    /// of this snapshot is empty, and the last good data stays as it is.
    package var unchanged = false

    package init() {}
}

/// Resources a price list has no price for, by resource type and the flavour or type that was
/// looked up (empty for the single-price kinds): `infrazen_unpriced_resources`.
package struct UnpricedCount: Sendable, Codable, Hashable {
    package struct Key: Hashable {
        package var resourceType: String
        package var priceKey: String

        package init(resourceType: String, priceKey: String) {
            self.resourceType = resourceType
            self.priceKey = priceKey
        }
    }
    package var resourceType: String
    package var priceKey: String
    package var count: Int

    package init(resourceType: String, priceKey: String, count: Int) {
        self.resourceType = resourceType
        self.priceKey = priceKey
        self.count = count
    }
}

/// A day's usage EffectiveCost of one provider, category, resource type and currency: what
/// `infrazen_effective_cost_monthly` makes a month of.
package struct EffectiveRate: Sendable, Codable, Hashable {
    package struct Key: Sendable, Codable, Hashable, Comparable {
        package var provider: String
        package var category: CostCategory
        package var resourceType: String
        package var currency: Currency

        package init(provider: String, category: CostCategory, resourceType: String, currency: Currency) {
            self.provider = provider
            self.category = category
            self.resourceType = resourceType
            self.currency = currency
        }

        package static func < (a: Key, b: Key) -> Bool {
            (a.provider, a.category.rawValue, a.resourceType, a.currency.code) < (b.provider, b.category.rawValue, b.resourceType, b.currency.code)
        }
    }

    package var key: Key
    package var dailyMicros: Int64

    package init(key: Key, dailyMicros: Int64) {
        self.key = key
        self.dailyMicros = dailyMicros
    }
}

package struct CapacityPoint: Sendable, Codable, Hashable {
    package var scope: String
    package var dimension: String
    package var day: LocalDay
    package var used: Double

    package init(scope: String, dimension: String, day: LocalDay, used: Double) {
        self.scope = scope
        self.dimension = dimension
        self.day = day
        self.used = used
    }
}

package struct AccountBalance: Sendable, Codable, Hashable {
    package var provider: String
    package var account: String
    package var balance: Money
    /// The provider's own estimate of days until the account is blocked, when it gives one.
    package var daysUntilDepleted: Decimal?

    package init(provider: String, account: String, balance: Money, daysUntilDepleted: Decimal? = nil) {
        self.provider = provider
        self.account = account
        self.balance = balance
        self.daysUntilDepleted = daysUntilDepleted
    }
}

/// Provider-specific settings parsed from a source's entry in exporter.yaml.
package protocol SourceSettings: Sendable {
    /// The provider account this source reads whole, where two sources reading one account
    /// would count its spend twice (`type:` and account): the config refuses the second.
    var exclusiveAccount: String? { get }
}

extension SourceSettings {
    package var exclusiveAccount: String? { nil }
}

/// For a source with nothing to configure beyond the common keys.
package struct NoSettings: SourceSettings {
    package init() {}
}

/// How a `type:` is configured and built. Adding a provider is one target (Sources/Providers/<Name>) and one row in
/// `SourceRegistry.kinds`.
package struct SourceKind: Sendable {
    /// Keys this type accepts besides the common ones.
    package var settingKeys: Set<String>
    package var readSettings: @Sendable (Fields, ConfigReader) -> any SourceSettings
    package var make: @Sendable (SourceConfig) -> any Source

    package init(settingKeys: Set<String>, readSettings: @escaping @Sendable (Fields, ConfigReader) -> any SourceSettings, make: @escaping @Sendable (SourceConfig) -> any Source) {
        self.settingKeys = settingKeys
        self.readSettings = readSettings
        self.make = make
    }
}

/// The endpoints of one collection that may fail alone: their failures are gathered for
/// `SourceSnapshot.endpointFailures` instead of aborting the sync.
package struct EndpointFailures {
    package private(set) var all: [SyncFailure] = []

    package init() {}

    /// Runs `body`; a `SyncFailure` is kept instead of thrown, unless it `failsTheSync`.
    /// Returns whether it succeeded.
    @discardableResult
    package mutating func attempt(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return true
        } catch let failure as SyncFailure where !failure.failsTheSync {
            all.append(failure)
            return false
        }
    }
}
