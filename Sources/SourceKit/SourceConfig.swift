import CostModel
import Foundation

/// The schedule every source shares; provider-specific settings live with the provider.
package struct SourceConfig: Sendable {
    package var name: String
    package var type: String
    package var interval: Duration = .seconds(3600)
    package var timeout: Duration = .seconds(60)
    package var retries = 3
    /// Spread of the start of each run, a fraction of the interval, so that many instances
    /// do not hit one provider API at the same second.
    package var jitterRatio = 0.1
    /// `shard: K`: the shard that runs this source whatever the hash of its name says.
    package var shard: Int?
    /// The connector `type` names, with its parsed settings.
    package var kind: SourceKind
    package var settings: any SourceSettings

    package func makeSource() -> any Source { kind.make(self) }

    package init(name: String, type: String, interval: Duration = .seconds(3600), timeout: Duration = .seconds(60), retries: Int = 3, jitterRatio: Double = 0.1, shard: Int? = nil, kind: SourceKind, settings: any SourceSettings) {
        self.name = name
        self.type = type
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.jitterRatio = jitterRatio
        self.shard = shard
        self.kind = kind
        self.settings = settings
    }
}

package struct ReportingConfig: Sendable {
    package init() {}

    package var currency = Currency.rub
    package var timeZone = TimeZone(identifier: "Europe/Moscow") ?? .current
    package var hoursPerMonth: Decimal = 720
}
