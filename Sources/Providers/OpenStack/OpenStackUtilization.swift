import CostModel
import Foundation
import Ingest
import SourceKit

/// Gnocchi utilisation for thousands of servers: two requests per server, at most
/// `utilization_concurrency` in flight, and only once per `utilization_interval`; the syncs in
/// between (billing runs every `interval`) reuse each server's last values.
extension OpenStackInventory {
    struct ActiveServer: Sendable {
        var server: OpenStack.Servers.Server
        var region: String
        var project: String
        var scope: InventoryScope { InventoryScope(project: project, region: region) }
    }

    /// A server's last utilisation. `fetchedAt` is nil when the last attempt failed part-way
    /// and there was nothing better to keep: it is asked for again at the next sync.
    struct UtilizationEntry: Sendable {
        var scope: InventoryScope
        var fetchedAt: Date?
        var samples: [UtilizationSample]
    }

    /// Values this old (a fraction of `utilization_interval`) are fetched again: a sync every
    /// `interval` arrives up to 10% early with the default jitter, and should still refresh.
    static let utilizationRefreshAge = 0.9

    /// Samples for every active server: fetched for those whose values are due (never read,
    /// or older than 90% of the interval), kept from earlier syncs for the rest. Requests start
    /// only during the first half of the source's timeout (`started` is when the collection
    /// began), oldest values first: a slow Gnocchi leaves the rest for the next sync instead of
    /// failing this one, and every answer is kept as it arrives. A server whose Gnocchi request
    /// fails is an endpoint failure; its last values, if any, stay.
    func utilization(of servers: [ActiveServer], listedScopes: Set<InventoryScope>, catalogs: [String: Catalog],
                     window: CollectionWindow, started: ContinuousClock.Instant, failures: inout EndpointFailures) async throws -> [UtilizationSample] {
        let now = window.now
        let refreshAfter = options.utilizationInterval.seconds * Self.utilizationRefreshAge
        let due: [ActiveServer] = state.utilization.withLock { cache in
            servers.compactMap { active -> (ActiveServer, Date)? in
                guard let fetchedAt = cache[active.server.id]?.fetchedAt else { return (active, .distantPast) }
                return now.timeIntervalSince(fetchedAt) >= refreshAfter || now < fetchedAt ? (active, fetchedAt) : nil
            }.sorted { $0.1 < $1.1 }.map(\.0)
        }
        let lastStart = started + http.timeout / 2
        let dates = ISO8601Dates()
        let query = "details=false&granularity=300&start=\(dates.string(now.addingTimeInterval(-7 * 86_400)))&stop=\(dates.string(now))"
        let newFailures = try await withThrowingTaskGroup(of: Fetched.self) { group in
            var next = 0
            func launch(_ group: inout ThrowingTaskGroup<Fetched, any Error>) {
                guard next < due.count, ContinuousClock.now < lastStart else { return }
                let active = due[next]
                next += 1
                group.addTask { try await utilization(of: active, query: query, catalog: catalogs[active.project] ?? [:]) }
            }
            for _ in 0..<options.utilizationConcurrency { launch(&group) }
            var failed: [SyncFailure] = []
            while let result = try await group.next() {
                let id = result.active.server.id
                state.utilization.withLock { cache in
                    if result.failure == nil {
                        cache[id] = UtilizationEntry(scope: result.active.scope, fetchedAt: now, samples: result.samples)
                    } else if cache[id]?.fetchedAt == nil {
                        cache[id] = UtilizationEntry(scope: result.active.scope, fetchedAt: nil, samples: result.samples)
                    }
                }
                if let failure = result.failure { failed.append(failure) }
                launch(&group)
            }
            return failed
        }
        for failure in newFailures { try await failures.attempt { throw failure } }

        return state.utilization.withLock { cache in
            // Forget servers gone from a project's region whose list was read; keep those of
            // one whose Nova (or token) failed this time.
            let current = Set(servers.map(\.server.id))
            cache = cache.filter { id, entry in current.contains(id) || !listedScopes.contains(entry.scope) }
            return servers.flatMap { cache[$0.server.id]?.samples ?? [] }
        }
    }

    struct Fetched: Sendable {
        var active: ActiveServer
        var samples: [UtilizationSample]
        var failure: SyncFailure?
    }

    /// The largest utilisation taken (and read as 1): a little over 1 is a measuring artefact
    /// (rates between samples, memory beyond the flavour's by the guest's own accounting); far
    /// over it, negative or not finite is a bad value.
    static let maxUtilization = 1.5

    /// Mean CPU percent and memory MB over the last 7 days at Gnocchi's 300 s granularity.
    private func utilization(of active: ActiveServer, query: String, catalog: Catalog) async throws -> Fetched {
        let endpoint = "gnocchi/\(active.region)"
        let operations = [
            (UtilizationSample.Dimension.cpu, "(max (metric cpu_util mean) (/ (clip_min (rateofchangesec (metric cpu_average mean)) 0) 10000000))"),
            (.memory, "(metric memory.usage mean)"),
        ]
        var samples: [UtilizationSample] = []
        // A cloud without Gnocchi in this region has no utilisation to give; that is no failure.
        guard let metric = url("metric", active.scope, catalog) else { return Fetched(active: active, samples: [], failure: nil) }
        do {
            for (dimension, operation) in operations {
                let body = try JSONSerialization.data(withJSONObject: ["operations": operation, "search": "id=\(active.server.id)", "resource_type": "generic"])
                let response = try await openstack("\(metric)/v1/aggregates?\(query)", project: active.project,
                                                   endpoint: endpoint, body: body)
                let values = try http.decode(OpenStack.Aggregates.self, from: response, endpoint: endpoint).values
                guard !values.isEmpty else { continue }
                let mean = values.reduce(0, +) / Double(values.count)
                let ratio = dimension == .cpu ? mean / 100 : mean / Double(max(1, active.server.flavor?.ram ?? 0))
                guard ratio.isFinite, (0...Self.maxUtilization).contains(ratio) else {
                    throw SyncFailure(endpoint: endpoint, reason: SyncFailure.badValue,
                                      message: "\(endpoint): server \(active.server.id) \(dimension.rawValue) utilisation \(ratio) is not a ratio between 0 and 1; its last values are kept")
                }
                samples.append(UtilizationSample(resourceID: active.server.id, dimension: dimension, ratio: min(1, ratio)))
            }
            return Fetched(active: active, samples: samples, failure: nil)
        } catch let failure as SyncFailure {
            return Fetched(active: active, samples: samples, failure: failure)
        }
    }
}
