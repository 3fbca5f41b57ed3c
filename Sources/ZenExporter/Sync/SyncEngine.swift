import CostModel
import Foundation
import Logging
import SourceKit
import Storage

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
                let backoff = Backoff.delay(attempt: attempt, base: retryBase)
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

}
