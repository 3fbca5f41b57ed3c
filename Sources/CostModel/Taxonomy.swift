/// Provider service and SKU names → our category and resource type. One table per provider;
/// a name no table knows becomes `other` and is reported, never dropped.
public enum Taxonomy {
    public struct Entry: Sendable, Equatable {
        public var category: CostCategory
        public var resourceType: String
    }

    /// Lower-cased service name → entry, per provider.
    static let tables: [String: [String: Entry]] = [
        "yandex": [
            "compute cloud": .init(category: .compute, resourceType: "server"),
            "object storage": .init(category: .storage, resourceType: "bucket"),
            "virtual private cloud": .init(category: .network, resourceType: "ip"),
            "managed service for postgresql": .init(category: .database, resourceType: "database"),
            "managed service for mysql": .init(category: .database, resourceType: "database"),
            "managed service for kubernetes": .init(category: .kubernetes, resourceType: "kubernetes_cluster"),
            "network load balancer": .init(category: .network, resourceType: "load_balancer"),
            "cloud dns": .init(category: .domain, resourceType: "domain"),
            "yandexgpt": .init(category: .ai, resourceType: "subscription"),
        ],
        "selectel": [
            "cloud servers": .init(category: .compute, resourceType: "server"),
            "network volumes": .init(category: .storage, resourceType: "volume"),
            "object storage": .init(category: .storage, resourceType: "bucket"),
            "file storage": .init(category: .storage, resourceType: "file_storage"),
            "floating ips": .init(category: .network, resourceType: "ip"),
            "load balancers": .init(category: .network, resourceType: "load_balancer"),
            "managed databases": .init(category: .database, resourceType: "database"),
            "managed kubernetes": .init(category: .kubernetes, resourceType: "kubernetes_cluster"),
            "dedicated servers": .init(category: .compute, resourceType: "server"),
            // The provider keys beyond vpc, mks, dbaas and storage (SelectelSource.providerServices).
            "container registry": .init(category: .storage, resourceType: "registry"),
            "cdn": .init(category: .network, resourceType: "cdn"),
            "cloud functions": .init(category: .compute, resourceType: "function"),
            "vmware cloud": .init(category: .compute, resourceType: "server"),
            "1c cloud": .init(category: .saas, resourceType: "subscription"),
            "mobile farm": .init(category: .saas, resourceType: "subscription"),
            "ses": .init(category: .saas, resourceType: "subscription"),
        ],
        "beget": [
            "vps": .init(category: .compute, resourceType: "server"),
            "hosting": .init(category: .compute, resourceType: "subscription"),
            "mysql": .init(category: .database, resourceType: "database"),
            "s3": .init(category: .storage, resourceType: "bucket"),
            "domains": .init(category: .domain, resourceType: "domain"),
        ],
        // `type: openstack` (VK Cloud, private clouds): the services PriceListBilling names.
        "openstack": [
            "compute": .init(category: .compute, resourceType: "server"),
            "block storage": .init(category: .storage, resourceType: "volume"),
            "file storage": .init(category: .storage, resourceType: "file_storage"),
            "floating ips": .init(category: .network, resourceType: "ip"),
            "load balancers": .init(category: .network, resourceType: "load_balancer"),
        ],
        // Cloud.ru Evolution consumption `servname` values. Only "Compute" is seen in a
        // published example (PROVIDERS.md §5.2); the rest are the console's service names and
        // unverified: a name not here is counted in unclassified_line_items.
        "cloudru": [
            "compute": .init(category: .compute, resourceType: "server"),
            "evolution compute": .init(category: .compute, resourceType: "server"),
            "disks": .init(category: .storage, resourceType: "volume"),
            "evolution disks": .init(category: .storage, resourceType: "volume"),
            "object storage": .init(category: .storage, resourceType: "bucket"),
            "evolution object storage": .init(category: .storage, resourceType: "bucket"),
            "vpc": .init(category: .network, resourceType: "ip"),
            "public ip": .init(category: .network, resourceType: "ip"),
            "load balancer": .init(category: .network, resourceType: "load_balancer"),
            "managed postgresql": .init(category: .database, resourceType: "database"),
            "managed kubernetes": .init(category: .kubernetes, resourceType: "kubernetes_cluster"),
            "foundation models": .init(category: .ai, resourceType: "subscription"),
        ],
        // FOCUS ServiceCategory values (FOCUS 1.0–1.2).
        "focus": [
            "compute": .init(category: .compute, resourceType: "server"),
            "storage": .init(category: .storage, resourceType: "volume"),
            "networking": .init(category: .network, resourceType: "network"),
            "databases": .init(category: .database, resourceType: "database"),
            "ai and machine learning": .init(category: .ai, resourceType: "subscription"),
            "analytics": .init(category: .other, resourceType: "service"),
            "management and governance": .init(category: .other, resourceType: "service"),
            "security": .init(category: .other, resourceType: "service"),
            "web": .init(category: .network, resourceType: "service"),
        ],
    ]

    public static let unknown = Entry(category: .other, resourceType: "other")

    /// The entry for a provider's service; nil when no table knows it (callers count these).
    public static func lookup(provider: String, service: String) -> Entry? {
        tables[provider.lowercased()]?[service.lowercased()]
    }

    /// The entry, or `other` for what no table knows.
    public static func classify(provider: String, service: String) -> Entry {
        lookup(provider: provider, service: service) ?? unknown
    }
}
