// The files scripts/build-mixin writes, by name, as JSON (the script writes the rule files as
// YAML); `config` overrides the mixin's _config.
function(config={})
  local mixin = (import 'mixin.libsonnet') + { _config+:: config };
  {
    'alerts.yml': mixin.prometheusAlerts,
    'recording.rules.yml': mixin.prometheusRules.recording,
    'chom-compat.rules.yml': mixin.prometheusRules.chomCompat,
  } + mixin.grafanaDashboards
