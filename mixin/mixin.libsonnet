// ZenExporter's monitoring mixin: alerts, recording rules and Grafana dashboards, with the
// selectors, thresholds, runbook links and dashboard settings in `_config` (config.libsonnet).
// Use it as any mixin: (import 'mixin.libsonnet') + { _config+:: { jobSelector: 'job="cost"' } }.
// scripts/build-mixin writes alerts.yml, deploy/prometheus/*.rules.yml and deploy/grafana/*.json.
local promql = import 'lib/promql.libsonnet';

(import 'config.libsonnet') + {
  local config = self._config,
  local expr(text) = promql.withSelector(
    promql.substitute(text, config.thresholds { upSelector: config.exporterUpSelector }), config.jobSelector),
  local rules(groups) = {
    groups: [group { rules: [rule + (if std.objectHas(rule, 'expr') then { expr: expr(rule.expr) } else {}) for rule in group.rules] }
             for group in groups],
  },

  prometheusAlerts:: rules(std.parseYaml(importstr 'alerts/alerts.yml').groups) {
    groups: [group { rules: [rule { annotations+: { runbook_url: config.runbookURLTemplate % std.asciiLower(rule.alert) } } for rule in group.rules] }
             for group in super.groups],
  },
  prometheusRules:: {
    recording: rules(std.parseYaml(importstr 'rules/recording.rules.yml').groups),
    chomCompat: rules(std.parseYaml(importstr 'rules/chom-compat.rules.yml').groups),
  },

  local dashboard(board) = board {
    tags: config.dashboardTags,
    timezone: config.dashboardTimezone,
    panels: [panel + (if std.objectHas(panel, 'targets') then { targets: [target { expr: expr(target.expr) } for target in panel.targets] } else {})
             for panel in board.panels],
    templating+: {
      list: [variable + (if std.objectHas(variable, 'query') && std.isString(variable.query) then { query: expr(variable.query) }
                         else if std.objectHas(variable, 'query') && std.isObject(variable.query) && std.objectHas(variable.query, 'query')
                         then { query+: { query: expr(variable.query.query) } } else {})
             for variable in board.templating.list],
    },
  },
  grafanaDashboards:: {
    'cost-analysis.json': dashboard(import 'dashboards/cost-analysis.json'),
    'capacity-planning.json': dashboard(import 'dashboards/capacity-planning.json'),
    'namespaces.json': dashboard(import 'dashboards/namespaces.json'),
  },
}
