import CostModel
import Foundation
import SourceKit

/// The config's `items:` as a source named `items`: each item is a recurring charge at its
/// period's rate, so domains, SaaS and AI spend count in the totals by their category.
struct ManualItemsSource: Source {
    static let sourceName = "items"
    let items: [ManualItem]
    let hoursPerMonth: Decimal
    var provider: String { "manual" }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        for item in items {
            snapshot.billing.append(BillingLineItem(
                provider: item.provider.lowercased(), resourceID: "item:\(item.name)", resourceName: item.name, resourceType: item.kind,
                service: item.kind, category: ManualItem.kinds[item.kind] ?? .other, region: "", account: "",
                rate: Rate(item.cost, per: item.period, hoursPerMonth: hoursPerMonth)))
        }
        return snapshot
    }

    /// The source config the engine schedules it with: hourly, nothing to retry.
    static func config(_ items: [ManualItem], hoursPerMonth: Decimal) -> SourceConfig {
        let kind = SourceKind(settingKeys: [], readSettings: { _, _ in NoSettings() },
                              make: { _ in ManualItemsSource(items: items, hoursPerMonth: hoursPerMonth) })
        return SourceConfig(name: sourceName, type: "manual", interval: .seconds(3600), retries: 0, kind: kind, settings: NoSettings())
    }
}
