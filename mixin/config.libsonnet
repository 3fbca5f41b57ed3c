// The settings an operator changes instead of editing rules and dashboards.
{
  _config+:: {
    // Added to every infrazen_ series selector in every alert, rule and panel, e.g.
    // 'job="zen-exporter"' or 'cluster="prod",job="cost"'. Empty: the infrazen_ prefix alone
    // selects ZenExporter's series.
    jobSelector: '',
    // The `up` series of the exporter's scrape job, for InfrazenExporterDown.
    exporterUpSelector: if self.jobSelector == '' then 'job="zen-exporter"' else self.jobSelector,
    // %s is the alert's name in lower case: its section of docs/alerts.md.
    runbookURLTemplate: 'https://github.com/infrazen/zen-exporter/blob/main/docs/alerts.md#%s',
    dashboardTags: ['infrazen', 'finops'],
    dashboardTimezone: 'browser',
    thresholds: {
      anomalyScore: 3,  // robust z-score of yesterday's cost
      balanceRunwayDays: 7,
      renewalDays: 14,
      freeTierRatio: 0.9,
      headroomLow: 0.2,
      headroomCritical: 0.05,
      exhaustionDays: 30,
      healthScore: 60,
      commitmentUtilization: 0.8,  // InfrazenCommitmentUnderutilized: month-to-date used share
      poolIdle: 0.5,  // InfrazenPoolMostlyIdle: share of a pool's capacity no tenant's driver takes
    },
  },
}
