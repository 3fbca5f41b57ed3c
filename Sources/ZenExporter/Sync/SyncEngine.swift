import CostModel
import Foundation
import Logging

/// Runs each source on its own schedule: collect with a timeout, retry with backoff, then
/// reconcile, commit and publish. A failing source only marks itself down; its last good
/// data stays served and the other sources carry on.
struct SyncEngine: Sendable {
    struct Configured: Sendable {
        var config: SourceConfig
        var source: any Source
    }

    let config: ExporterConfig
    var sources: [Configured]
    let store: Store
    let estate: Estate
    let evaluationGate = EvaluationGate()
    let fxRates: FXRates
    let logger: Logger
    /// Base of the exponential backoff between attempts.
    var retryBase: Duration = .seconds(1)
    var clock: @Sendable () -> Date = { Date() }

    /// `databaseMovedAside`: the database could not be read at start and was moved aside
    /// (`DatabaseGuard.open`), exported as `infrazen_database_recovered`.
    /// A sharded config (`shard`) runs only what its shard owns (`ownedByShard`).
    init(config whole: ExporterConfig, store: Store, logger: Logger, databaseMovedAside: Bool = false) {
        let config = whole.ownedByShard
        self.config = config
        self.store = store
        self.logger = logger
        fxRates = FXRates(config: config.fx, reporting: config.reporting.currency, store: store, retentionDays: config.storage.retentionDays)
        var configured = config.sources
        if !config.items.isEmpty { configured.append(ManualItemsSource.config(config.items, hoursPerMonth: config.reporting.hoursPerMonth)) }
        sources = configured.map { Configured(config: $0, source: $0.makeSource()) }
        var renderer = EstateRenderer(metrics: config.metrics, reporting: config.reporting, build: .current, items: config.items)
        renderer.databaseRecovered = databaseMovedAside
        renderer.shard = config.shard
        estate = Estate(sources: sources.map { ($0.config.name, $0.source.provider, $0.config.interval.seconds) },
                        usage: UsageCollector.references(config), renderer: renderer)
    }

    /// The usage sources (CHOM tenants and capacity), sharing this engine's store and estate.
    var usage: UsageCollector {
        UsageCollector(sources: config.usage.map { .init(config: $0, backend: UsageBackends.make($0)) }, store: store, estate: estate,
                       reporting: config.reporting, retentionDays: config.storage.retentionDays, logger: logger,
                       evaluate: { await evaluate() }, clock: clock)
    }

