#!/usr/bin/env python3
"""Writes deploy/grafana/cost-analysis.json and capacity-planning.json. Panels are listed here
once, readably; run this after changing them and commit both the script and the JSON."""
import json, os, re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

def variables():
    ds = {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus", "current": {}}
    def q(name, label, query, multi=True, include_all=True):
        return {"type": "query", "name": name, "label": label, "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "query": {"query": query, "refId": name}, "refresh": 2, "multi": multi, "includeAll": include_all,
                "allValue": ".*", "current": {}}
    return [ds,
            q("source", "Source", "label_values(infrazen_source_up, source)"),
            q("provider", "Provider", "label_values(infrazen_infrastructure_cost_monthly, provider)"),
            q("account", "Account", 'label_values(infrazen_resource_cost_per_hour{provider=~"$provider"}, account)'),
            q("project", "Project", 'label_values(infrazen_resource_cost_per_hour{provider=~"$provider",account=~"$account"}, project)'),
            q("tenant", "Tenant", "label_values(infrazen_tenant_cost_monthly, tenant)"),
            q("currency", "Currency", "label_values(infrazen_infrastructure_cost_monthly, currency)", multi=False, include_all=False)]

# Every exporter series, before it is summed or shown: an HA pair's two replicas serve the same
# series (told apart by instance and replica), counted once; shards keep their `shard` target
# label and add up (deploy/prometheus/ha-pair.yml, shards.yml). Recorded series (a:b:c) already are.
SELECTOR = re.compile(r'(?<![\w:])(infrazen_[a-z_]+(?:\{[^}]*\})?)')

def once_per_replica(expr):
    return SELECTOR.sub(r'max without (instance, replica) (\1)', expr)

def panel(pid, title, kind, exprs, x, y, w=8, h=8, unit="currencyRUB", legend="{{__name__}}"):
    targets = []
    for i, e in enumerate(exprs):
        expr, fmt = (e if isinstance(e, tuple) else (e, legend))
        targets.append({"refId": chr(65 + i), "expr": once_per_replica(expr), "legendFormat": fmt,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"}})
    return {"id": pid, "title": title, "type": kind, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "datasource": {"type": "prometheus", "uid": "${datasource}"}, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}

def row(pid, title, y):
    return {"id": pid, "title": title, "type": "row", "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}

def dashboard(uid, title, panels):
    return {"uid": uid, "title": title, "tags": ["infrazen", "finops"], "timezone": "browser", "schemaVersion": 39,
            "version": 1, "refresh": "5m", "time": {"from": "now-7d", "to": "now"},
            "templating": {"list": variables()}, "panels": panels, "editable": True}

C = 'currency="$currency"'
cost = dashboard("infrazen-cost", "InfraZen — cost analysis", [
    panel(1, "Total monthly cost", "stat", [f'sum(infrazen_infrastructure_cost_monthly{{provider=~"$provider",{C}}})'], 0, 0, 6, 5),
    panel(2, "Month to date", "stat", [f'sum(infrazen_cost_month_to_date{{source=~"$source",{C}}})'], 6, 0, 6, 5),
    panel(3, "Budget utilisation", "gauge", [("infrazen_budget_utilization_ratio", "{{budget}}")], 12, 0, 6, 5, unit="percentunit"),
    panel(4, "Potential savings", "stat", [f'sum(infrazen_potential_savings_monthly{{{C}}})'], 18, 0, 6, 5),
    panel(5, "Cost trend vs budget", "timeseries", [
        (f'sum(infrazen_cost_month_to_date{{source=~"$source",{C}}})', "month to date"),
        (f'infrazen_budget_amount{{{C}}}', "budget {{budget}}"),
        (f'infrazen_budget_forecast{{{C}}}', "forecast {{budget}}")], 0, 5, 12, 8),
    panel(6, "Daily cost and anomaly score", "timeseries", [
        (f'infrazen_cost_daily{{scope="total",{C}}}', "last full day"),
        ('infrazen_cost_anomaly_score{scope=~"service:.*"}', "score {{scope}}")], 12, 5, 12, 8, unit="short"),
    panel(7, "By provider", "piechart", [(f'sum by (provider) (infrazen_infrastructure_cost_monthly{{provider=~"$provider",{C}}})', "{{provider}}")], 0, 13),
    panel(8, "By category", "piechart", [(f'sum by (category) (infrazen_infrastructure_cost_monthly{{provider=~"$provider",{C}}})', "{{category}}")], 8, 13),
    panel(9, "By service (month to date)", "bargauge", [(f'sum by (service) (infrazen_cost_month_to_date{{source=~"$source",{C}}})', "{{service}}")], 16, 13),
    panel(10, "Cost per tenant: run rate and billed month to date", "bargauge", [
        (f'sum by (tenant) (infrazen_tenant_cost_monthly{{tenant=~"$tenant",{C}}})', "{{tenant}}"),
        (f'sum(infrazen_unallocated_cost_monthly{{{C}}})', "unallocated"),
        (f'sum by (tenant) (infrazen_tenant_cost_month_to_date{{tenant=~"$tenant",{C}}})', "{{tenant}} month to date"),
        (f'sum(infrazen_unallocated_cost_month_to_date{{{C}}})', "unallocated month to date")], 0, 21),
    panel(11, "Storage growth", "timeseries", [('sum by (scope) (infrazen_capacity_used{dimension="storage_bytes"})', "{{scope}}")], 8, 21, unit="bytes"),
    panel(12, "Waste", "bargauge", [(f'sum by (kind) (infrazen_waste_cost_monthly{{{C}}})', "{{kind}}")], 16, 21),
    panel(13, "Optimisation opportunities", "table", [(f'infrazen_recommendation_savings_monthly{{source=~"$source",{C}}}', "{{kind}} {{resource_name}} ({{resource_id}})")], 0, 29, 12),
    panel(14, "Account balances", "bargauge", [('infrazen_account_balance{source=~"$source"}', "{{provider}} {{account}}")], 12, 29, 6),
    panel(15, "Balance runway", "bargauge", [('infrazen_account_time_until_depleted_seconds{source=~"$source"}', "{{provider}} {{account}}")], 18, 29, 6, unit="s"),
    panel(16, "Renewals", "table", [('infrazen_item_renewal_timestamp_seconds * 1000', "{{item}} ({{kind}}, auto-renew {{auto_renew}})")], 0, 37, 12, unit="dateTimeAsIso"),
    panel(17, "Sources", "table", [('infrazen_source_up', "{{source}}"), ('time() - infrazen_sync_last_success_timestamp_seconds', "{{source}} age")], 12, 37, 12, unit="short"),
    panel(18, "Run rate per account and project (per hour)", "bargauge", [
        (f'sum by (provider, account, project) (infrazen_resource_cost_per_hour{{source=~"$source",provider=~"$provider",account=~"$account",project=~"$project",{C}}})',
         "{{provider}} {{account}} {{project}}")], 0, 45, 12),
    panel(19, "Zombies and orphans by project", "table", [
        (f'sum by (account, project) (infrazen_resource_cost_per_hour{{account=~"$account",project=~"$project",{C}}} * on (source, resource_id) group_left () (infrazen_resource_info{{zombie="true"}} or on (source, resource_id) infrazen_resource_info{{orphan="true"}}))',
         "{{account}} {{project}}")], 12, 45, 12),
    row(100, "Health and unit economics", 53),
    panel(20, "Health score", "stat", [("infrazen_health_score", "score")], 0, 54, 6, 6, unit="none"),
    panel(21, "Health components", "bargauge", [("infrazen_health_component", "{{component}}")], 6, 54, 9, 6, unit="percentunit"),
    panel(22, "Health trend", "timeseries", [("infrazen_health_score", "score"), ("estate:infrazen_health_score:avg_1d", "1-day average")], 15, 54, 9, 6, unit="none"),
    panel(23, "Cost per unit", "timeseries", [
        (f'infrazen_unit_cost{{scope="total",{C}}}', "per {{unit}}"),
        (f'unit_scope:infrazen_unit_cost:avg_1d{{scope="total",{C}}}', "per {{unit}}, 1-day average")], 0, 60, 12),
    panel(24, "Tenants by margin", "table", [
        ('sort(infrazen_tenant_margin_ratio{tenant=~"$tenant"})', "{{tenant}} margin"),
        (f'infrazen_tenant_revenue_monthly{{tenant=~"$tenant",{C}}}', "{{tenant}} revenue")], 12, 60, 12, unit="short"),
    row(101, "Price lists (type openstack)", 68),
    # Resources a price list has no price for cost nothing known: shown, so that the list is completed.
    panel(26, "Unpriced resources", "table", [('infrazen_unpriced_resources{source=~"$source"}', "{{source}} {{resource_type}} {{price_key}}")],
          0, 69, 12, unit="short"),
    panel(27, "Run rate by provider and category", "bargauge", [
        (f'sum by (provider, category) (infrazen_infrastructure_cost_monthly{{provider=~"$provider",{C}}})', "{{provider}} {{category}}")], 12, 69, 12),
])
capacity = dashboard("infrazen-capacity", "InfraZen — capacity planning", [
    panel(1, "CPU utilisation", "gauge", [('sum(infrazen_capacity_used{dimension="cpu_cores"}) / sum(infrazen_capacity_size{dimension="cpu_cores"})', "cpu")], 0, 0, 6, 6, unit="percentunit"),
    panel(2, "Memory utilisation", "gauge", [('sum(infrazen_capacity_used{dimension="memory_bytes"}) / sum(infrazen_capacity_size{dimension="memory_bytes"})', "memory")], 6, 0, 6, 6, unit="percentunit"),
    panel(3, "Disk utilisation", "gauge", [('sum(infrazen_capacity_used{dimension="storage_bytes"}) / sum(infrazen_capacity_size{dimension="storage_bytes"})', "storage")], 12, 0, 6, 6, unit="percentunit"),
    panel(4, "Headroom", "bargauge", [('infrazen_capacity_headroom_ratio', "{{scope}} {{dimension}}")], 18, 0, 6, 6, unit="percentunit"),
    panel(5, "Used vs total", "timeseries", [('infrazen_capacity_used', "used {{dimension}}"), ('infrazen_capacity_size', "size {{dimension}}")], 0, 6, 12, 8, unit="short"),
    panel(6, "Time until full", "bargauge", [('infrazen_capacity_exhaustion_seconds', "{{scope}} {{dimension}}")], 12, 6, 12, 8, unit="s"),
    panel(7, "Storage growth", "timeseries", [('sum by (scope) (infrazen_capacity_used{dimension="storage_bytes"})', "{{scope}}")], 0, 14, 12, 8, unit="bytes"),
    panel(8, "Cost forecast", "bargauge", [(f'infrazen_cost_forecast{{scope="total",{C}}}', "{{horizon}}")], 12, 14, 12, 8),
    panel(9, "Tenant cost", "bargauge", [(f'sum by (tenant) (infrazen_tenant_cost_monthly{{tenant=~"$tenant",{C}}})', "{{tenant}}")], 0, 22, 12, 8),
    panel(10, "Resource utilisation", "table", [('infrazen_resource_utilization_ratio', "{{resource_id}} {{dimension}}")], 12, 22, 12, 8, unit="percentunit"),
    panel(11, "Scaling recommendations", "table", [(f'infrazen_recommendation_savings_monthly{{kind=~"rightsize|off_hours",{C}}}', "{{kind}} {{resource_id}}")], 0, 30, 24, 8),
    panel(12, "Storage per tenant", "bargauge", [('topk(20, sum by (tenant) (infrazen_storage_used_bytes{tenant=~"$tenant"}))', "{{tenant}}")], 0, 38, 12, 8, unit="bytes"),
    panel(13, "Tenant resources", "table", [('infrazen_tenant_usage{tenant=~"$tenant"}', "{{tenant}} {{dimension}}")], 12, 38, 12, 8, unit="short"),
    panel(14, "Cost per stored GB", "stat", [(f'sum(infrazen_tenant_cost_monthly{{{C}}}) / (sum(infrazen_storage_used_bytes) / 1e9)', "per GB")], 0, 46, 12, 6),
    panel(15, "Usage queries", "table", [('infrazen_usage_query_up', "{{usage}} {{dimension}}"), ('time() - infrazen_usage_query_last_success_timestamp_seconds', "{{usage}} {{dimension}} age")], 12, 46, 12, 6, unit="short"),
])
for name, board in [("cost-analysis.json", cost), ("capacity-planning.json", capacity)]:
    with open(os.path.join(ROOT, "deploy/grafana", name), "w") as f:
        json.dump(board, f, indent=2, ensure_ascii=False)
        f.write("\n")
