import CostModel
import Exposition
import Foundation
import SourceKit

/// Renders the whole estate, every source's last good state and the exporter's own health,
/// once per sync. Pure: the same state renders to the same bytes.
struct EstateRenderer: Sendable {
    var metrics: MetricsConfig
    var reporting: ReportingConfig
    var build: BuildInfo
    /// The database could not be read at start and was moved aside.
    var databaseRecovered = false
    var items: [ManualItem] = []
    /// Every shard serves its own sources' figures; only the one that owns estate figures
    /// serves those that combine sources (see `Shard.ownsEstateFigures`).
    var shard = Shard.whole

    func render(_ sources: [SourceStatus], _ usage: [UsageStatus] = [], _ evaluation: EstateEvaluation) -> ExpositionWriter {
        // Fragments are joined by reference: the writer's own text is the small part.
        var writer = ExpositionWriter(namespace: metrics.namespace)
        let sources = sources.sorted { $0.name < $1.name }
        if metrics.perResource {
            writer.write(MetricCatalog.resourceCostPerHour, fragments: sources.map(\.fragments.cost))
            writer.write(MetricCatalog.resourceInfo, fragments: sources.map(\.fragments.info))
            writer.write(MetricCatalog.resourceUtilization, fragments: sources.map(\.fragments.utilization))
        }
        writer.write(MetricCatalog.infrastructureCostMonthly, evaluation.runRate.byType.sorted { $0.key < $1.key }.map {
            ($0.key.labels, .decimal($0.value))
        })
        writer.write(MetricCatalog.costMonthToDate, evaluation.monthToDate.lines.map { ($0.line.labels, .decimal($0.amount)) })
        writer.write(MetricCatalog.effectiveCostMonthToDate, evaluation.effectiveMonthToDate.map { ($0.line.labels, .decimal($0.amount)) })
        writer.write(MetricCatalog.effectiveCostMonthly, evaluation.effectiveMonthly.sorted { $0.key < $1.key }.map {
            ($0.key.labels, .decimal($0.value))
        })
        writer.write(MetricCatalog.accountBalance, sources.flatMap { source in
            source.extras.accounts.sorted { ($0.provider, $0.account) < ($1.provider, $1.account) }.map {
                ([source.name, $0.provider, $0.account, $0.balance.currency.code], .decimal($0.balance.amount))
            }
        })
        writer.write(MetricCatalog.accountDaysUntilDepleted, evaluation.runways.map {
            ([$0.source, $0.provider, $0.account], .decimal(($0.days * 86_400).rounded(scale: 0)))
        })
        writeItems(evaluation, into: &writer)
        if shard.ownsEstateFigures {
            writer.write(MetricCatalog.fxRate, evaluation.fx.rates.sorted { $0.key < $1.key }.map {
                ([$0.key.code, evaluation.fx.reporting.code], .decimal($0.value.rounded(scale: 6)))
            })
            if let fetched = evaluation.fxFetchedAt {
                writer.write(MetricCatalog.fxFetched, [([], .double(fetched.timeIntervalSince1970.rounded(.down)))])
                writer.write(MetricCatalog.fxAge, [([], .double(max(0, evaluation.now.timeIntervalSince(fetched)).rounded()))])
            }
        }
        writeEvaluation(evaluation, into: &writer)
        if shard.ownsEstateFigures { writeOwnerFigures(evaluation.owner, into: &writer) }
        writer.write(MetricCatalog.unclassifiedLineItems, sources.filter(\.hasData).map { ([$0.name], .int($0.extras.unclassifiedLineItems)) })
        writer.write(MetricCatalog.unpricedResources, sources.filter(\.hasData).flatMap { source in
            source.extras.unpriced.map { ([source.name, $0.resourceType, $0.priceKey], .int($0.count)) }
        })
        writeSelfMetrics(sources, into: &writer)
        writeUsageHealth(usage.sorted { ($0.reference.usage, $0.reference.dimension) < ($1.reference.usage, $1.reference.dimension) }, into: &writer)
        writer.write(MetricCatalog.expositionSeries, [([], .int(writer.seriesCount))])
        return writer
    }

