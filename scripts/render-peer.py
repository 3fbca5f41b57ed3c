#!/usr/bin/env python3
"""Peer figure for the exporter's /metrics render: Python prometheus_client with N series.

Usage:
    scripts/render-peer.py N

Needs the prometheus_client package (pip install prometheus_client). Builds N series of a
gauge shaped like the exporter's infrazen_resource_cost_per_hour (12 labels, deterministic
values; scripts/render-peer-go/main.go builds the same series), times generate_latest(registry)
(best of 5) and prints:
    python_prometheus_client_render_seconds=<float>
    bytes=<size of one exposition>
"""
import sys
import time

try:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest
except ImportError:
    sys.exit("render-peer: the Python package 'prometheus_client' is not importable; "
             "install it with: pip install prometheus_client")

LABELS = ["source", "provider", "account", "region", "service", "category", "resource_type",
          "resource_id", "resource_name", "tenant", "environment", "currency"]
# (source, provider, currency, regions, [(service, category, resource_type, name stem)])
SOURCES = [
    ("aws-focus", "aws", "USD", ["us-east-1", "eu-west-1", "eu-central-1"],
     [("Amazon Elastic Compute Cloud", "compute", "instance", "web"),
      ("Amazon Simple Storage Service", "storage", "bucket", "assets"),
      ("Amazon Relational Database Service", "database", "db_instance", "pg")]),
    ("yandex", "yandex", "RUB", ["ru-central1-a", "ru-central1-b", "ru-central1-d"],
     [("Compute Cloud", "compute", "server", "worker"),
      ("Object Storage", "storage", "bucket", "backups"),
      ("Managed Service for PostgreSQL", "database", "cluster", "db")]),
    ("selectel", "selectel", "RUB", ["ru-1", "ru-7", "ru-9"],
     [("Cloud Servers", "compute", "server", "app"),
      ("Network Volumes", "storage", "volume", "vol"),
      ("Load Balancers", "network", "load_balancer", "lb")]),
    ("gcp-billing", "gcp", "USD", ["europe-west1", "us-central1", "asia-east1"],
     [("Compute Engine", "compute", "instance", "node"),
      ("Cloud Storage", "storage", "bucket", "media"),
      ("Cloud SQL", "database", "db_instance", "sql")]),
]
ENVS = ["prod", "staging", "dev", ""]


def series(i):
    """Label values and value of series i (same formulas as render-peer-go/main.go)."""
    source, provider, currency, regions, services = SOURCES[i % 4]
    service, category, rtype, stem = services[i // 4 % 3]
    env = ENVS[i % 7 % 4]
    if i % 20 == 0:
        currency = "EUR"
    labels = [source, provider, "%012d" % (100000000000 + i % 20 * 7919), regions[i % 3],
              service, category, rtype, "6f1c2a3b-%04x-4d5e-8f90-%012x" % (i % 65536, i),
              "%s-%s-%d" % (stem, env or "misc", i), "" if i % 9 == 0 else "t%d" % (i % 200),
              env, currency]
    value = (i * 2654435761 % 99999000000 + 1000000) / 1e8  # 0.01 .. 1000, 8 decimals
    return labels, value


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    registry = CollectorRegistry()
    gauge = Gauge("infrazen_resource_cost_per_hour",
                  "Current run rate of one resource, billing-first, including volumes folded into it.",
                  LABELS, registry=registry)
    for i in range(n):
        labels, value = series(i)
        gauge.labels(*labels).set(value)
    best, size = float("inf"), 0
    for _ in range(5):
        t0 = time.perf_counter()
        body = generate_latest(registry)
        best = min(best, time.perf_counter() - t0)
        size = len(body)
    print("python_prometheus_client_render_seconds=%.4f" % best)
    print("bytes=%d" % size)


if __name__ == "__main__":
    main()
