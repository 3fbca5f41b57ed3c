import CostModel
import Foundation
import Ingest
import Logging
import SourceKit
import Storage

/// A collected snapshot reconciled, stored, rendered and published (or, unchanged, only recorded).
extension SyncEngine {
    /// Reconciles, stores, evaluates and publishes one good snapshot. The sync's duration
    /// covers all of it, from the first request to the published exposition.
    func commit(_ collected: consuming SourceSnapshot, of configured: Configured, started: Date, startedInstant: ContinuousClock.Instant,
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
        var record = SyncRecord(source: name, provider: configured.source.provider, startedAt: started, finishedAt: now,
                                changes: changes, resources: resources, dayRange: dayRange, extras: extras, fingerprint: snapshot.fingerprint,
                                isFirst: previous?.hasData != true)
        record.effectiveDays = snapshot.effectiveDays
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
        let historyStart = EstateEvaluation.historyStart(config: config, today: Self.historyToday(updatedHistory, now: now, config: config))
        updatedHistory.drop(before: historyStart)
        let history = updatedHistory
        // The effective days the snapshot covers replace the held ones; days outside it stay.
        var updatedEffective = previous?.effective ?? []
        if let days = snapshot.effectiveDays {
            if let range = dayRange { updatedEffective.removeAll { $0.day >= range.first && $0.day <= range.last } }
            updatedEffective += days
            updatedEffective.removeAll { $0.day < historyStart }
        }
        let effective = updatedEffective
        snapshot.effectiveDays = nil
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
            status.effective = effective
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
        let prepared = await prepareEvaluation(of: [name: landing])
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
        }], with: prepared)
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
    func commitUnchanged(_ snapshot: SourceSnapshot, of configured: Configured, started: Date, finished: Date,
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