    /// One source's per-resource series, rendered when it syncs (or is restored) and joined
    /// into every exposition until its next sync: re-rendering 100,000 resources because
    /// another source synced would be most of the work of a publish. `dimensions` are the
    /// allocation's (tags, then rules), the same that `tenant_cost_monthly` sums.
    func fragments(source: String, resources: [Resource], dimensions: [[String: String]], utilization: [UtilizationSample],
                   deflate: FragmentDeflate = .now) -> ResourceFragments {
        var cost = ExpositionWriter(namespace: metrics.namespace, capacity: resources.count * 320)
        var info = ExpositionWriter(namespace: metrics.namespace, capacity: resources.count * 160)
        let costName = cost.qualifiedName(MetricCatalog.resourceCostPerHour)
        let infoName = info.qualifiedName(MetricCatalog.resourceInfo)
        let costPrefixes = ExpositionWriter.labelPrefixes(MetricCatalog.resourceCostPerHour)
        let infoPrefixes = ExpositionWriter.labelPrefixes(MetricCatalog.resourceInfo)
        // One array of label values per family, filled again for each resource: not two
        // arrays made and freed per resource.
        var costLabels = [String](repeating: source, count: costPrefixes.count)
        var infoLabels = [String](repeating: source, count: infoPrefixes.count)
        for (index, resource) in resources.enumerated() {
            let dims = index < dimensions.count ? dimensions[index] : [:]
            costLabels.withUnsafeMutableBufferPointer { labels in
                (labels[1], labels[2], labels[3], labels[4]) = (resource.provider, resource.account, resource.project, resource.region)
                (labels[5], labels[6], labels[7], labels[8]) = (resource.service, resource.category.rawValue, resource.resourceType, resource.id)
                (labels[9], labels[10], labels[11]) = (resource.name, dims.isEmpty ? "" : dims["tenant"] ?? "", dims.isEmpty ? "" : dims["environment"] ?? "")
                labels[12] = resource.rate.currency.code
            }
            cost.writeSample(name: costName, prefixes: costPrefixes, labels: costLabels, value: .perHour(resource.rate))
            infoLabels.withUnsafeMutableBufferPointer { labels in
                (labels[0], labels[2], labels[3]) = (resource.id, resource.status.value, resource.flavor)
                (labels[4], labels[5]) = (resource.isZombie ? "true" : "false", resource.isOrphan ? "true" : "false")
                labels[6] = resource.hostProvider
            }
            info.writeSample(name: infoName, prefixes: infoPrefixes, labels: infoLabels, value: .int(1))
        }
        var usage = ExpositionWriter(namespace: metrics.namespace)
        let usageName = usage.qualifiedName(MetricCatalog.resourceUtilization)
        let usagePrefixes = ExpositionWriter.labelPrefixes(MetricCatalog.resourceUtilization)
        for sample in utilization.sorted(by: { ($0.resourceID, $0.dimension.rawValue) < ($1.resourceID, $1.dimension.rawValue) }) {
            usage.writeSample(name: usageName, prefixes: usagePrefixes, labels: [sample.resourceID, sample.dimension.rawValue],
                              value: .double(sample.ratio))
        }
        return ResourceFragments(cost: cost.fragment(deflate: deflate), info: info.fragment(deflate: deflate),
                                 utilization: usage.fragment(deflate: deflate))
    }


