import CostModel
import Foundation
import Ingest
import Logging
import Storage

/// The cost model run over every source after a change, and published with it.
extension SyncEngine {
    /// Recomputes budgets, forecasts, anomalies, allocation and recommendations over every
    /// source's current resources and per-scope history.
    func evaluate() async {
        await evaluationGate.run { await estate.evaluate { statuses, usage in await evaluation(of: statuses, usage: usage) } }
        ReleaseFreedMemory.now()
    }

    /// Evaluates the estate as it will be once `pending` lands (see `Estate.prepareEvaluation(of:)`).
    func prepareEvaluation(of pending: [String: Estate.StatusChange]) async -> Estate.PreparedEvaluation {
        await evaluationGate.run { await estate.prepareEvaluation(of: pending) { statuses, usage in await evaluation(of: statuses, usage: usage) } }
    }

    /// Lands `pending` with the evaluation made ahead of it, or evaluates again when another
    /// change came meanwhile.
    func land(_ pending: [String: Estate.StatusChange], with prepared: Estate.PreparedEvaluation) async {
        if await !estate.land(pending, with: prepared) { await evaluate() } else { ReleaseFreedMemory.now() }
    }

    func evaluation(of statuses: [SourceStatus], usage: [UsageStatus]) async -> EstateEvaluation {
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
        let evaluation = EstateEvaluation(sources: statuses, usage: usage, usageHistory: usageHistory, usageDays: usageDays, config: config,
                                          fx: await fxRates.history, fxFetchedAt: await fxRates.fetchedAt, now: now)
        for pool in evaluation.pools.pools where !pool.overCapacity.isEmpty {
            logger.warning("a pool's capacity is below its driver's total; its idle share is 0 and the driver's values split the whole pool",
                           metadata: ["pool": "\(pool.name)", "usage": "\(pool.overCapacity.joined(separator: ", "))"])
        }
        return evaluation
    }

    /// Fetches exchange rates when they come from the bank; a failure keeps the last good ones.
    func refreshRates() async {
        guard config.fx.source == .cbr else { return }
        if let failure = await fxRates.refresh(now: clock()) {
            logger.warning("exchange rates not refreshed; keeping the last good ones", metadata: ["url": "\(config.fx.url)", "error": "\(failure.message)"])
        }
    }
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