    /// Loads each source's newest good snapshot so `/metrics` serves it before any sync.
    /// `evaluate` false skips the cost model, for a caller that syncs right after.
    func restore(evaluate shouldEvaluate: Bool = true) async {
        await fxRates.restore()
        await usage.restore()
        let now = clock()
        let historyStart = EstateEvaluation.historyStart(config: config, now: now)
        // Scopes carry tenants and teams: summed under other allocation rules (or by an older
        // version that stored no scopes), they are summed again from the per-resource rows.
        let labelling = allocationFingerprint
        let relabel = (try? await store.meta(Self.scopeLabelsKey)) != labelling
        var relabelled = true
        var restored: [(source: String, resources: [Resource], dimensions: [[String: String]], utilization: [UtilizationSample])] = []
        for configured in sources {
            let name = configured.config.name
            do {
                guard let snapshot = try await store.latestSnapshot(source: name) else { continue }
                let dimensions = dimensions(source: name, resources: snapshot.resources)
                var history = try await store.scopeHistory(source: name, from: historyStart)
                if relabel, let stored = try await store.resourceDayRange(source: name) {
                    // A month at a time, so that memory stays bounded whatever the history.
                    let labels = Self.labels(snapshot.resources, dimensions)
                    var first = stored.first
                    while first <= stored.last {
                        let last = min(first.adding(days: 30), stored.last)
                        let days = try await store.resourceCosts(source: name, from: first, through: last).scopeDays(labels: labels)
                        try await store.replaceScopeHistory(source: name, days: days, from: first, through: last)
                        history.replace(from: first, through: last, with: days)
                        first = last.adding(days: 1)
                    }
                    history.drop(before: historyStart)
                    logger.info("summed the daily history per scope again under the current allocation rules",
                                metadata: ["source": "\(name)", "from": "\(stored.first)", "through": "\(stored.last)"])
                }
                await estate.update(name, publish: false) { status in
                    status.resources = snapshot.resources
                    status.dimensions = dimensions
                    status.history = history
                    status.fingerprint = snapshot.fingerprint
                    status.extras = snapshot.extras
                    status.actions = snapshot.actions
                    status.lastSuccess = snapshot.finishedAt
                    status.hasData = true
                }
                restored.append((name, snapshot.resources, dimensions, snapshot.extras.utilization))
                logger.info("restored last snapshot", metadata: ["source": "\(name)", "snapshot": "\(snapshot.id)",
                                                                 "resources": "\(snapshot.resources.count)"])
            } catch {
                relabelled = false
                logger.error("could not restore the last snapshot", metadata: ["source": "\(name)", "error": "\(error)"])
            }
        }
        await pruneRemovedSources()
        if relabel && relabelled {
            do { try await store.setMeta(Self.scopeLabelsKey, labelling) } catch {
                logger.error("could not record the allocation rules the scopes were summed under", metadata: ["error": "\(error)"])
            }
        }
        // Each source's series render while the evaluation runs; the first exposition has both.
        let renderer = estate.renderer
        let rendering = restored
        async let fragments = rendering.map { source in
            (source.source, renderer.fragments(source: source.source, resources: source.resources, dimensions: source.dimensions,
                                               utilization: source.utilization))
        }
        let ahead: Estate.Ahead? = shouldEvaluate ? await evaluate(ahead: [:]) : nil
        var landing: [String: Estate.StatusChange] = [:]
        for (source, rendered) in await fragments { landing[source] = { $0.fragments = rendered } }
        if let ahead {
            await land(landing, evaluatedAhead: ahead)
        } else {
            for (source, change) in landing { await estate.update(source, publish: false, change) }
        }
    }

    static let scopeLabelsKey = "scope_labels"

    /// The day the history kept in memory is counted back from: today, but never past the
    /// newest billed day, as in the database (`PruneReference`): a clock that jumps ahead
    /// must not drop days that month-to-date and forecasts read once it is back.
    static func historyToday(_ history: ScopeHistory, now: Date, config: ExporterConfig) -> LocalDay {
        let today = LocalDay(now, in: config.reporting.timeZone)
        return history.lastDay.map { min(today, $0) } ?? today
    }

    /// Deletes the stored data of sources and usage queries no longer in the config once their
    /// last sync or poll is `storage.removed_source_days` old (at start, then daily), with a
    /// log line each.
    func pruneRemovedSources() async {
        let days = config.storage.removedSourceDays
        do {
            let deleted = try await store.pruneRemovedSources(keeping: Set(sources.map(\.config.name)), now: clock(), graceDays: days)
            for (source, rows) in deleted.sorted(by: { $0.key < $1.key }) {
                logger.warning("deleted the stored data of a source no longer in the config",
                               metadata: ["source": "\(source)", "rows": "\(rows)", "removed_source_days": "\(days)"])
            }
        } catch {
            logger.error("could not delete the data of sources no longer in the config", metadata: ["error": "\(error)"])
        }
        do {
            let deleted = try await store.pruneRemovedUsage(keeping: Set(UsageCollector.references(config)), now: clock(), graceDays: days)
            for (reference, rows) in deleted.sorted(by: { $0.key.description < $1.key.description }) {
                logger.warning("deleted the stored values of a usage query no longer in the config",
                               metadata: ["usage": "\(reference)", "rows": "\(rows)", "removed_source_days": "\(days)"])
            }
        } catch {
            logger.error("could not delete the values of usage queries no longer in the config", metadata: ["error": "\(error)"])
        }
    }

