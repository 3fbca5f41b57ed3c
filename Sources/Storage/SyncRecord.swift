import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import SourceKit
import Synchronization

extension SyncFailure {
    /// A write the database refused, as `infrazen_sync_errors_total` counts it: endpoint
    /// `storage`, reason `disk_full` when the disk (or the file's page cap) is full, `storage`
    /// otherwise. Retrying cannot help either; the last good data stays served.
    package static func storage(_ error: any Error) -> SyncFailure {
        if let database = error as? DatabaseError, database.resultCode.primaryResultCode == .SQLITE_FULL {
            return SyncFailure(endpoint: "storage", reason: "disk_full",
                               message: "the database is full (no space left on its disk): \(database.message ?? "\(database.resultCode)")")
        }
        return SyncFailure(endpoint: "storage", reason: "storage", message: "\(error)")
    }

    package var isStorage: Bool { endpoint == "storage" }
}

/// What one successful sync hands to the store.
package struct SyncRecord: Sendable {
    package var source: String
    package var provider: String
    package var startedAt: Date
    package var finishedAt: Date
    /// Every resource's change, unchanged ones included (they are counted, not stored).
    package var changes: [ResourceChange]
    /// The source's resources after this sync, stored whole (`ResourceSet`).
    package var resources: [Resource]
    /// The first and last day the source reported costs for (their history is replaced; the
    /// days summed per scope are handed over after this record).
    package var dayRange: (first: LocalDay, last: LocalDay)?
    package var extras: SnapshotExtras
    package var fingerprint: String?
    /// The source's first good sync (nothing restored or synced before): every resource is
    /// created, which the snapshot's count records, so no state row is written per resource.
    package var isFirst = false
    /// EffectiveCost per scope and day (FOCUS), written beside the billed scopes; nil when the
    /// source reports none.
    package var effectiveDays: [DailyCost]?

    /// Changes per action, actions without any left out. Tallied by case first: a
    /// dictionary update per change was 9 ms of a sync of 100,000 resources.
    package var counts: [ChangeAction: Int] {
        var created = 0, updated = 0, deleted = 0, unchanged = 0
        for change in changes {
            switch change.action {
            case .created: created += 1
            case .updated: updated += 1
            case .deleted: deleted += 1
            case .unchanged: unchanged += 1
            }
        }
        let tally: [ChangeAction: Int] = [.created: created, .updated: updated, .deleted: deleted, .unchanged: unchanged]
        return tally.filter { $0.value > 0 }
    }

    package func count(_ action: ChangeAction) -> Int { counts[action] ?? 0 }

    package init(source: String, provider: String, startedAt: Date, finishedAt: Date, changes: [ResourceChange], resources: [Resource], dayRange: (first: LocalDay, last: LocalDay)? = nil, extras: SnapshotExtras, fingerprint: String? = nil, isFirst: Bool = false) {
        self.source = source
        self.provider = provider
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.changes = changes
        self.resources = resources
        self.dayRange = dayRange
        self.extras = extras
        self.fingerprint = fingerprint
        self.isFirst = isFirst
    }
}

/// A value handed to another thread once, which lets go of it when done: the last
/// reference can then be dropped while the sender goes on.
package final class Handed<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>
    package init(_ value: Value) { self.value = Mutex(value) }
    package func take() -> Value? { value.withLock { taken in defer { taken = nil }; return taken } }
}

/// Part of a sync (its record, its per-scope sums) handed over to a commit that is already
/// running (`Store.commit(source:costs:then:scopes:retention:)`): the database thread waits
/// for it inside its transaction. Fulfilled or abandoned once; the first call wins.
package final class Pending<Value: Sendable>: Sendable {
    package init() {}

    private let handed = DispatchSemaphore(value: 0)
    /// nil until handed over; then the value, or nil inside when abandoned.
    private let slot = Mutex<Value??>(nil)

    package func fulfill(_ value: Value) { hand(value) }

    /// The sync will not land (it failed or was cancelled before this part was complete).
    package func abandon() { hand(nil) }

    private func hand(_ value: Value?) {
        let first = slot.withLock { current in
            guard current == nil else { return false }
            current = .some(value)
            return true
        }
        if first { handed.signal() }
    }

    /// Blocks the calling (database) thread until the value is handed over.
    package func wait() -> Value? {
        handed.wait()
        handed.signal()  // later waits return at once
        return slot.withLock { $0 ?? nil }
    }
}

