import CostModel
import Foundation

/// `type: demo`: the seed's Yandex Cloud + Selectel estate, deterministic for a given time,
/// so the exporter, its dashboards and its alerts show something with no credentials at all.
struct DemoSource: Source {
    struct Settings: SourceSettings {}

    static let kind = SourceKind(
        settingKeys: [],
        readSettings: { _, _ in Settings() },
        make: { _ in DemoSource() }
    )

    var provider: String { "demo" }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        DemoEstate.snapshot(now: window.now, historyDays: window.historyDays, timeZone: window.reporting.timeZone)
    }
}