    /// How long to wait before the first sync after a start: what is left of the interval
    /// since the last good sync, spread by the jitter. A last sync stamped in the future (the
    /// clock was ahead then) counts as just now, not as a wait of years.
    static func firstSyncDelay(lastSuccess: Date, now: Date, interval: Double, jitter: Double) -> Double {
        max(0, interval * (1 + jitter) - max(0, now.timeIntervalSince(lastSuccess)))
    }

    /// What the per-scope history depends on in the config: the tag keys and rules that
    /// name tenants and teams.
    var allocationFingerprint: String {
        let tags = config.allocation.tagKeys.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }
        let rules = config.allocation.rules.map { rule in
            rule.match.map { "\($0.field)~\($0.pattern)" }.joined(separator: "&") + "=>"
                + rule.set.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        return "v1|" + tags.joined(separator: ";") + "|" + rules.joined(separator: ";")
    }

    /// Each resource's tenant, team and environment by the allocation policy (tags, then rules).
    func dimensions(source: String, resources: [Resource]) -> [[String: String]] {
        Allocator(policy: config.allocation, hoursPerMonth: config.reporting.hoursPerMonth)
            .dimensions(of: resources.map { AllocationSubject(source: source, resource: $0) })
    }

    /// Tenant and team by resource ID, for summing daily costs per scope. A resource folded
    /// into another (a VM's disk) is its parent's.
    static func labels(_ resources: [Resource], _ dimensions: [[String: String]]) -> (String) -> (tenant: String, team: String) {
        var byID: [String: (tenant: String, team: String)] = [:]
        byID.reserveCapacity(resources.count)
        for (resource, dims) in zip(resources, dimensions) where !dims.isEmpty {
            let placed = (tenant: dims["tenant"] ?? "", team: dims["team"] ?? "")
            guard !placed.tenant.isEmpty || !placed.team.isEmpty else { continue }
            byID[resource.id] = placed
            for child in resource.folded where byID[child] == nil { byID[child] = placed }
        }
        return { byID[$0] ?? ("", "") }
    }

    /// Recomputes budgets, forecasts, anomalies, allocation and recommendations over every
    /// source's current resources and per-scope history.
    func evaluate() async {
        await evaluationGate.run { await estate.evaluate { statuses, usage in await evaluation(of: statuses, usage: usage) } }
        ReleaseFreedMemory.now()
    }

    /// Evaluates the estate as it will be once `pending` lands (see `Estate.evaluate(ahead:)`).
    private func evaluate(ahead pending: [String: Estate.StatusChange]) async -> Estate.Ahead {
        await evaluationGate.run { await estate.evaluate(ahead: pending) { statuses, usage in await evaluation(of: statuses, usage: usage) } }
    }

    /// Lands `pending` with the evaluation made ahead of it, or evaluates again when another
    /// change came meanwhile.
    private func land(_ pending: [String: Estate.StatusChange], evaluatedAhead ahead: Estate.Ahead) async {
        if await !estate.land(pending, evaluatedAhead: ahead) { await evaluate() } else { ReleaseFreedMemory.now() }
    }