/// The parts of a snapshot that are not per-resource rows.
package struct SnapshotExtras: Sendable, Codable {
    package var accounts: [AccountBalance] = []
    package var utilization: [UtilizationSample] = []
    package var capacity: [CapacitySample] = []
    package var capacityHistory: [CapacityPoint] = []
    package var flavors: [String: [Flavor]] = [:]
    package var unclassifiedLineItems = 0
    package var unpriced: [UnpricedCount] = []
    /// Commitment discounts, coverage and invoices by day (FOCUS sources).
    package var commitments: CommitmentLedger?
    /// The effective run rate (FOCUS EffectiveCost of the last day's usage).
    package var effectiveRates: [EffectiveRate]?

    package init(accounts: [AccountBalance] = [], utilization: [UtilizationSample] = [], capacity: [CapacitySample] = [],
         capacityHistory: [CapacityPoint] = [], flavors: [String: [Flavor]] = [:], unclassifiedLineItems: Int = 0,
         unpriced: [UnpricedCount] = [], commitments: CommitmentLedger? = nil, effectiveRates: [EffectiveRate]? = nil) {
        self.unpriced = unpriced
        self.commitments = commitments
        self.effectiveRates = effectiveRates
        self.accounts = accounts
        self.utilization = utilization
        self.capacity = capacity
        self.capacityHistory = capacityHistory
        self.flavors = flavors
        self.unclassifiedLineItems = unclassifiedLineItems
    }

    package init(_ snapshot: SourceSnapshot) {
        self.init(accounts: snapshot.accounts, utilization: snapshot.utilization, capacity: snapshot.capacity,
                  capacityHistory: snapshot.capacityHistory, flavors: snapshot.flavors, unclassifiedLineItems: snapshot.unclassifiedLineItems,
                  unpriced: snapshot.unpriced, commitments: snapshot.commitments, effectiveRates: snapshot.effectiveRates)
    }

    /// Snapshots written before a field existed decode with its default.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try container.decodeIfPresent([AccountBalance].self, forKey: .accounts) ?? []
        utilization = try container.decodeIfPresent([UtilizationSample].self, forKey: .utilization) ?? []
        capacity = try container.decodeIfPresent([CapacitySample].self, forKey: .capacity) ?? []
        capacityHistory = try container.decodeIfPresent([CapacityPoint].self, forKey: .capacityHistory) ?? []
        flavors = try container.decodeIfPresent([String: [Flavor]].self, forKey: .flavors) ?? [:]
        unclassifiedLineItems = try container.decodeIfPresent(Int.self, forKey: .unclassifiedLineItems) ?? 0
        unpriced = try container.decodeIfPresent([UnpricedCount].self, forKey: .unpriced) ?? []
        commitments = try container.decodeIfPresent(CommitmentLedger.self, forKey: .commitments)
        effectiveRates = try container.decodeIfPresent([EffectiveRate].self, forKey: .effectiveRates)
    }
}

package struct RestoredSnapshot: Sendable {
    package var id: Int64
    package var finishedAt: Date
    package var resources: [Resource]
    package var extras: SnapshotExtras
    package var actions: [ChangeAction: Int]
    package var fingerprint: String?

    package init(id: Int64, finishedAt: Date, resources: [Resource], extras: SnapshotExtras, actions: [ChangeAction: Int], fingerprint: String? = nil) {
        self.id = id
        self.finishedAt = finishedAt
        self.resources = resources
        self.extras = extras
        self.actions = actions
        self.fingerprint = fingerprint
    }
}
