import CostModel
import Foundation
import SourceKit

/// `type: demo`: the seed's Yandex Cloud + Selectel estate, deterministic for a given time,
/// so the exporter, its dashboards and its alerts show something with no credentials at all.
package struct DemoSource: Source {
    struct Settings: SourceSettings {
        /// Copies of the estate: 1 is the seed's; larger values make estates for benchmarks.
        var scale = 1
    }

    package static let kind = SourceKind(
        settingKeys: ["scale"],
        readSettings: { fields, reader in Settings(scale: reader.int(fields, "scale", range: 1...100_000) ?? 1) },
        make: { config in DemoSource(scale: (config.settings as? Settings)?.scale ?? 1) }
    )

    var scale = 1
    package var provider: String { "demo" }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        DemoEstate.snapshot(now: window.now, historyDays: window.historyDays, timeZone: window.reporting.timeZone, scale: scale)
    }
}