    private func evaluation(of statuses: [SourceStatus], usage: [UsageStatus]) async -> EstateEvaluation {
        let now = clock()
        var usageHistory: [UsageReference: [(day: LocalDay, value: Double)]] = [:]
        for reference in Set(config.capacity.compactMap(\.usedFrom)) {
            do {
                usageHistory[reference] = try await store.usageHistory(reference, from: LocalDay(now, in: config.reporting.timeZone).adding(days: -90))
            } catch {
                logger.error("could not read the usage history", metadata: ["usage": "\(reference)", "error": "\(error)"])
            }
        }
        var usageDays: [UsageReference: [LocalDay: [String: Double]]] = [:]
        if !config.usage.isEmpty {
            let today = LocalDay(now, in: config.reporting.timeZone)
            do {
                usageDays = try await store.usageTenantDays(from: today.firstOfMonth, through: today)
            } catch {
                logger.error("could not read the usage values by day; this month's shared cost is split by today's", metadata: ["error": "\(error)"])
            }
        }
        return EstateEvaluation(sources: statuses, usage: usage, usageHistory: usageHistory, usageDays: usageDays, config: config,
                                fx: await fxRates.history, fxFetchedAt: await fxRates.fetchedAt, now: now)
    }

    /// Fetches exchange rates when they come from the bank; a failure keeps the last good ones.
    func refreshRates() async {
        guard config.fx.source == .cbr else { return }
        if let failure = await fxRates.refresh(now: clock()) {
            logger.warning("exchange rates not refreshed; keeping the last good ones", metadata: ["url": "\(config.fx.url)", "error": "\(failure.message)"])
        }
    }

