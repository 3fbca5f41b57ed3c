import Foundation
import ProviderBeget
import ProviderCloudRu
import ProviderDemo
import ProviderFocus
import ProviderOpenStack
import ProviderSelectel
import ProviderWarehouse
import ProviderYandex
import SourceKit

/// Every `type:` a source may have. Each provider is its own target (Sources/Providers/<Name>);
/// this table is the one place that knows them all.
enum SourceRegistry {
    /// Keys every source accepts.
    static let commonKeys: Set<String> = ["name", "type", "interval", "timeout", "retries", "jitter", "shard"]

    static let kinds: [String: SourceKind] = [
        "demo": DemoSource.kind,
        "beget": BegetSource.kind,
        "selectel": SelectelSource.kind,
        "focus": FocusSource.kind,
        "yandex": YandexSource.kind,
        "openstack": OpenStackSource.kind,
        "cloudru": CloudRuSource.kind,
        "focus_sql": FocusSQLSource.kind,
    ]
}
