import CostModel
import Foundation

/// Renders the whole estate, every source's last good state and the exporter's own health,
/// once per sync. Pure: the same state renders to the same bytes.
struct EstateRenderer {
    var metrics: MetricsConfig
    var reporting: ReportingConfig
    var build: BuildInfo

    /// Tag keys that name a resource's tenant and environment, first match wins.
    static let tenantTags = ["tenant", "client"]
    static let environmentTags = ["env", "environment"]

    func render(_ sources: [SourceStatus]) -> ExpositionWriter {
        var writer = ExpositionWriter(namespace: metrics.namespace)
        let sources = sources.sorted { $0.name < $1.name }
        if metrics.perResource {
            writer.write(MetricCatalog.resourceCostPerHour, resourceCosts(sources))
            writer.write(MetricCatalog.resourceInfo, resourceInfo(sources))
            writer.write(MetricCatalog.resourceUtilization, utilization(sources))
        }
        writer.write(MetricCatalog.infrastructureCostMonthly, infrastructureMonthly(sources))
        writer.write(MetricCatalog.costMonthToDate, monthToDate(sources))
        writer.write(MetricCatalog.accountBalance, sources.flatMap { source in
            source.extras.accounts.sorted { ($0.provider, $0.account) < ($1.provider, $1.account) }.map {
                ([source.name, $0.provider, $0.account, $0.balance.currency.code], .decimal($0.balance.amount))
            }
        })
        let capacity = sources.flatMap(\.extras.capacity)
        writer.write(MetricCatalog.capacityUsed, capacity.map { ([$0.scope, $0.dimension], .double($0.used)) })
        writer.write(MetricCatalog.capacitySize, capacity.map { ([$0.scope, $0.dimension], .double($0.total)) })
        writeSelfMetrics(sources, into: &writer)
        writer.write(MetricCatalog.expositionSeries, [([], .int(writer.seriesCount))])
        return writer
    }

    private func resourceCosts(_ sources: [SourceStatus]) -> [(labels: [String], value: SampleValue)] {
        sources.flatMap { source in
            source.resources.map { resource in
                let labels = [source.name, resource.provider, resource.account, resource.region, resource.service,
                              resource.category.rawValue, resource.resourceType, resource.id, resource.name,
                              tag(resource, Self.tenantTags), tag(resource, Self.environmentTags), resource.rate.currency.code]
                return (labels, .decimal(resource.rate.perHour.amount.rounded(scale: 8)))
            }
        }
    }

    private func resourceInfo(_ sources: [SourceStatus]) -> [(labels: [String], value: SampleValue)] {
        sources.flatMap { source in
            source.resources.map { resource in
                ([resource.id, source.name, resource.status.value, resource.flavor, String(resource.isZombie), String(resource.isOrphan)], .int(1))
            }
        }
    }

    private func utilization(_ sources: [SourceStatus]) -> [(labels: [String], value: SampleValue)] {
        sources.flatMap { source in
            source.extras.utilization.sorted { ($0.resourceID, $0.dimension.rawValue) < ($1.resourceID, $1.dimension.rawValue) }
                .map { ([$0.resourceID, $0.dimension.rawValue], .double($0.ratio)) }
        }
    }

    private func infrastructureMonthly(_ sources: [SourceStatus]) -> [(labels: [String], value: SampleValue)] {
        let totals = sum(sources.flatMap(\.resources),
                         by: { [$0.provider, $0.category.rawValue, $0.resourceType, $0.rate.currency.code] },
                         amount: { $0.rate.monthly(hoursPerMonth: reporting.hoursPerMonth).amount })
        return totals.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, .decimal($0.value.rounded(scale: 2))) }
    }

    private func monthToDate(_ sources: [SourceStatus]) -> [(labels: [String], value: SampleValue)] {
        sources.flatMap { source in
            let totals = sum(source.monthToDate,
                             by: { [source.name, $0.provider, $0.account, $0.service, $0.category.rawValue, $0.cost.currency.code] },
                             amount: { $0.cost.amount })
            return totals.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, SampleValue.decimal($0.value.rounded(scale: 2))) }
        }
    }

    private func writeSelfMetrics(_ sources: [SourceStatus], into writer: inout ExpositionWriter) {
        writer.write(MetricCatalog.buildInfo, [([build.version, build.revision, build.swiftVersion], .int(1))])
        writer.write(MetricCatalog.sourceUp, sources.map { ([$0.name, $0.provider], .int($0.up == true ? 1 : 0)) })
        writer.write(MetricCatalog.syncLastSuccess, sources.compactMap { source in
            source.lastSuccess.map { ([source.name], .double($0.timeIntervalSince1970.rounded(.down))) }
        })
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

    private func tag(_ resource: Resource, _ keys: [String]) -> String {
        keys.lazy.compactMap { resource.tags[$0] }.first ?? ""
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