    /// Every source on its own interval, until cancelled.
    func runForever() async {
        await withTaskGroup(of: Void.self) { group in
            if config.fx.source == .cbr {
                group.addTask {
                    while !Task.isCancelled {
                        await refreshRates()
                        await evaluate()
                        do { try await Task.sleep(for: config.fx.refresh) } catch { return }
                    }
                }
            }
            if !config.usage.isEmpty { group.addTask { await usage.runForever() } }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(86_400)) } catch { return }
                    await pruneRemovedSources()
                }
            }
            for configured in sources {
                group.addTask {
                    let jitter = configured.config.jitterRatio
                    // Restored data that is still fresh is not fetched again at once: the next
                    // sync is due one interval after the last good one, spread by the jitter.
                    if let last = await estate.status(of: configured.config.name)?.lastSuccess {
                        let due = Self.firstSyncDelay(lastSuccess: last, now: clock(), interval: configured.config.interval.seconds,
                                                      jitter: Double.random(in: 0...jitter))
                        if due > 0 { do { try await Task.sleep(for: .seconds(due)) } catch { return } }
                    }
                    while !Task.isCancelled {
                        await sync(configured)
                        let factor = 1 + Double.random(in: -jitter...jitter)
                        do { try await Task.sleep(for: configured.config.interval * factor) } catch { return }
                    }
                }
            }
        }
    }

    /// Syncs every source once, concurrently, then polls the usage sources once. Returns the
    /// names of the sources that failed.
    @discardableResult
    func syncAllOnce() async -> [String] {
        await refreshRates()
        let failed = await withTaskGroup(of: String?.self) { group in
            for configured in sources {
                group.addTask { await sync(configured) ? nil : configured.config.name }
            }
            var failed: [String] = []
            for await name in group { if let name { failed.append(name) } }
            return failed.sorted()
        }
        if !config.usage.isEmpty { await usage.pollAllOnce() }
        return failed
    }

    /// One sync of one source, retries included. Returns whether it succeeded.
    @discardableResult
    func sync(_ configured: Configured) async -> Bool {
        let name = configured.config.name
        let started = clock()
        let startedInstant = ContinuousClock.now
        var failure = SyncFailure(endpoint: "collect", reason: "error", message: "no attempt made")
        // One retry policy: a source whose requests retry themselves gets one attempt here.
        for attempt in 0...(configured.source.retriesRequests ? 0 : configured.config.retries) {
            if attempt > 0 {
                let backoff = retryBase * (pow(2, Double(attempt - 1)) * Double.random(in: 0.5...1.0))
                do { try await Task.sleep(for: backoff) } catch { return false }
            }
            do {
                let collectStarted = ContinuousClock.now
                let snapshot = try await collect(configured)
                // Handed over, not copied: the commit frees what it has reconciled.
                try await commit(consume snapshot, of: configured, started: started, startedInstant: startedInstant,
                                 collectSeconds: (ContinuousClock.now - collectStarted).seconds)
                return true
            } catch is CancellationError {
                return false
            } catch {
                failure = error as? SyncFailure ?? SyncFailure(endpoint: "collect", reason: "error", message: "\(error)")
            }
            logger.warning("sync attempt failed", metadata: ["source": "\(name)", "attempt": "\(attempt + 1)",
                                                           "endpoint": "\(failure.endpoint)", "reason": "\(failure.reason)",
                                                           "error": "\(failure.message)"])
            let key = SourceStatus.ErrorKey(endpoint: failure.endpoint, reason: failure.reason)
            await estate.update(name) { $0.errors[key, default: 0] += 1 }
            // The provider answered; retrying cannot fix a database that refuses the write.
            if failure.isStorage { break }
        }
        let finished = clock()
        let duration = (ContinuousClock.now - startedInstant).seconds
        await estate.update(name) { status in
            status.up = false
            status.lastAttempt = finished
            status.lastDuration = duration
            status.lastError = failure.message
        }
        do {
            try await store.recordFailure(source: name, provider: configured.source.provider, startedAt: started, finishedAt: finished,
                                          error: "\(failure.endpoint): \(failure.message)")
        } catch {
            logger.error("could not record the failed sync", metadata: ["source": "\(name)", "error": "\(error)"])
        }
        logger.error("sync failed; serving the last good data", metadata: ["source": "\(name)", "error": "\(failure.message)"])
        return false
    }

    private func collect(_ configured: Configured) async throws -> SourceSnapshot {
        let status = await estate.status(of: configured.config.name)
        let hasHistory = status?.hasData ?? false
        let window = CollectionWindow(now: clock(), historyDays: hasHistory ? 7 : 90, reporting: config.reporting,
                                      previousFingerprint: hasHistory ? status?.fingerprint : nil)
        return try await withDeadline(configured.config.timeout, endpoint: "collect") {
            try await configured.source.collect(window)
        }
    }

    /// Reconciles, stores, evaluates and publishes one good snapshot. The sync's duration
    /// covers all of it, from the first request to the published exposition.
    private func commit(_ collected: consuming SourceSnapshot, of configured: Configured, started: Date, startedInstant: ContinuousClock.Instant,
                        collectSeconds: Double) async throws {
        var snapshot = collected
        let name = configured.config.name
        let now = clock()
        if snapshot.unchanged {
            try await commitUnchanged(snapshot, of: configured, started: started, finished: now, startedInstant: startedInstant)
            return
        }
        let reconcileStarted = ContinuousClock.now
        // The database writes the per-resource daily costs on its own thread while this one
        // reconciles, then the rest of the record while the series render and this thread
        // sums the scopes and evaluates; nothing is published until the write is done, and a
        // failed write publishes nothing.
        let pending = Pending<SyncRecord>(), pendingScopes = Pending<[LocalDay: ScopeHistory.Day]>()
        let handed = Handed(snapshot.costs)
        async let stored = store.commit(source: name, costs: handed, then: pending, scopes: pendingScopes, retention: config.storage.retention)
        defer {
            pending.abandon()
            pendingScopes.abandon()
        }
        let reconciliation = Reconciliation(inventoriedTypes: snapshot.inventoriedTypes, uninventoriedRegions: snapshot.uninventoriedRegions,
                                            inventoriedScopes: snapshot.inventoriedScopes, orphanMinAge: config.recommendations.orphanMinAge.seconds, now: now)
        let resources = if let described = snapshot.described {
            reconciliation.reconcile(described: described.resources, listedAt: described.listedAt)
        } else {
            reconciliation.reconcile(billing: snapshot.billing, inventory: snapshot.inventory, currency: config.reporting.currency)
        }
        // Reconciled: a large estate's line items and inventory are tens of megabytes that
        // the rest of the sync (rendering, evaluating, storing) does not need.
        snapshot.billing = []
        snapshot.inventory = []
        snapshot.described = nil
        // The record first, so that the database writes the resources while this thread
        // gives them their tenants and sums the days per scope, handed over after.
        let dayRange = snapshot.costs.dayRange, dailyRows = snapshot.costs.count
        let previous = await estate.status(of: name)
        let changes = detectChanges(previous: previous?.resources ?? [], current: resources)
        let extras = SnapshotExtras(snapshot)
        let record = SyncRecord(source: name, provider: configured.source.provider, startedAt: started, finishedAt: now,
                                changes: changes, resources: resources, dayRange: dayRange, extras: extras, fingerprint: snapshot.fingerprint,
                                isFirst: previous?.hasData != true)
        pending.fulfill(record)
        let dimensions = dimensions(source: name, resources: resources)
        // The per-resource series render on a thread of their own while this one sums the
        // days per scope and evaluates: on 2 cores the two halves of the work overlap.
        // Deflated after the publish (below): the new figures are served without waiting for
        // the gzip form of tens of megabytes of per-resource series.
        let renderer = estate.renderer, utilization = extras.utilization
        async let rendered = offCooperativePool { _ in
            let started = ContinuousClock.now
            let fragments = renderer.fragments(source: name, resources: resources, dimensions: dimensions, utilization: utilization,
                                               deflate: .later)
            return (fragments, (ContinuousClock.now - started).seconds)
        }
        // Former resources first: where an ID is both, the current resource's labels win.
        let former = snapshot.formerResources
        let labels = former.isEmpty ? Self.labels(resources, dimensions)
            : Self.labels(former + resources, self.dimensions(source: name, resources: former) + dimensions)
        let scopeDays = snapshot.costs.scopeDays(labels: labels)
        snapshot.costs = DailyCostTable()  // summed, and with the database: tens of MB at 100k resources
        pendingScopes.fulfill(scopeDays)
        let storeStarted = ContinuousClock.now
        let reconcileSeconds = (storeStarted - reconcileStarted).seconds
        var updatedHistory = previous?.history ?? ScopeHistory()
        if let range = dayRange { updatedHistory.replace(from: range.first, through: range.last, with: scopeDays) }
        updatedHistory.drop(before: EstateEvaluation.historyStart(config: config, today: Self.historyToday(updatedHistory, now: now, config: config)))
        let history = updatedHistory
        for failure in snapshot.endpointFailures {
            logger.warning("endpoint failed; the rest of the sync lands", metadata: [
                "source": "\(name)", "endpoint": "\(failure.endpoint)", "reason": "\(failure.reason)", "error": "\(failure.message)"])
        }
        let counts = record.counts
        let fingerprint = snapshot.fingerprint, endpointFailures = snapshot.endpointFailures
        let landing: Estate.StatusChange = { status in
            status.resources = resources
            status.dimensions = dimensions
            status.history = history
            status.fingerprint = fingerprint
            status.extras = extras
            status.actions = counts
            status.hasData = true
            // Until the duration is set after the publish below, the duration so far: the
            // family is there from the first exposition that makes the daemon ready.
            status.lastDuration = (ContinuousClock.now - startedInstant).seconds
            status.up = true
            status.lastSuccess = now
            status.lastAttempt = now
            status.lastError = endpointFailures.first?.description
            for failure in endpointFailures {
                status.errors[.init(endpoint: failure.endpoint, reason: failure.reason), default: 0] += 1
            }
        }
        // The evaluation runs while the database write finishes; nothing is published until
        // the write is done, and a failed write publishes nothing.
        let evaluateStarted = ContinuousClock.now
        // Evaluated without the series, which the evaluation does not read.
        let ahead = await evaluate(ahead: [name: landing])
        let evaluateSeconds = (ContinuousClock.now - evaluateStarted).seconds
        let (fragments, renderSeconds) = try await rendered
        do {
            _ = try await stored
        } catch {
            throw SyncFailure.storage(error)
        }
        let storeSeconds = (ContinuousClock.now - storeStarted).seconds
        await land([name: { status in
            landing(&status)
            status.fragments = fragments
        }], evaluatedAhead: ahead)
        let duration = (ContinuousClock.now - startedInstant).seconds
        let deflated = fragments.withDeflatedForms()
        await estate.update(name) { status in
            status.lastDuration = duration
            // The fragments just published, unless something replaced them meanwhile.
            if status.lastSuccess == now, status.fragments.deflateLater { status.fragments = deflated }
        }
        func seconds(_ value: Double) -> Logger.MetadataValue { "\(String(format: "%.3f", value))" }
        logger.info("sync committed", metadata: [
            "source": "\(name)", "resources": "\(resources.count)", "created": "\(counts[.created] ?? 0)",
            "updated": "\(counts[.updated] ?? 0)", "deleted": "\(counts[.deleted] ?? 0)", "daily_rows": "\(dailyRows)",
            "seconds": seconds(duration),
            // Where the time went: reading the provider, reconciling, storing (rendering the
            // series meanwhile), evaluating and publishing.
            "collect_seconds": seconds(collectSeconds), "reconcile_seconds": seconds(reconcileSeconds),
            "store_seconds": seconds(storeSeconds), "render_seconds": seconds(renderSeconds),
            "evaluate_seconds": seconds(evaluateSeconds),
        ])
    }

    /// The source read the same input as its last good sync: nothing to reconcile or store
    /// beyond the fact, and its data stays as it is. Evaluated again all the same, since
    /// month-to-date and forecasts move with the clock.
    private func commitUnchanged(_ snapshot: SourceSnapshot, of configured: Configured, started: Date, finished: Date,
                                 startedInstant: ContinuousClock.Instant) async throws {
        let name = configured.config.name
        let count = await estate.status(of: name)?.resources.count ?? 0
        do {
            try await store.commitUnchanged(source: name, provider: configured.source.provider, startedAt: started, finishedAt: finished,
                                            resources: count, fingerprint: snapshot.fingerprint)
        } catch {
            throw SyncFailure.storage(error)
        }
        await estate.update(name, publish: false) { status in
            status.actions = [.unchanged: count]
            // The duration so far, until it is set after the publish below: the exposition
            // with this sync's success never shows the previous sync's duration.
            status.lastDuration = (ContinuousClock.now - startedInstant).seconds
            status.up = true
            status.lastSuccess = finished
            status.lastAttempt = finished
            status.lastError = nil
        }
        await evaluate()
        let duration = (ContinuousClock.now - startedInstant).seconds
        await estate.update(name) { $0.lastDuration = duration }
        logger.info("sync found the source unchanged", metadata: ["source": "\(name)", "resources": "\(count)",
                                                                  "seconds": "\(String(format: "%.3f", duration))"])
    }
}

/// Why a sync attempt failed, in the terms of `infrazen_sync_errors_total`.
struct SyncFailure: Error, CustomStringConvertible {
    var endpoint: String
    var reason: String
    var message: String
    /// Fails the whole collection even where its endpoint may fail alone: an amount that cannot
    /// be, or costs in a currency the account does not report. Leaving the endpoint out would
    /// drop its last good data (a balance, a day's costs) from the snapshot, where a failed sync
    /// keeps all of it.
    var failsTheSync = false
    var description: String { "\(endpoint): \(reason): \(message)" }
}

/// Runs one evaluation at a time, in the order asked.
actor EvaluationGate {
    private var running = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<Result: Sendable>(_ body: @Sendable () async -> Result) async -> Result {
        while running { await withCheckedContinuation { waiters.append($0) } }
        running = true
        let result = await body()
        running = false
        if !waiters.isEmpty { waiters.removeFirst().resume() }
        return result
    }
}
