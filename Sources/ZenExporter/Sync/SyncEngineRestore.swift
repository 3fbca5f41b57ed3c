import CostModel
import Foundation
import Logging

/// Start-up: the last good state restored from the database, the per-scope history summed again
/// when the allocation rules changed, and the sources removed from the config pruned.
extension SyncEngine {
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
                let effective = try await store.effectiveDays(source: name, from: historyStart)
                await estate.update(name, publish: false) { status in
                    status.resources = snapshot.resources
                    status.dimensions = dimensions
                    status.history = history
                    status.effective = effective
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
        let prepared: Estate.PreparedEvaluation? = shouldEvaluate ? await prepareEvaluation(of: [:]) : nil
        var landing: [String: Estate.StatusChange] = [:]
        for (source, rendered) in await fragments { landing[source] = { $0.fragments = rendered } }
        if let prepared {
            await land(landing, with: prepared)
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
        // Pools only when there are some: an estate without them keeps the fingerprint it had.
        let pools = config.allocation.pools.map { pool in
            "\(pool.name):" + pool.tags.sorted { $0.key < $1.key }.map { "tag:\($0.key)=\($0.value)" }.joined(separator: "&") + "&"
                + pool.match.map { "\($0.field)~\($0.pattern)" }.joined(separator: "&")
        }
        return "v1|" + tags.joined(separator: ";") + "|" + rules.joined(separator: ";") + (pools.isEmpty ? "" : "|pools=" + pools.joined(separator: ";"))
    }

    /// Each resource's tenant, team and environment by the allocation policy (tags, then
    /// rules; a pool's resources the pool's). A resource two pools select is logged as the
    /// config error it is, naming both; it is counted in the first.
    func dimensions(source: String, resources: [Resource]) -> [[String: String]] {
        var conflicts: [PoolConflict] = []
        let dimensions = Allocator(policy: config.allocation, hoursPerMonth: config.reporting.hoursPerMonth)
            .dimensions(of: resources.map { AllocationSubject(source: source, resource: $0) }, conflicts: &conflicts)
        for (pools, found) in Dictionary(grouping: conflicts, by: \.pools).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            logger.error("config error: more than one pool selects these resources; they are counted in the first; make the pools' match exclusive",
                         metadata: ["source": "\(source)", "pools": "\(pools.joined(separator: ", "))", "resources": "\(found.count)",
                                    "first": "\(found[0].resourceID)"])
        }
        return dimensions
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
}
