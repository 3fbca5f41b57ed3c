#!/usr/bin/env python3
"""Writes a synthetic, reproducible FOCUS 1.0 CSV export for benchmarks.

Usage:
    scripts/gen-focus.py N DAYS OUT [--gzip] [--start 2026-10-01] [--seed 1]

N distinct ResourceIds x DAYS daily rows = N*DAYS rows, ordered day by day (every resource
for day 1, then day 2, ...), 18 columns. ChargePeriodStart is midnight UTC, ChargePeriodEnd
the next midnight. Costs carry 2 decimals mostly and 4-10 on some rows; Credit rows are
negative. About 1 resource in 20 bills in EUR, the rest in USD (per resource). Some
ServiceNames contain commas, some ResourceNames a double quote (RFC 4180 quoting), Tags is
a JSON object (tenant among 200, ten per account) or empty. --gzip writes gzip level 6 (gzip module, in a
writer thread so compression overlaps generation on the second core).
N=100000 DAYS=30 gives about 684 MB (128 MB gzipped).
"""
import argparse
import datetime as dt
import gzip
import queue
import random
import threading

HEADER = ("BilledCost,EffectiveCost,ListCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,"
          "ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId,"
          "ResourceName,ResourceType,RegionId,SkuId,PricingQuantity,Tags\n")

# (ServiceName, ServiceCategory, ResourceType, id prefix, name stem, daily cost range, quantity)
SERVICES = [
    ("Amazon Elastic Compute Cloud", "Compute", "Instance", "i-0", "web", (2, 120), "24"),
    ("Amazon Elastic Compute Cloud", "Compute", "Instance", "i-0", "worker", (5, 400), "24"),
    ("Amazon Elastic Block Store", "Storage", "Volume", "vol-0", "data", (0.1, 30), "500"),
    ("Amazon Simple Storage Service", "Storage", "Bucket", "", "bucket", (0.01, 50), "1200"),
    ("Amazon Relational Database Service", "Databases", "DBInstance", "db-", "pg", (10, 600), "24"),
    ("Amazon Virtual Private Cloud", "Networking", "NatGateway", "nat-0", "nat", (1, 40), "24"),
    ("Amazon CloudFront, Data Transfer", "Networking", "Distribution", "E", "cdn", (0.5, 90), "300"),
    ("Amazon ElastiCache", "Databases", "CacheCluster", "cache-", "redis", (3, 150), "24"),
    ("AWS Lambda", "Compute", "Function", "fn-", "lambda", (0.01, 20), "86400"),
    ("Amazon OpenSearch Service, Managed Cluster", "Analytics", "Domain", "os-", "search", (8, 300), "24"),
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
ENVS = ["prod", "prod", "staging", "dev"]


def csv_field(s):
    """RFC 4180: quote a field holding a comma, a quote or a line break; double inner quotes."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def make_resources(n, rng):
    """Per resource: (currency, daily base cost, constant tail from ServiceCategory to Tags)."""
    accounts = ["%012d" % rng.randrange(10**11, 10**12) for _ in range(20)]
    resources = []
    for i in range(n):
        name, category, rtype, prefix, stem, (lo, hi), qty = SERVICES[rng.randrange(len(SERVICES))]
        rid = (prefix + "%012x" % rng.getrandbits(48)) if prefix else "%s-%07d" % (stem, i)
        rname = "%s-%d" % (stem, i)
        if rng.random() < 0.02:
            rname = '%s "%s" %d' % (stem, rng.choice(["blue", "green", "canary"]), i)
        # Tenants follow accounts (10 per account, 200 in all), as in an organisation whose
        # accounts belong to business units: what bounds the scopes per day (docs/storage.md).
        account = rng.randrange(len(accounts))
        if rng.random() < 0.85:
            tags = '{"tenant": "t%d", "env": "%s"}' % (account * 10 + rng.randrange(10), rng.choice(ENVS))
        else:
            tags = ""
        tail = ",".join(csv_field(f) for f in (
            category, name, "AWS", accounts[account], rid, rname, rtype,
            rng.choice(REGIONS), "%012X" % rng.getrandbits(48), qty, tags))
        currency = "EUR" if rng.random() < 0.05 else "USD"
        base = lo * (hi / lo) ** rng.random()  # log-uniform daily cost
        resources.append((currency, base, tail))
    return resources


def day_rows(resources, start, end, rng):
    """All rows of one day as one string."""
    rnd = rng.random
    dates = start + "," + end
    out = []
    for currency, base, tail in resources:
        x = rnd()
        cost = base * (0.8 + 0.4 * rnd())
        if x < 0.93:
            kind = "Usage"
        elif x < 0.97:
            kind, cost = "Tax", cost * 0.08
        elif x < 0.99:
            kind, cost = "Credit", cost * 0.5
        else:
            kind, cost = "Purchase", cost * 30
        cost = max(cost, 0.01)  # never prints as 0.00
        if kind == "Credit":
            cost = -cost
        if rnd() < 0.85:
            billed = "%.2f" % cost
        else:
            billed = "%.*f" % (4 + int(rnd() * 7), cost)  # 4..10 decimals
        effective = "%.2f" % (cost * 0.96)
        listed = "%.2f" % (cost * 1.25)
        out.append(billed + "," + effective + "," + listed + "," + currency + "," + dates
                   + "," + kind + "," + tail + "\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int, help="distinct ResourceIds")
    ap.add_argument("days", type=int, help="days of daily rows")
    ap.add_argument("out", help="output path")
    ap.add_argument("--gzip", action="store_true", help="write gzip (level 6)")
    ap.add_argument("--start", default="2026-10-01", help="first day (UTC), YYYY-MM-DD")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    resources = make_resources(args.n, rng)
    first = dt.date.fromisoformat(args.start)
    stamp = lambda d: d.isoformat() + "T00:00:00Z"

    if args.gzip:
        out = gzip.GzipFile(args.out, "wb", compresslevel=6, mtime=0)
    else:
        out = open(args.out, "wb")
    # A writer thread compresses/writes one day while the next is generated (zlib and file
    # writes release the GIL), so --gzip costs little more wall time than plain output.
    chunks = queue.Queue(maxsize=2)

    failed = []

    def writer():
        while (chunk := chunks.get()) is not None:
            if not failed:
                try:
                    out.write(chunk)
                except OSError as e:  # keep draining so the generator never blocks
                    failed.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    chunks.put(HEADER.encode())
    for k in range(args.days):
        day = first + dt.timedelta(days=k)
        chunks.put(day_rows(resources, stamp(day), stamp(day + dt.timedelta(days=1)), rng).encode())
    chunks.put(None)
    thread.join()
    out.close()
    if failed:
        raise SystemExit("gen-focus: writing %s failed: %s" % (args.out, failed[0]))


if __name__ == "__main__":
    main()
