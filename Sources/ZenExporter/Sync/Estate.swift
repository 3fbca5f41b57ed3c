import CostModel
import Exposition
import Foundation
import NIOCore
import Storage

/// What the exporter knows about one source: its last good data and its sync health.
struct SourceStatus: Sendable {
    struct ErrorKey: Hashable, Sendable {
        var endpoint: String
        var reason: String
    }

    let name: String
    let provider: String
    /// The configured sync interval, exported for "no good sync in three intervals".
    var intervalSeconds: Double = 0
    var resources: [Resource] = []
    /// Each resource's allocation dimensions (tenant, team, environment), in `resources` order.
    var dimensions: [[String: String]] = []
    /// Billed cost per day and scope, from the start of the evaluation's window.
    var history = ScopeHistory()
    /// EffectiveCost per day and scope (FOCUS sources), over the same window.
    var effective: [DailyCost] = []
    /// The input the last good sync read, when the source can tell (see `SourceSnapshot.fingerprint`).
    var fingerprint: String?
    /// The per-resource series as last rendered.
    var fragments = ResourceFragments()
    var extras = SnapshotExtras()
    /// What the last good sync did, per action.
    var actions: [ChangeAction: Int] = [:]
    var hasData = false
    /// nil until the first attempt of this run finishes.
    var up: Bool?
    var lastSuccess: Date?
    var lastAttempt: Date?
    var lastDuration: Double?
    var lastError: String?
    var errors: [ErrorKey: Int] = [:]
}

/// What the exporter knows about one usage query: its last good values and its health.
struct UsageStatus: Sendable {
    let reference: UsageReference
    /// Tenant → value of the last good run; `UsageValue.total` for rows without a tenant.
    var values: [String: Double] = [:]
    var up: Bool?
    var lastSuccess: Date?
    var lastDuration: Double?
    var rejectedRows = 0
    /// Rows since start whose value was not finite, negative or absurd (`UsageValue.isSane`).
    var badValues = 0
    var errors: [String: Int] = [:]

    /// Values come only from a good run (now or restored), which sets `lastSuccess`.
    var hasData: Bool { lastSuccess != nil }

    /// Per-tenant values, the total row left out.
    var tenantValues: [String: Double] { values.filter { $0.key != UsageValue.total } }
}

