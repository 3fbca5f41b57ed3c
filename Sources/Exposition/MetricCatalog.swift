/// Every metric the exporter serves, declared once: name (without the namespace), type, help
/// and label names. Code that sets values refers to these and never spells a metric name.
package struct MetricFamily: Sendable, Hashable {
    package enum Kind: String, Sendable { case gauge, counter }
    package let name: String
    package let kind: Kind
    package let help: String
    package let labels: [String]

    package init(name: String, kind: Kind, help: String, labels: [String]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
    }
}

package enum MetricCatalog {
    // Cost
    package static let resourceCostPerHour = MetricFamily(
        name: "resource_cost_per_hour", kind: .gauge,
        help: "Current run rate of one resource, billing-first, including volumes folded into it.",
        labels: ["source", "provider", "account", "project", "region", "service", "category", "resource_type", "resource_id",
                 "resource_name", "tenant", "environment", "currency"])
    package static let resourceInfo = MetricFamily(
        name: "resource_info", kind: .gauge,
        help: "Descriptive labels of one resource; always 1. Join on resource_id.",
        labels: ["resource_id", "source", "status", "flavor", "zombie", "orphan", "host_provider"])
    package static let infrastructureCostMonthly = MetricFamily(
        name: "infrastructure_cost_monthly", kind: .gauge,
        help: "Monthly run rate by provider, category and resource type (hours_per_month hours at the current rate).",
        labels: ["provider", "category", "resource_type", "currency"])
    package static let costMonthToDate = MetricFamily(
        name: "cost_month_to_date", kind: .gauge,
        help: "Billed spend since the 1st of the month in the reporting time zone.",
        labels: ["source", "provider", "account", "service", "category", "currency"])

    package static let tenantCostMonthly = MetricFamily(
        name: "tenant_cost_monthly", kind: .gauge,
        help: "Monthly run rate allocated to a tenant by tags and rules, shared-cost share included.", labels: ["tenant", "currency"])
    package static let unallocatedCostMonthly = MetricFamily(
        name: "unallocated_cost_monthly", kind: .gauge,
        help: "Monthly run rate no tag or rule placed (after the shared split).", labels: ["provider", "currency"])
    package static let effectiveCostMonthly = MetricFamily(
        name: "effective_cost_monthly", kind: .gauge,
        help: "Amortised (FOCUS EffectiveCost) monthly run rate by provider, category and resource type, beside infrastructure_cost_monthly.",
        labels: ["provider", "category", "resource_type", "currency"])
    package static let effectiveCostMonthToDate = MetricFamily(
        name: "effective_cost_month_to_date", kind: .gauge,
        help: "Amortised spend (FOCUS EffectiveCost) since the 1st of the month in the reporting time zone, beside the billed.",
        labels: ["source", "provider", "account", "service", "category", "currency"])
    package static let tenantCostMonthToDate = MetricFamily(
        name: "tenant_cost_month_to_date", kind: .gauge,
        help: "Billed spend since the 1st of the month allocated to a tenant day by day: tags and rules, then each day's shared split by that day's usage.",
        labels: ["tenant", "currency"])
    package static let unallocatedCostMonthToDate = MetricFamily(
        name: "unallocated_cost_month_to_date", kind: .gauge,
        help: "Billed spend since the 1st of the month that no tag, rule or shared split placed.", labels: ["provider", "currency"])
    package static let poolCostMonthly = MetricFamily(
        name: "pool_cost_monthly", kind: .gauge,
        help: "Monthly run rate of a shared pool's resources split by the pool's usage driver; tenant __idle__ is the capacity the driver leaves.",
        labels: ["pool", "tenant", "currency"])
    package static let poolIdleRatio = MetricFamily(
        name: "pool_idle_ratio", kind: .gauge,
        help: "Share of a shared pool's capacity its usage driver leaves today, 0-1 (blended by the drivers' weights).", labels: ["pool"])
    package static let allocationCoverage = MetricFamily(
        name: "allocation_direct_ratio", kind: .gauge,
        help: "Share of the monthly run rate placed on a tenant directly by tags or rules (0-1).", labels: [])
    package static let unclassifiedLineItems = MetricFamily(
        name: "unclassified_line_items", kind: .gauge,
        help: "Billing line items whose service no taxonomy table knows; counted as category other.", labels: ["source"])
    package static let unpricedResources = MetricFamily(
        name: "unpriced_resources", kind: .gauge,
        help: "Resources a price list has no price for (type openstack), by resource type and the flavour or type looked up; they cost nothing known.",
        labels: ["source", "resource_type", "price_key"])

    package static let itemCostMonthly = MetricFamily(
        name: "item_cost_monthly", kind: .gauge, help: "Monthly cost of a manually entered item (domain, SaaS, AI API…).",
        labels: ["item", "kind", "provider", "currency"])
    package static let itemRenewal = MetricFamily(
        name: "item_renewal_timestamp_seconds", kind: .gauge, help: "Next renewal or expiry of a manual item.",
        labels: ["item", "kind", "auto_renew"])
    package static let itemUsage = MetricFamily(
        name: "item_usage_ratio", kind: .gauge, help: "Usage of a manual item over its plan or free-tier limit.", labels: ["item"])

    package static let fxRate = MetricFamily(
        name: "fx_rate", kind: .gauge, help: "Units of the reporting currency per unit of a currency in force today (run rates; each billed day is valued at its own day's rate).",
        labels: ["currency", "reporting_currency"])
    package static let fxFetched = MetricFamily(
        name: "fx_rates_fetched_timestamp_seconds", kind: .gauge, help: "When the exchange rates in use were fetched from the bank.", labels: [])
    package static let fxAge = MetricFamily(
        name: "fx_rates_age_seconds", kind: .gauge, help: "Age of the exchange rates in use at the last evaluation.", labels: [])

    // Budgets, forecasts, anomalies
    package static let budgetAmount = MetricFamily(
        name: "budget_amount", kind: .gauge, help: "Configured budget limit.", labels: ["budget", "period", "currency"])
    package static let budgetSpent = MetricFamily(
        name: "budget_spent", kind: .gauge, help: "Billed spend in the budget's current period.", labels: ["budget", "currency"])
    package static let budgetForecast = MetricFamily(
        name: "budget_forecast", kind: .gauge, help: "Spend projected at the end of the budget's period (weekday profile).",
        labels: ["budget", "currency"])
    package static let budgetUtilization = MetricFamily(
        name: "budget_utilization_ratio", kind: .gauge, help: "Spent divided by the budget amount.", labels: ["budget"])
    package static let budgetThresholdReached = MetricFamily(
        name: "budget_threshold_reached", kind: .gauge, help: "1 when spend has reached the threshold share of the budget.",
        labels: ["budget", "threshold"])
    package static let costForecast = MetricFamily(
        name: "cost_forecast", kind: .gauge,
        help: "Forecast spend: to the end of this month (month_end), or over the next 30, 60, 90 days by the daily trend.",
        labels: ["scope", "horizon", "currency"])
    package static let costAnomalyScore = MetricFamily(
        name: "cost_anomaly_score", kind: .gauge,
        help: "Robust z-score of the last full day's cost against its trailing 28-day weekday-aware baseline.", labels: ["scope"])
    package static let costDaily = MetricFamily(
        name: "cost_daily", kind: .gauge, help: "Billed cost of the last full day.", labels: ["scope", "currency"])

    // Waste and recommendations
    package static let recommendationSavings = MetricFamily(
        name: "recommendation_savings_monthly", kind: .gauge, help: "Estimated monthly saving of one recommendation.",
        labels: ["kind", "resource_id", "resource_name", "source", "currency"])
    package static let recommendationConfidence = MetricFamily(
        name: "recommendation_confidence_ratio", kind: .gauge, help: "How sure the recommendation's saving is (0-1).",
        labels: ["kind", "resource_id", "source"])
    package static let potentialSavings = MetricFamily(
        name: "potential_savings_monthly", kind: .gauge, help: "Sum of recommendation savings per kind.", labels: ["kind", "currency"])
    package static let wasteCostMonthly = MetricFamily(
        name: "waste_cost_monthly", kind: .gauge,
        help: "Monthly run rate of zombies, orphan volumes, unbound addresses, stopped-but-billed resources and unused commitment discounts.",
        labels: ["kind", "provider", "currency"])

    // Commitment discounts (FOCUS CommitmentDiscount* columns)
    package static let commitmentUtilization = MetricFamily(
        name: "commitment_utilization_ratio", kind: .gauge,
        help: "Month to date, the EffectiveCost of a commitment discount's Used rows over that of its Used and Unused rows.",
        labels: ["source", "commitment_id", "commitment_name", "commitment_type", "category"])
    package static let commitmentUnusedCost = MetricFamily(
        name: "commitment_unused_cost_month_to_date", kind: .gauge,
        help: "Month to date, the EffectiveCost of a commitment discount's Unused rows.", labels: ["source", "commitment_id", "currency"])
    package static let commitmentCoverage = MetricFamily(
        name: "commitment_coverage_ratio", kind: .gauge,
        help: "Month to date, the share of a service's usage EffectiveCost that commitment discounts covered.",
        labels: ["source", "service", "currency"])

    // Accounts and capacity
    package static let accountBalance = MetricFamily(
        name: "account_balance", kind: .gauge, help: "Prepaid balance of a provider account.",
        labels: ["source", "provider", "account", "currency"])
    package static let accountDaysUntilDepleted = MetricFamily(
        name: "account_time_until_depleted_seconds", kind: .gauge,
        help: "Time until the prepaid balance runs out: the provider's estimate, else balance over the daily run rate.",
        labels: ["source", "provider", "account"])
    package static let capacityUsed = MetricFamily(
        name: "capacity_used", kind: .gauge, help: "Used capacity of a scope in base units.", labels: ["scope", "dimension"])
    package static let capacitySize = MetricFamily(
        name: "capacity_size", kind: .gauge, help: "Total capacity of a scope in base units (named _size, not _total: _total is reserved for counters).", labels: ["scope", "dimension"])
    package static let capacityHeadroom = MetricFamily(
        name: "capacity_headroom_ratio", kind: .gauge, help: "1 - used/total of a scope's capacity.", labels: ["scope", "dimension"])
    package static let capacityExhaustion = MetricFamily(
        name: "capacity_exhaustion_seconds", kind: .gauge,
        help: "Time until the capacity is full on the linear trend of its daily history; absent when not growing.",
        labels: ["scope", "dimension"])
    package static let tenantUsage = MetricFamily(
        name: "tenant_usage", kind: .gauge,
        help: "Usage per tenant from the usage sources, in the dimension's unit (bytes, counts).", labels: ["tenant", "dimension"])
    package static let storageUsedBytes = MetricFamily(
        name: "storage_used_bytes", kind: .gauge,
        help: "Storage used per tenant: usage dimensions in bytes other than traffic, service named by the dimension.",
        labels: ["service", "tenant"])
    package static let tenantsFolded = MetricFamily(
        name: "tenants_folded", kind: .gauge,
        help: "Tenants beyond allocation.max_tenants, summed into tenant=\"other\".", labels: [])
    package static let resourceUtilization = MetricFamily(
        name: "resource_utilization_ratio", kind: .gauge,
        help: "Average utilisation of one resource over the statistics window (0-1).", labels: ["resource_id", "dimension"])

    // For owners: health, unit economics, tenant revenue and margin
    package static let healthScore = MetricFamily(
        name: "health_score", kind: .gauge,
        help: "Health of the estate, 0-100: the weighted mean of the health components that have data (weights in health.weights).", labels: [])
    package static let healthComponent = MetricFamily(
        name: "health_component", kind: .gauge,
        help: "One health component, 0 (bad) to 1 (good): budget, waste, anomalies, allocation, freshness, runway. Reasons are on / and in the report.",
        labels: ["component"])
    package static let unitCost = MetricFamily(
        name: "unit_cost", kind: .gauge,
        help: "Monthly run rate of a scope (total, provider:, service:, tenant:) divided by a unit_metrics business unit.",
        labels: ["unit", "scope", "currency"])
    package static let tenantRevenue = MetricFamily(
        name: "tenant_revenue_monthly", kind: .gauge,
        help: "Monthly revenue of a tenant from revenue: (a usage query or fixed amounts), folded into tenant=\"other\" as tenant costs are.",
        labels: ["tenant", "currency"])
    package static let tenantMargin = MetricFamily(
        name: "tenant_margin_ratio", kind: .gauge,
        help: "(revenue - cost) / revenue of a tenant, the cost being its tenant_cost_monthly in the revenue's currency; negative when it loses money.",
        labels: ["tenant", "currency"])

    // The exporter itself
    package static let buildInfo = MetricFamily(
        name: "build_info", kind: .gauge, help: "Version of the exporter; always 1.", labels: ["version", "revision", "swift_version"])
    package static let shardInfo = MetricFamily(
        name: "shard_info", kind: .gauge,
        help: "Which shard this exporter is (shard of shards, --shard INDEX/COUNT); always 1. 0 of 1 when not sharded.",
        labels: ["shard", "shards"])
    package static let shards = MetricFamily(
        name: "shards", kind: .gauge,
        help: "How many shards the sources are split over (COUNT of --shard): fewer shard_info series than this means a shard is missing.",
        labels: [])
    package static let databaseRecovered = MetricFamily(
        name: "database_recovered", kind: .gauge,
        help: "1 if the database could not be read at start and was moved aside (the log names where); the daemon then started empty.", labels: [])
    package static let sourceUp = MetricFamily(
        name: "source_up", kind: .gauge, help: "1 if the last sync of the source succeeded, 0 if it failed.", labels: ["source", "provider"])
    package static let syncLastSuccess = MetricFamily(
        name: "sync_last_success_timestamp_seconds", kind: .gauge,
        help: "Unix time the source last synced successfully.", labels: ["source"])
    package static let syncInterval = MetricFamily(
        name: "sync_interval_seconds", kind: .gauge, help: "The source's configured sync interval.", labels: ["source"])
    package static let syncDuration = MetricFamily(
        name: "sync_duration_seconds", kind: .gauge, help: "Duration of the source's last sync, retries included, from the first request to the published exposition (evaluation included).", labels: ["source"])
    package static let syncErrors = MetricFamily(
        name: "sync_errors_total", kind: .counter, help: "Failed sync attempts since start, by endpoint and reason.",
        labels: ["source", "endpoint", "reason"])
    package static let syncResources = MetricFamily(
        name: "sync_resources", kind: .gauge, help: "Resources by what the source's last good sync did to them.",
        labels: ["source", "action"])
    package static let usageUp = MetricFamily(
        name: "usage_query_up", kind: .gauge, help: "1 if the usage query's last run succeeded, 0 if it failed (its last good values stay served).",
        labels: ["usage", "dimension"])
    package static let usageLastSuccess = MetricFamily(
        name: "usage_query_last_success_timestamp_seconds", kind: .gauge, help: "Unix time the usage query last succeeded.",
        labels: ["usage", "dimension"])
    package static let usageDuration = MetricFamily(
        name: "usage_query_duration_seconds", kind: .gauge, help: "Duration of the usage query's last run.", labels: ["usage", "dimension"])
    package static let usageErrors = MetricFamily(
        name: "usage_query_errors_total", kind: .counter, help: "Failed usage query runs since start, by reason.",
        labels: ["usage", "dimension", "reason"])
    package static let usageRejectedRows = MetricFamily(
        name: "usage_query_rejected_rows", kind: .gauge,
        help: "Rows of the last good run whose tenant was not an ID (an e-mail, a name with spaces); counted as tenant=\"other\".",
        labels: ["usage", "dimension"])
    package static let usageBadValues = MetricFamily(
        name: "usage_query_bad_values_total", kind: .counter,
        help: "Usage rows since start whose value was NaN, infinite, negative or over 1e18; the tenant keeps its last good value.",
        labels: ["usage", "dimension"])
    package static let expositionSeries = MetricFamily(
        name: "exposition_series", kind: .gauge, help: "Series in the current exposition, this one excluded.", labels: [])

    package static let all: [MetricFamily] = [
        resourceCostPerHour, resourceInfo, infrastructureCostMonthly, costMonthToDate, accountBalance, accountDaysUntilDepleted, capacityUsed,
        capacitySize, capacityHeadroom, capacityExhaustion, tenantUsage, storageUsedBytes, tenantsFolded, resourceUtilization,
        tenantCostMonthly, unallocatedCostMonthly, tenantCostMonthToDate, effectiveCostMonthToDate, effectiveCostMonthly, unallocatedCostMonthToDate,
        poolCostMonthly, poolIdleRatio, allocationCoverage, unclassifiedLineItems, unpricedResources, itemCostMonthly, itemRenewal, itemUsage, fxRate, fxFetched, fxAge, budgetAmount, budgetSpent, budgetForecast, budgetUtilization, budgetThresholdReached,
        costForecast, costAnomalyScore, costDaily, recommendationSavings, recommendationConfidence, potentialSavings, wasteCostMonthly,
        commitmentUtilization, commitmentUnusedCost, commitmentCoverage,
        buildInfo, shardInfo, shards, databaseRecovered, sourceUp, syncLastSuccess, syncInterval, syncDuration, syncErrors, syncResources,
        usageUp, usageLastSuccess, usageDuration, usageErrors, usageRejectedRows, usageBadValues, expositionSeries,
        healthScore, healthComponent, unitCost, tenantRevenue, tenantMargin,
    ]
}
