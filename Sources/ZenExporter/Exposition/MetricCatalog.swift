/// Every metric the exporter serves, declared once: name (without the namespace), type, help
/// and label names. Code that sets values refers to these and never spells a metric name.
struct MetricFamily: Sendable, Hashable {
    enum Kind: String, Sendable { case gauge, counter }
    let name: String
    let kind: Kind
    let help: String
    let labels: [String]
}

enum MetricCatalog {
    // Cost
    static let resourceCostPerHour = MetricFamily(
        name: "resource_cost_per_hour", kind: .gauge,
        help: "Current run rate of one resource, billing-first, including volumes folded into it.",
        labels: ["source", "provider", "account", "region", "service", "category", "resource_type", "resource_id",
                 "resource_name", "tenant", "environment", "currency"])
    static let resourceInfo = MetricFamily(
        name: "resource_info", kind: .gauge,
        help: "Descriptive labels of one resource; always 1. Join on resource_id.",
        labels: ["resource_id", "source", "status", "flavor", "zombie", "orphan"])
    static let infrastructureCostMonthly = MetricFamily(
        name: "infrastructure_cost_monthly", kind: .gauge,
        help: "Monthly run rate by provider, category and resource type (hours_per_month hours at the current rate).",
        labels: ["provider", "category", "resource_type", "currency"])
    static let costMonthToDate = MetricFamily(
        name: "cost_month_to_date", kind: .gauge,
        help: "Billed spend since the 1st of the month in the reporting time zone.",
        labels: ["source", "provider", "account", "service", "category", "currency"])

    // Accounts and capacity
    static let accountBalance = MetricFamily(
        name: "account_balance", kind: .gauge, help: "Prepaid balance of a provider account.",
        labels: ["source", "provider", "account", "currency"])
    static let capacityUsed = MetricFamily(
        name: "capacity_used", kind: .gauge, help: "Used capacity of a scope in base units.", labels: ["scope", "dimension"])
    static let capacitySize = MetricFamily(
        name: "capacity_size", kind: .gauge, help: "Total capacity of a scope in base units (named _size, not _total: _total is reserved for counters).", labels: ["scope", "dimension"])
    static let resourceUtilization = MetricFamily(
        name: "resource_utilization_ratio", kind: .gauge,
        help: "Average utilisation of one resource over the statistics window (0-1).", labels: ["resource_id", "dimension"])

    // The exporter itself
    static let buildInfo = MetricFamily(
        name: "build_info", kind: .gauge, help: "Version of the exporter; always 1.", labels: ["version", "revision", "swift_version"])
    static let sourceUp = MetricFamily(
        name: "source_up", kind: .gauge, help: "1 if the last sync of the source succeeded, 0 if it failed.", labels: ["source", "provider"])
    static let syncLastSuccess = MetricFamily(
        name: "sync_last_success_timestamp_seconds", kind: .gauge,
        help: "Unix time the source last synced successfully.", labels: ["source"])
    static let syncDuration = MetricFamily(
        name: "sync_duration_seconds", kind: .gauge, help: "Duration of the source's last sync, retries included.", labels: ["source"])
    static let syncErrors = MetricFamily(
        name: "sync_errors_total", kind: .counter, help: "Failed sync attempts since start, by endpoint and reason.",
        labels: ["source", "endpoint", "reason"])
    static let syncResources = MetricFamily(
        name: "sync_resources", kind: .gauge, help: "Resources by what the source's last good sync did to them.",
        labels: ["source", "action"])
    static let expositionSeries = MetricFamily(
        name: "exposition_series", kind: .gauge, help: "Series in the current exposition, this one excluded.", labels: [])

    static let all: [MetricFamily] = [
        resourceCostPerHour, resourceInfo, infrastructureCostMonthly, costMonthToDate, accountBalance, capacityUsed,
        capacitySize, resourceUtilization, buildInfo, sourceUp, syncLastSuccess, syncDuration, syncErrors, syncResources,
        expositionSeries,
    ]
}