/// All sources' state, and the exposition rendered from it: each change re-renders once and
/// swaps the cached buffer that `/metrics` serves.
actor Estate {
    private var statuses: [String: SourceStatus]
    private var usage: [UsageReference: UsageStatus]
    private var evaluation = EstateEvaluation()
    /// Readiness as of the exposition last published, so that /-/ready never runs ahead of /metrics.
    private var publishedReady = false
    /// The overview page (`/`), rendered with each publish from what was published.
    private(set) var overviewPage = ByteBuffer()
    /// Changes that await an evaluation (`publish: false`), and how many of them the current
    /// evaluation has seen. Totals come from the evaluation, so an exposition is published
    /// only when the evaluation has seen every such change: a source is never shown up with
    /// its resources but without its share of the totals.
    private var changes = 0
    private var evaluatedChanges = 0
    nonisolated let renderer: EstateRenderer
    nonisolated let exposition: ExpositionCache

    init(sources: [(name: String, provider: String, intervalSeconds: Double)], usage: [UsageReference] = [], renderer: EstateRenderer) {
        statuses = Dictionary(uniqueKeysWithValues: sources.map {
            ($0.name, SourceStatus(name: $0.name, provider: $0.provider, intervalSeconds: $0.intervalSeconds))
        })
        self.usage = Dictionary(usage.map { ($0, UsageStatus(reference: $0)) }, uniquingKeysWith: { first, _ in first })
        self.renderer = renderer
        exposition = ExpositionCache()
        exposition.publish(renderer.render(Array(statuses.values), Array(self.usage.values), EstateEvaluation()))
        // A shard that owns no source has nothing to wait for: what it serves is all there is.
        publishedReady = statuses.isEmpty
        overviewPage = ByteBuffer(string: LandingPage.html(sources: statuses.values.sorted { $0.name < $1.name }, evaluation: EstateEvaluation(),
                                                           series: exposition.rendered.series, timeZone: renderer.reporting.timeZone,
                                                           shard: renderer.shard))
    }

    /// Evaluates the statuses as they are now and publishes the result, unless a landing
    /// published meanwhile with an evaluation that saw more (`land`): this one would take that
    /// landing's source out of the totals until the next sync.
    func evaluate(_ make: @Sendable ([SourceStatus], [UsageStatus]) async -> EstateEvaluation) async {
        let seen = changes
        let evaluation = await make(all, allUsage)
        guard seen >= evaluatedChanges else { return }
        evaluatedChanges = seen
        self.evaluation = evaluation
        publishNow()
    }

    /// An evaluation made ahead of the changes it includes, and how many changes the
    /// estate had then: it may be published with them only if no other change came since.
    struct PreparedEvaluation: Sendable {
        let evaluation: EstateEvaluation
        let seen: Int
    }

    typealias StatusChange = @Sendable (inout SourceStatus) -> Void

    /// Evaluates the statuses as they will be once `pending` lands, without changing or
    /// publishing anything: a sync evaluates while its database write is still running, and a
    /// restart while the per-resource series are still rendering.
    func prepareEvaluation(of pending: [String: StatusChange], _ make: @Sendable ([SourceStatus], [UsageStatus]) async -> EstateEvaluation) async -> PreparedEvaluation {
        let seen = changes
        var future = statuses
        for (source, change) in pending {
            guard var status = future[source] else { continue }
            change(&status)
            future[source] = status
        }
        let sorted = future.values.sorted { $0.name < $1.name }
        return PreparedEvaluation(evaluation: await make(sorted, allUsage), seen: seen)
    }

    /// Lands `pending` and publishes it with the evaluation made ahead of it, when nothing
    /// else changed meanwhile. Otherwise lands it unpublished and returns false: the caller
    /// evaluates again, over everything.
    func land(_ pending: [String: StatusChange], with prepared: PreparedEvaluation) -> Bool {
        for (source, change) in pending {
            guard var status = statuses[source] else { continue }
            change(&status)
            statuses[source] = status
        }
        // Landing is a change too: an evaluation made ahead of another landing, before this
        // one, does not include it and must not be published after it.
        let unchangedMeanwhile = changes == prepared.seen
        changes += 1
        guard unchangedMeanwhile else { return false }
        evaluation = prepared.evaluation
        evaluatedChanges = changes
        publishNow()
        return true
    }

    /// Changes one usage query's state; `publish` false leaves re-rendering to the evaluation that follows.
    func updateUsage(_ reference: UsageReference, publish: Bool = true, _ change: (inout UsageStatus) -> Void) {
        guard var status = usage[reference] else { return }
        change(&status)
        usage[reference] = status
        if publish { publishNow() } else { changes += 1 }
    }

    func usageStatus(of reference: UsageReference) -> UsageStatus? { usage[reference] }

    var allUsage: [UsageStatus] {
        usage.values.sorted { ($0.reference.usage, $0.reference.dimension) < ($1.reference.usage, $1.reference.dimension) }
    }

    /// Changes one source's state; `publish` false leaves re-rendering to a following
    /// `setEvaluation`, so that one sync renders the exposition once.
    func update(_ source: String, publish: Bool = true, _ change: (inout SourceStatus) -> Void) {
        guard var status = statuses[source] else { return }
        change(&status)
        statuses[source] = status
        if publish { publishNow() } else { changes += 1 }
    }

    /// Renders and swaps the exposition, unless an evaluation is still to come for changes
    /// made since the last one: that evaluation publishes, with this change in it.
    private func publishNow() {
        guard evaluatedChanges >= changes else { return }
        exposition.publish(renderer.render(Array(statuses.values), Array(usage.values), evaluation))
        publishedReady = statuses.values.allSatisfy { $0.hasData || $0.up != nil }
        overviewPage = ByteBuffer(string: LandingPage.html(sources: all, usage: allUsage, evaluation: evaluation, series: exposition.rendered.series,
                                                           timeZone: renderer.reporting.timeZone, databaseRecovered: renderer.databaseRecovered,
                                                           shard: renderer.shard))
    }


    func status(of source: String) -> SourceStatus? { statuses[source] }

    /// The evaluation the exposition was last rendered from, in exact decimals.
    var currentEvaluation: EstateEvaluation { evaluation }

    var all: [SourceStatus] { statuses.values.sorted { $0.name < $1.name } }

    /// Ready once every source has restored data or finished a first attempt, and that is published.
    var isReady: Bool { publishedReady }
}