    /// Budgets (each on the shard its config gave it), recommendations and waste are sums per
    /// source and served by every shard; the rest combines sources and is served by one.
    private func writeEvaluation(_ evaluation: EstateEvaluation, into writer: inout ExpositionWriter) {
        if shard.ownsEstateFigures { writeCapacityAndAllocation(evaluation, into: &writer) }
        let budgets = evaluation.budgets
        writer.write(MetricCatalog.budgetAmount, budgets.map { ([$0.budget.name, $0.budget.period.rawValue, $0.budget.amount.currency.code], .decimal($0.budget.amount.amount)) })
        writer.write(MetricCatalog.budgetSpent, budgets.map { ([$0.budget.name, $0.budget.amount.currency.code], .decimal($0.spent.rounded(scale: 2))) })
        writer.write(MetricCatalog.budgetForecast, budgets.map { ([$0.budget.name, $0.budget.amount.currency.code], .decimal($0.forecast)) })
        writer.write(MetricCatalog.budgetUtilization, budgets.map { ([$0.budget.name], .ratio($0.utilization)) })
        writer.write(MetricCatalog.budgetThresholdReached, budgets.flatMap { status in
            status.crossed.map { ([status.budget.name, $0.threshold.plainString], .int($0.reached ? 1 : 0)) }
        })

        if shard.ownsEstateFigures {
            writer.write(MetricCatalog.costForecast, evaluation.forecasts.map { ([$0.scope.name, $0.horizon, $0.currency.code], .decimal($0.amount)) })
            writer.write(MetricCatalog.costAnomalyScore, evaluation.anomalies.map { ([$0.scope.name], .double(($0.score * 1000).rounded() / 1000)) })
            writer.write(MetricCatalog.costDaily, evaluation.dailyCosts.map { ([$0.scope.name, $0.currency.code], .decimal($0.amount)) })
        }

        let recommendations = evaluation.recommendations.sorted {
            ($0.recommendation.kind.rawValue, $0.source, $0.recommendation.resourceID) < ($1.recommendation.kind.rawValue, $1.source, $1.recommendation.resourceID)
        }
        writer.write(MetricCatalog.recommendationSavings, recommendations.map {
            ([$0.recommendation.kind.rawValue, $0.recommendation.resourceID, $0.recommendation.resourceName, $0.source,
              $0.recommendation.savingsMonthly.currency.code], .decimal($0.recommendation.savingsMonthly.amount))
        })
        writer.write(MetricCatalog.recommendationConfidence, recommendations.map {
            ([$0.recommendation.kind.rawValue, $0.recommendation.resourceID, $0.source], .double($0.recommendation.confidence))
        })
        writer.write(MetricCatalog.potentialSavings, evaluation.potentialSavings
            .map { ([$0.key.kind.rawValue, $0.key.currency.code], $0.value) }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
            .map { ($0.0, .decimal($0.1)) })
        writer.write(MetricCatalog.wasteCostMonthly, evaluation.waste
            .map { ([$0.key.kind.rawValue, $0.key.provider, $0.key.currency.code], $0.value) }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
            .map { ($0.0, .decimal($0.1)) })
        writeCommitments(evaluation, into: &writer)
    }

    /// Commitment discounts: each source's, month to date. Ratios at 6 decimals.
    private func writeCommitments(_ evaluation: EstateEvaluation, into writer: inout ExpositionWriter) {
        let sources = evaluation.commitments
        writer.write(MetricCatalog.commitmentUtilization, sources.flatMap { source, figures in
            figures.commitments.compactMap { line in
                line.utilization.map { ([source, line.commitment.id, line.commitment.name, line.commitment.type, line.commitment.category], .ratio($0)) }
            }
        })
        writer.write(MetricCatalog.commitmentUnusedCost, sources.flatMap { source, figures in
            figures.commitments.map { ([source, $0.commitment.id, $0.commitment.currency.code], .decimal($0.unused)) }
        })
        writer.write(MetricCatalog.commitmentCoverage, sources.flatMap { source, figures in
            figures.coverage.map { ([source, $0.service, $0.currency.code], .ratio($0.ratio)) }
        })
    }

