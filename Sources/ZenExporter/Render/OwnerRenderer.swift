import CostModel
import Exposition
import Foundation

extension EstateRenderer {
    /// The health score and its components, unit costs, tenant revenue and margin. Reasons
    /// are not labels: their text changes with the figures, and every change would be a new
    /// series; the overview page and the report show them.
    func writeOwnerFigures(_ owner: OwnerFigures, into writer: inout ExpositionWriter) {
        if let health = owner.health, let score = health.score {
            writer.write(MetricCatalog.healthScore, [([], .double(score))])
            writer.write(MetricCatalog.healthComponent, health.parts.map { ([$0.component.rawValue], .double(($0.value * 1e4).rounded() / 1e4)) })
        }
        writer.write(MetricCatalog.unitCost, owner.unitCosts.map { ($0.labels, .decimal($0.amount.rounded(scale: 4))) })
        let revenue = owner.revenue.flatMap { tenant, amounts in amounts.map { (labels: [tenant, $0.key.code], amount: $0.value) } }
            .sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
        writer.write(MetricCatalog.tenantRevenue, revenue.map { ($0.labels, .decimal($0.amount.rounded(scale: 2))) })
        writer.write(MetricCatalog.tenantMargin, owner.margins.sorted { ($0.tenant, $0.currency) < ($1.tenant, $1.currency) }
            .map { ([$0.tenant, $0.currency.code], .decimal($0.ratio.rounded(scale: 4))) })
    }
}
