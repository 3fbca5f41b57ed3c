import CostModel
import Foundation
import Logging
import SourceKit
import Storage

/// Polls each usage source on its own interval, one query at a time, each bounded by the
/// source's timeout. A query that succeeds replaces its values (in memory and in the store);
/// one that fails or times out keeps its last good values, marks itself down and is counted.
struct UsageCollector: Sendable {
    struct Configured: Sendable {
        var config: UsageSourceConfig
        var backend: any UsageBackend
    }

    let sources: [Configured]
    let store: Store
    let estate: Estate
    let reporting: ReportingConfig
    let retentionDays: Int
    let logger: Logger
    /// Runs after each poll of a source: re-evaluates the estate with the new values.
    let evaluate: @Sendable () async -> Void
    var clock: @Sendable () -> Date = { Date() }

    static func references(_ config: ExporterConfig) -> [UsageReference] {
        config.usage.flatMap { usage in usage.queries.map { UsageReference(usage: usage.name, dimension: $0.dimension) } }
    }

    /// Loads each query's last good values so they are served before the first poll.
    func restore() async {
        do {
            for (reference, saved) in try await store.usageValues() {
                // A database written before values were checked may hold ±Inf or absurd ones.
                let sane = saved.values.filter { UsageValue.isSane($0.value) }
                let bad = saved.values.count - sane.count
                if bad > 0 {
                    logger.warning("stored usage values that are not finite, negative or absurd were dropped",
                                   metadata: ["usage": "\(reference.usage)", "dimension": "\(reference.dimension)", "values": "\(bad)"])
                }
                await estate.updateUsage(reference, publish: false) { status in
                    status.values = sane
                    status.badValues += bad
                    status.lastSuccess = saved.fetchedAt
                }
            }
        } catch {
            logger.error("could not restore usage values", metadata: ["error": "\(error)"])
        }
    }

    /// Every usage source on its interval, until cancelled. Restored values still fresh are
    /// not fetched again at once.
    func runForever() async {
        await withTaskGroup(of: Void.self) { group in
            for source in sources {
                group.addTask {
                    let interval = source.config.interval.seconds
                    let statuses = await estate.allUsage.filter { $0.reference.usage == source.config.name }
                    if statuses.allSatisfy(\.hasData), let oldest = statuses.compactMap(\.lastSuccess).min() {
                        let due = interval - clock().timeIntervalSince(oldest)
                        if due > 0 { do { try await Task.sleep(for: .seconds(due)) } catch { return } }
                    }
                    while !Task.isCancelled {
                        await poll(source)
                        do { try await Task.sleep(for: .seconds(interval * Double.random(in: 0.95...1.05))) } catch { return }
                    }
                }
            }
        }
    }

    /// Polls every source once, concurrently (for `sync --once`, `render` and tests).
    func pollAllOnce() async {
        await withTaskGroup(of: Void.self) { group in
            for source in sources { group.addTask { await poll(source) } }
        }
    }

    /// Runs each of the source's queries in turn, then re-evaluates once.
    func poll(_ source: Configured) async {
        for query in source.config.queries {
            await run(query, of: source)
        }
        await evaluate()
    }


    /// Sums a run's rows per tenant. A tenant with a bad value keeps its `previous` (last good)
    /// value, or has none; the bad rows are counted, never stored.
    static func tally(_ rows: [UsageRow], previous: [String: Double]) -> (values: [String: Double], rejected: Int, badValues: Int) {
        var values: [String: Double] = [:]
        var rejected = 0
        var badTenants: Set<String> = []
        var badValues = 0
        for row in rows {
            var tenant = row.tenant ?? UsageValue.total
            if let named = row.tenant, !TenantID.isValid(named) {
                tenant = TenantLimit.other
                rejected += 1
            }
            guard UsageValue.isSane(row.value) else {
                badValues += 1
                badTenants.insert(tenant)
                continue
            }
            values[tenant, default: 0] += row.value
        }
        for (tenant, value) in values where !UsageValue.isSane(value) {  // sane rows summing past the maximum
            badTenants.insert(tenant)
            badValues += 1
        }
        for tenant in badTenants {
            values[tenant] = previous[tenant].flatMap { UsageValue.isSane($0) ? $0 : nil }
        }
        return (values, rejected, badValues)
    }

    private func run(_ query: UsageSourceConfig.Query, of source: Configured) async {
        let reference = UsageReference(usage: source.config.name, dimension: query.dimension)
        let started = ContinuousClock.now
        let timeout = source.config.timeout
        do {
            // The backend stops its own work at the timeout; this guard only catches one that does not.
            let rows = try await withDeadline(timeout + .seconds(2), endpoint: query.dimension) {
                try await source.backend.run(query, timeout: timeout)
            }
            let previous = await estate.allUsage.first { $0.reference == reference }?.values ?? [:]
            let (values, rejected, badValues) = Self.tally(rows, previous: previous)
            if badValues > 0 {
                await estate.updateUsage(reference, publish: false) { $0.badValues += badValues }
                // Neither the values nor the tenants are logged: only how many, and where.
                logger.warning("usage rows with a non-finite, negative or absurd value were counted as bad; their tenants keep their last good values",
                               metadata: ["usage": "\(reference.usage)", "dimension": "\(reference.dimension)", "rows": "\(badValues)"])
            }
            let now = clock()
            try await store.saveUsage(values, source: reference.usage, dimension: reference.dimension, fetchedAt: now,
                                      day: LocalDay(now, in: reporting.timeZone), retentionDays: retentionDays)
            let duration = (ContinuousClock.now - started).seconds
            await estate.updateUsage(reference, publish: false) { status in
                status.values = values
                status.up = true
                status.lastSuccess = now
                status.lastDuration = duration
                status.rejectedRows = rejected
            }
            if rejected > 0 {
                // The values themselves may be e-mails or names: only their number is logged.
                logger.warning("usage rows whose tenant is not an ID were counted as tenant \"other\"", metadata: [
                    "usage": "\(reference.usage)", "dimension": "\(reference.dimension)", "rows": "\(rejected)"])
            }
        } catch {
            if Task.isCancelled { return }  // shutting down, not a failed query
            let failure = error as? SyncFailure ?? SyncFailure(endpoint: query.dimension, reason: error is CancellationError ? "timeout" : "error",
                                                               message: "\(type(of: error))")
            let duration = (ContinuousClock.now - started).seconds
            await estate.updateUsage(reference) { status in
                status.up = false
                status.lastDuration = duration
                status.errors[failure.reason, default: 0] += 1
            }
            logger.warning("usage query failed; serving its last good values", metadata: [
                "usage": "\(reference.usage)", "dimension": "\(reference.dimension)", "location": "\(source.config.location)",
                "reason": "\(failure.reason)", "error": "\(failure.message)"])
        }
    }
}