    /// Capacity, tenant usage and allocation: figures over the whole estate.
    private func writeCapacityAndAllocation(_ evaluation: EstateEvaluation, into writer: inout ExpositionWriter) {
        let capacity = evaluation.capacity
        writer.write(MetricCatalog.capacityUsed, capacity.map { ([$0.scope, $0.dimension], .double($0.used)) })
        writer.write(MetricCatalog.capacitySize, capacity.map { ([$0.scope, $0.dimension], .double($0.total)) })
        writer.write(MetricCatalog.capacityHeadroom, capacity.map { ([$0.scope, $0.dimension], .ratio($0.headroomRatio)) })
        writer.write(MetricCatalog.capacityExhaustion, capacity.compactMap { status in
            status.exhaustionDays.map { ([status.scope, status.dimension], .double(($0 * 86_400).rounded())) }
        })

        let usage = evaluation.tenantUsage.sorted { ($0.key.tenant, $0.key.dimension) < ($1.key.tenant, $1.key.dimension) }
        writer.write(MetricCatalog.tenantUsage, usage.map { ([$0.key.tenant, $0.key.dimension], .double($0.value)) })
        writer.write(MetricCatalog.storageUsedBytes, usage.compactMap { entry in
            Self.storageService(entry.key.dimension).map { ([$0, entry.key.tenant], .double(entry.value)) }
        }.sorted { $0.0.lexicographicallyPrecedes($1.0) })

        let allocation = evaluation.allocation
        writer.write(MetricCatalog.tenantCostMonthly, Self.samples(evaluation.runRate.tenants))
        writer.write(MetricCatalog.tenantsFolded, [([], .int(evaluation.tenantsFolded))])
        writer.write(MetricCatalog.unallocatedCostMonthly, Self.samples(evaluation.runRate.unallocated))
        writer.write(MetricCatalog.tenantCostMonthToDate, Self.samples(evaluation.monthToDate.tenants))
        writer.write(MetricCatalog.unallocatedCostMonthToDate, Self.samples(evaluation.monthToDate.unallocated))
        let pools = evaluation.pools.pools
        writer.write(MetricCatalog.poolCostMonthly, pools.flatMap { pool in
            Self.samples(pool.tenants).map { (labels: [pool.name] + $0.labels, value: $0.value) }
        })
        writer.write(MetricCatalog.poolIdleRatio, pools.compactMap { pool in
            pool.idleRatio.map { ([pool.name], .ratio(NSDecimalNumber(decimal: $0).doubleValue)) }
        })
        if allocation.subjects > 0 {
            writer.write(MetricCatalog.allocationCoverage, [([], .ratio(allocation.directlyAllocatedRatio))])
        }
    }

    private func writeItems(_ evaluation: EstateEvaluation, into writer: inout ExpositionWriter) {
        writer.write(MetricCatalog.itemCostMonthly, evaluation.itemsMonthly.map { item, monthly in
            ([item.name, item.kind, item.provider, monthly.currency.code], .decimal(monthly.amount))
        })
        writer.write(MetricCatalog.itemRenewal, items.compactMap { item in
            item.renews.map { ([item.name, item.kind, String(item.autoRenew)], .double($0.start(in: reporting.timeZone).timeIntervalSince1970)) }
        })
        writer.write(MetricCatalog.itemUsage, items.compactMap { item in
            guard let usage = item.usage, let limit = item.limit, limit > 0 else { return nil }
            return ([item.name], .decimal((usage / limit).rounded(scale: 6)))
        })
    }

    /// `[key: [currency: amount]]` as samples labelled key, currency, sorted.
    static func samples(_ amounts: [String: [Currency: Decimal]]) -> [(labels: [String], value: SampleValue)] {
        amounts.flatMap { key, byCurrency in byCurrency.map { (labels: [key, $0.key.code], value: SampleValue.decimal($0.value)) } }
            .sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
    }

    private func writeSelfMetrics(_ sources: [SourceStatus], into writer: inout ExpositionWriter) {
        writer.write(MetricCatalog.buildInfo, [([build.version, build.revision, build.swiftVersion], .int(1))])
        // Every shard serves both, so that a missing shard shows as fewer shard_info series than `shards`.
        writer.write(MetricCatalog.shardInfo, [([String(shard.index), String(shard.count)], .int(1))])
        writer.write(MetricCatalog.shards, [([], .int(shard.count))])
        writer.write(MetricCatalog.databaseRecovered, [([], .int(databaseRecovered ? 1 : 0))])
        writer.write(MetricCatalog.sourceUp, sources.map { ([$0.name, $0.provider], .int($0.up == true ? 1 : 0)) })
        writer.write(MetricCatalog.syncLastSuccess, sources.compactMap { source in
            source.lastSuccess.map { ([source.name], .double($0.timeIntervalSince1970.rounded(.down))) }
        })
        writer.write(MetricCatalog.syncInterval, sources.map { ([$0.name], .double($0.intervalSeconds)) })
        writer.write(MetricCatalog.syncDuration, sources.compactMap { source in
            source.lastDuration.map { ([source.name], .double(($0 * 1000).rounded() / 1000)) }
        })
        writer.write(MetricCatalog.syncErrors, sources.flatMap { source in
            source.errors.sorted { ($0.key.endpoint, $0.key.reason) < ($1.key.endpoint, $1.key.reason) }
                .map { ([source.name, $0.key.endpoint, $0.key.reason], .int($0.value)) }
        })
        writer.write(MetricCatalog.syncResources, sources.flatMap { source in
            ChangeAction.allCases.map { ([source.name, $0.rawValue], .int(source.actions[$0] ?? 0)) }
        })
    }

    /// A usage dimension that is storage: in bytes and not traffic. `storage_bytes` is the
    /// service `storage`, `database_bytes` the service `database`.
    static func storageService(_ dimension: String) -> String? {
        guard dimension.hasSuffix("_bytes") else { return nil }
        let service = String(dimension.dropLast("_bytes".count))
        let traffic = ["bandwidth", "traffic", "egress", "ingress", "network", "transfer"]
        guard !service.isEmpty, !traffic.contains(where: { service.contains($0) }) else { return nil }
        return service
    }

    private func writeUsageHealth(_ usage: [UsageStatus], into writer: inout ExpositionWriter) {
        func labels(_ status: UsageStatus) -> [String] { [status.reference.usage, status.reference.dimension] }
        writer.write(MetricCatalog.usageUp, usage.map { (labels($0), .int($0.up == true ? 1 : 0)) })
        writer.write(MetricCatalog.usageLastSuccess, usage.compactMap { status in
            status.lastSuccess.map { (labels(status), .double($0.timeIntervalSince1970.rounded(.down))) }
        })
        writer.write(MetricCatalog.usageDuration, usage.compactMap { status in
            status.lastDuration.map { (labels(status), .double(($0 * 1000).rounded() / 1000)) }
        })
        writer.write(MetricCatalog.usageErrors, usage.flatMap { status in
            status.errors.sorted { $0.key < $1.key }.map { (labels(status) + [$0.key], .int($0.value)) }
        })
        writer.write(MetricCatalog.usageRejectedRows, usage.filter(\.hasData).map { (labels($0), .int($0.rejectedRows)) })
        writer.write(MetricCatalog.usageBadValues, usage.map { (labels($0), .int($0.badValues)) })
    }
}

/// One source's per-resource series, rendered ahead of time.
struct ResourceFragments: Sendable {
    var cost = SampleFragment.empty
    var info = SampleFragment.empty
    var utilization = SampleFragment.empty

    /// Whether a fragment still waits for its deflated form.
    var deflateLater: Bool { cost.deflateLater || info.deflateLater || utilization.deflateLater }

    /// These fragments with their deflated forms made.
    func withDeflatedForms() -> ResourceFragments {
        ResourceFragments(cost: cost.withDeflatedForm(), info: info.withDeflatedForm(), utilization: utilization.withDeflatedForm())
    }
}

struct BuildInfo: Sendable {
    var version: String
    var revision: String
    var swiftVersion: String

    static let current = BuildInfo(version: "0.1.0", revision: BuildRevision.value, swiftVersion: swiftCompilerVersion)

    private static var swiftCompilerVersion: String {
        #if compiler(>=6.4)
        "6.4+"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #else
        "older"
        #endif
    }
}

/// Git revision the binary was built from. SwiftPM has no build-time stamping without a
/// plugin; until one is worth its build time, builds say "unknown".
enum BuildRevision {
    static let value = "unknown"
}
