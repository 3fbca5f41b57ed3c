#!/usr/bin/env python3
"""Writes a synthetic, reproducible FOCUS CSV export (1.0 by default; 1.3 or 1.4 on request) for benchmarks.

Usage:
    scripts/gen-focus.py N DAYS OUT [--gzip] [--start 2026-10-01] [--seed 1]
                         [--focus-version {1.0,1.3,1.4}] [--commitments]

N distinct ResourceIds x DAYS daily rows = N*DAYS rows, ordered day by day (every resource
for day 1, then day 2, ...), 18 columns. ChargePeriodStart is midnight UTC, ChargePeriodEnd
the next midnight. Costs carry 2 decimals mostly and 4-10 on some rows; Credit rows are
negative. About 1 resource in 20 bills in EUR, the rest in USD (per resource). Some
ServiceNames contain commas, some ResourceNames a double quote (RFC 4180 quoting), Tags is
a JSON object (tenant among 200, ten per account) or empty. --gzip writes gzip level 6 (gzip module, in a
writer thread so compression overlaps generation on the second core).
N=100000 DAYS=30 gives about 684 MB (128 MB gzipped).
Without --focus-version/--commitments the output is exactly what this script always wrote.

--focus-version 1.3 appends ServiceProviderName, HostProviderName, InvoiceIssuerName, InvoiceId,
CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountCategory, CommitmentDiscountType,
CommitmentDiscountStatus, CommitmentDiscountQuantity, CommitmentDiscountUnit, ContractApplied and
then PublisherName (deprecated in 1.3, kept) to the 18 columns. --focus-version 1.4 is the same
without ProviderName and PublisherName (removed in 1.4): the 17 remaining columns of the 18 keep
their order, the 12 new ones follow. Without --commitments the rows are the 1.0 rows of the same
seed, column for column, plus: ServiceProviderName = HostProviderName = PublisherName = "AWS",
InvoiceIssuerName per account (accounts 0-1 "Amazon Web Services EMEA SARL", account 2 a reseller
"Acme Cloud Reseller Ltd", the rest "Amazon Web Services, Inc."), InvoiceId per account and UTC
month of ChargePeriodStart, the commitment columns and ContractApplied empty.

--commitments (with 1.3 or 1.4) generates a different data set from the same resources:
  - each account bills in one currency (accounts 0 and 19 EUR, the rest USD; InvoiceIssuerName
    follows: "Amazon Web Services EMEA SARL" for EUR, "Amazon Web Services, Inc." for USD, the
    reseller on account 2); accounts 18 and 19 are Google Cloud (ServiceName, provider and
    issuer "Google LLC" / "Google Cloud EMEA Limited" mapped);
  - ordinary rows as before (Usage/Tax/Credit/Purchase mix) but EffectiveCost = BilledCost and
    no commitment columns; account 3's Usage rows carry a ContractApplied JSON (its 1.3 layout
    is illustrative, not verified against the spec);
  - commitments per account: AWS Compute Savings Plans (category Spend, 10 decimals), EC2
    Reserved Instances (Usage, 2 decimals), RDS Reserved Instances (Usage, 6 decimals), Google
    Cloud committed use discounts (resource-based: Usage, 6 decimals; flexible: Spend, 10
    decimals). Each has a daily amortized amount D and covers a subset of its account's eligible
    resources (each resource at most one commitment). Every day its covered resources draw on D
    at the discounted rate (on-demand cost x (1 - discount)), in a fixed order: a row that fits
    is one Usage row with CommitmentDiscountStatus Used, BilledCost 0 and EffectiveCost = that
    drawn amount; the row that exhausts D is split into a Used row (the rest of D) and an
    on-demand row for the uncovered share (BilledCost = EffectiveCost); later rows are on-demand.
    What is left of D is one Unused row (ChargeCategory Usage, BilledCost 0, EffectiveCost = the
    rest, ResourceId = CommitmentDiscountId, no tags). A commitment with no eligible resource left in
    its account, and account 16's Savings Plan on purpose, is Unused all day (utilization 0). Per
    commitment and day Used + Unused = D exactly.
  - the fee: "No Upfront" commitments have one Purchase row per calendar month in the file
    (ChargePeriodStart the month's first day in the file, BilledCost = D x the month's days in
    the file, EffectiveCost 0, ResourceId = CommitmentDiscountId); "All Upfront" ones one
    Purchase row on the first day for D x DAYS. So for every commitment, over the file,
    sum(EffectiveCost of its Usage rows) = sum(BilledCost of its Purchase rows), as FOCUS
    requires of EffectiveCost (the term is taken to start on the first day and end on the last).
  - marketplace rows, one a day each: "Datadog" sold through AWS Marketplace on accounts 1, 5 and
    9 (ServiceProviderName Datadog, HostProviderName AWS, ProviderName AWS, PublisherName Datadog,
    InvoiceIssuerName the account's AWS issuer, an InvoiceId of its own per month, no ResourceId,
    10-decimal costs) and "MongoDB" through Google Cloud Marketplace on account 18.
--commitments with --focus-version 1.0 is refused (the 1.0 header has no commitment columns).
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
NEW_COLUMNS = ("ServiceProviderName,HostProviderName,InvoiceIssuerName,InvoiceId,CommitmentDiscountId,"
               "CommitmentDiscountName,CommitmentDiscountCategory,CommitmentDiscountType,CommitmentDiscountStatus,"
               "CommitmentDiscountQuantity,CommitmentDiscountUnit,ContractApplied")

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

# --commitments: accounts 18 and 19 are Google Cloud billing accounts; their resources' services and
# regions map to Google Cloud's.
GCP_ACCOUNTS = (18, 19)
EUR_ACCOUNTS = (0, 19)
RESELLER_ACCOUNT = 2
CONTRACT_ACCOUNT = 3
GCP_SERVICES = {
    "Amazon Elastic Compute Cloud": "Compute Engine", "Amazon Elastic Block Store": "Compute Engine",
    "Amazon Simple Storage Service": "Cloud Storage", "Amazon Relational Database Service": "Cloud SQL",
    "Amazon Virtual Private Cloud": "Cloud NAT", "Amazon CloudFront, Data Transfer": "Cloud CDN, Networking",
    "Amazon ElastiCache": "Memorystore for Redis", "AWS Lambda": "Cloud Run functions",
    "Amazon OpenSearch Service, Managed Cluster": "Vertex AI Search",
}
GCP_REGIONS = {"us-east-1": "us-east1", "us-west-2": "us-west1", "eu-west-1": "europe-west1",
               "eu-central-1": "europe-west3", "ap-southeast-1": "asia-southeast1"}
AWS_ISSUER_EUR, AWS_ISSUER_USD = "Amazon Web Services EMEA SARL", "Amazon Web Services, Inc."
RESELLER_ISSUER = "Acme Cloud Reseller Ltd"
GCP_ISSUER_EUR, GCP_ISSUER_USD = "Google Cloud EMEA Limited", "Google LLC"


def ordinary_charge(rnd, base):
    """An ordinary row's charge category and cost: mostly usage, some tax, credits and purchases.
    Draws two numbers from rnd, in this order, as the rows always have."""
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
    return kind, max(cost, 0.01)  # never prints as 0.00


def csv_field(s):
    """RFC 4180: quote a field holding a comma, a quote or a line break; double inner quotes."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def make_resources(n, rng):
    """Per resource: [currency, daily base cost, fields ServiceCategory..Tags, account index, service index].

    The random draws are those (and in the order) this script always made, so a seed gives the
    same resources in every mode."""
    accounts = ["%012d" % rng.randrange(10**11, 10**12) for _ in range(20)]
    resources = []
    for i in range(n):
        kind = rng.randrange(len(SERVICES))
        name, category, rtype, prefix, stem, (lo, hi), qty = SERVICES[kind]
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
        region = rng.choice(REGIONS)
        sku = "%012X" % rng.getrandbits(48)
        fields = [category, name, "AWS", accounts[account], rid, rname, rtype, region, sku, qty, tags]
        currency = "EUR" if rng.random() < 0.05 else "USD"
        base = lo * (hi / lo) ** rng.random()  # log-uniform daily cost
        resources.append([currency, base, fields, account, kind])
    return accounts, resources


def tail_of(fields, version):
    """ServiceCategory..Tags as CSV, without ProviderName (fields[2]) in FOCUS 1.4."""
    if version == "1.4":
        fields = fields[:2] + fields[3:]
    return ",".join(csv_field(f) for f in fields)


def day_rows(resources, start, end, rng):
    """All rows of one day as one string."""
    rnd = rng.random
    dates = start + "," + end
    out = []
    for currency, base, tail in resources:
        kind, cost = ordinary_charge(rnd, base)
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


def months_of(first, days):
    """The (year, month) of each day, and each month's first day in the file and its number of days there."""
    month_of_day, spans = [], {}
    for k in range(days):
        day = first + dt.timedelta(days=k)
        key = (day.year, day.month)
        month_of_day.append(key)
        if key not in spans:
            spans[key] = [k, 0]
        spans[key][1] += 1
    return month_of_day, spans


def invoice_id(account, issuer, year, month, marketplace=False):
    """A stable invoice number per account, issuer and month, shaped like the issuer's."""
    if issuer == RESELLER_ISSUER:
        return "ACR-%04d%02d-%03d" % (year, month, account)
    if issuer == AWS_ISSUER_EUR:
        return "EUINLU%02d-%06d" % (year % 100, account * 100 + month + (50 if marketplace else 0))
    serial = account * 10000 + (year % 100) * 100 + month
    if issuer in (GCP_ISSUER_EUR, GCP_ISSUER_USD):
        return "%d" % (4100000000 + serial + (5000000 if marketplace else 0))
    return "%d" % (2100000000 + serial + (5000000 if marketplace else 0))


def plain_issuer(account):
    """InvoiceIssuerName of an account without --commitments."""
    if account == RESELLER_ACCOUNT:
        return RESELLER_ISSUER
    return AWS_ISSUER_EUR if account < 2 else AWS_ISSUER_USD


UNIT = 10**10  # --commitments money is held in integer units of 1e-10


def units_text(v, decimals):
    """An integer count of 1e-10 units (a multiple of 10**(10 - decimals)) with `decimals` decimals."""
    sign = "-" if v < 0 else ""
    whole, frac = divmod(abs(v), UNIT)
    if decimals == 0:
        return "%s%d" % (sign, whole)
    return "%s%d.%s" % (sign, whole, ("%010d" % frac)[:decimals])


class Commitment:
    """One commitment discount and what its rows share."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def build_commitment_set(accounts, resources, version, first, days, seed):
    """Everything --commitments adds: per-account currency and issuer, ordinary resources,
    commitments with their covered resources, marketplace offers. Draws from its own generator."""
    crng = random.Random(seed * 1000003 + 28)
    month_of_day, spans = months_of(first, days)
    months = sorted(spans)
    pub = version == "1.3"

    def account_info(a):
        gcp = a in GCP_ACCOUNTS
        currency = "EUR" if a in EUR_ACCOUNTS else "USD"
        if gcp:
            issuer = GCP_ISSUER_EUR if currency == "EUR" else GCP_ISSUER_USD
        elif a == RESELLER_ACCOUNT:
            issuer = RESELLER_ISSUER
        else:
            issuer = AWS_ISSUER_EUR if currency == "EUR" else AWS_ISSUER_USD
        return gcp, currency, issuer

    def ext(spn, hpn, issuer, invoice, cid="", cname="", ccat="", ctype="", status="", qty="", unit="", publisher=""):
        """The columns after Tags up to CommitmentDiscountUnit, and (split off) ContractApplied's place + PublisherName."""
        head = "," + ",".join(csv_field(f) for f in (spn, hpn, issuer, invoice, cid, cname, ccat, ctype, status, qty, unit))
        return head, ("," + csv_field(publisher) if pub else "")

    # Ordinary resources: (currency, base, tail, ext per month index, account) with the account's currency.
    ordinary = []
    by_account = {}
    for r in resources:
        currency, base, fields, a, kind = r
        gcp, acurrency, issuer = account_info(a)
        fields = list(fields)
        if gcp:
            fields[1] = GCP_SERVICES[fields[1]]
            fields[2] = "Google Cloud"
            fields[7] = GCP_REGIONS[fields[7]]
            fields[4] = "//compute.googleapis.com/projects/prj-%s/resources/%s" % (accounts[a][-6:], fields[4])
        provider = fields[2]
        tail = tail_of(fields, version)
        heads = [ext(provider, provider, issuer, invoice_id(a, issuer, y, m), publisher=provider) for (y, m) in months]
        exts = [head + "," + publisher for head, publisher in heads]  # ContractApplied empty
        item = [acurrency, base, tail, exts, a, kind, fields, heads]
        ordinary.append(item)
        by_account.setdefault(a, []).append(item)

    # Commitments. Eligible services by index in SERVICES: EC2 0-1, RDS 4, Lambda 8.
    plans = []
    for a in range(len(accounts)):
        if a in GCP_ACCOUNTS:
            plans += [(a, "gcp-resource"), (a, "gcp-flex")]
            continue
        if a % 3 != 2:
            plans.append((a, "sp"))
        if a % 2 == 0:
            plans.append((a, "ec2-ri"))
        if a % 4 == 1:
            plans.append((a, "rds-ri"))
    eligible_kinds = {"sp": (0, 1, 8), "ec2-ri": (0, 1), "rds-ri": (4,), "gcp-resource": (0, 1), "gcp-flex": (0, 1, 4)}
    covered_ids = set()
    commitments = []
    for a, what in plans:
        gcp, currency, issuer = account_info(a)
        acct = accounts[a]
        pool = [it for it in by_account.get(a, []) if it[5] in eligible_kinds[what] and id(it) not in covered_ids]
        share = {"sp": 0.3, "ec2-ri": 0.2, "rds-ri": 0.25, "gcp-resource": 0.2, "gcp-flex": 0.3}[what]
        take = min(len(pool), max(1, int(len(pool) * share))) if pool else 0
        if a == 16 and what == "sp":
            take = 0  # one Savings Plan that covers nothing: unused all day
        covered = crng.sample(pool, take) if take else []
        for it in covered:
            covered_ids.add(id(it))
        uid = "%08x-%04x-%04x-%04x-%012x" % (crng.getrandbits(32), crng.getrandbits(16), crng.getrandbits(16),
                                              crng.getrandbits(16), crng.getrandbits(48))
        region = covered[0][6][7] if covered else ("europe-west1" if gcp else "us-east-1")
        if what == "sp":
            c = dict(cid="arn:aws:savingsplans::%s:savingsplan/%s" % (acct, uid),
                     cname="Compute Savings Plan %s 1yr" % uid[:4], ccat="Spend", ctype="Savings Plan",
                     service="Savings Plans for AWS Compute usage", scat="Compute", rtype="Savings Plan",
                     discount=0.28, decimals=10, zero="0.00")
        elif what == "ec2-ri":
            c = dict(cid="arn:aws:ec2:%s:%s:reserved-instances/%s" % (region, acct, uid),
                     cname="m6i.xlarge Linux/UNIX %s" % region, ccat="Usage", ctype="Reserved Instance",
                     service="Amazon Elastic Compute Cloud", scat="Compute", rtype="Reserved Instance",
                     discount=0.40, decimals=2, zero="0.00")
        elif what == "rds-ri":
            c = dict(cid="arn:aws:rds:%s:%s:ri:ri-%s" % (region, acct, uid[:13]),
                     cname="db.r6g.large PostgreSQL %s" % region, ccat="Usage", ctype="Reserved Instance",
                     service="Amazon Relational Database Service", scat="Databases", rtype="Reserved Instance",
                     discount=0.35, decimals=6, zero="0.00")
        elif what == "gcp-resource":
            c = dict(cid="projects/prj-%s/regions/%s/commitments/cud-%s" % (acct[-6:], region, uid[:8]),
                     cname="cud-n2-standard-%s" % uid[:4], ccat="Usage", ctype="Committed Use Discount",
                     service="Compute Engine", scat="Compute", rtype="Commitment",
                     discount=0.37, decimals=6, zero="0")
        else:
            c = dict(cid="projects/prj-%s/regions/%s/commitments/flex-%s" % (acct[-6:], region, uid[:8]),
                     cname="flex-cud %s, prod" % region, ccat="Spend", ctype="Committed Use Discount",
                     service="Compute Engine", scat="Compute", rtype="Commitment",
                     discount=0.28, decimals=10, zero="0")
        quantum = 10 ** (10 - c["decimals"])
        rate = sum(it[1] for it in covered) * (1 - c["discount"])
        if covered:
            factor = crng.choice([0.7, 0.85, 0.95, 1.1, 1.3, 1.6])
        else:
            rate, factor = 5 + crng.random() * 200, 1.0
        daily = max(quantum, int(rate * factor * UNIT) // quantum * quantum)
        upfront = what in ("ec2-ri", "rds-ri") and crng.random() < 0.4
        provider = "Google Cloud" if gcp else "AWS"
        hours = 24 * max(1, len(covered))  # usage-based: reserved hours a day
        k = Commitment(account=a, currency=currency, issuer=issuer, covered=covered, daily=daily, quantum=quantum,
                       upfront=upfront, provider=provider, hours=hours, **c)
        k.spend = k.ccat == "Spend"
        k.unit = currency if k.spend else "Hours"
        k.hour_rate = daily / UNIT / hours
        k.invoices = [invoice_id(a, issuer, y, m) for (y, m) in months]
        sku = "%s-%s" % (k.rtype.upper().replace(" ", "-"), uid[:6].upper())
        fields = [k.scat, k.service, provider, acct, k.cid, k.cname, k.rtype, region, sku + "-UNUSED", "1", ""]
        k.unused_tail = tail_of(fields, version)
        fields[8] = sku + "-PURCHASE"
        k.purchase_tail = tail_of(fields, version)
        k.ext = lambda mi, status, qty, k=k: ",".join(ext(k.provider, k.provider, k.issuer, k.invoices[mi], k.cid, k.cname,
                                                          k.ccat, k.ctype, status, qty, k.unit, publisher=k.provider))
        commitments.append(k)
    ordinary = [it for it in ordinary if id(it) not in covered_ids]

    # Marketplace offers: (account, seller, host, service, category, sku, daily hosts, rate in units).
    market = []
    for a, seller, host, service, sku in ((1, "Datadog", "AWS", "Datadog Pro (AWS Marketplace)", "DD-PRO-HOST"),
                                          (5, "Datadog", "AWS", "Datadog Pro (AWS Marketplace)", "DD-PRO-HOST"),
                                          (9, "Datadog", "AWS", "Datadog Pro (AWS Marketplace)", "DD-PRO-HOST"),
                                          (18, "MongoDB", "Google Cloud", "MongoDB Atlas (Google Cloud Marketplace)", "MDB-ATLAS-M30")):
        _, currency, issuer = account_info(a)
        fields = ["Management and Governance" if seller == "Datadog" else "Databases", service, host, accounts[a],
                  "", "", "", "", sku]  # then PricingQuantity (hosts that day) and empty Tags
        exts = [",".join(ext(seller, host, issuer, invoice_id(a, issuer, y, m, marketplace=True), publisher=seller))
                for (y, m) in months]
        rate = crng.randrange(2000000000, 9000000000) + crng.randrange(1, 10**6)  # 0.2..0.9 a host-day, 10 decimals
        market.append((currency, tail_of(fields, version), exts, 5 + crng.randrange(60), rate))

    contract = {CONTRACT_ACCOUNT: "edp-%s-2026" % accounts[CONTRACT_ACCOUNT]}  # account 3's contract commitment
    return dict(ordinary=ordinary, commitments=commitments, market=market, month_of_day=month_of_day,
                spans=spans, months=months, contract=contract, ext=ext, pub=pub)


def commitment_day_rows(cs, k_day, first, days, rng):
    """All rows of one day of a --commitments file as one string."""
    rnd = rng.random
    day = first + dt.timedelta(days=k_day)
    stamp = lambda d: d.isoformat() + "T00:00:00Z"
    dates = stamp(day) + "," + stamp(day + dt.timedelta(days=1))
    ym = cs["month_of_day"][k_day]
    mi = cs["months"].index(ym)
    contract_account = CONTRACT_ACCOUNT
    contract_id = cs["contract"][CONTRACT_ACCOUNT]
    out = []
    for currency, base, tail, exts, a, kind_, fields, heads in cs["ordinary"]:
        kind, cost = ordinary_charge(rnd, base)
        if kind == "Credit":
            cost = -cost
        if rnd() < 0.85:
            billed = "%.2f" % cost
        else:
            billed = "%.*f" % (4 + int(rnd() * 7), cost)
        e = exts[mi]
        if a == contract_account and kind == "Usage":
            applied = ('[{"ContractCommitmentId": "%s", "ContractCommitmentAppliedCost": %s, '
                       '"ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null}]' % (contract_id, billed))
            head, publisher = heads[mi]
            e = head + "," + csv_field(applied) + publisher
        out.append(billed + "," + billed + "," + "%.2f" % (cost * 1.25) + "," + currency + "," + dates
                   + "," + kind + "," + tail + e + "\n")
    for k in cs["commitments"]:
        remaining = k.daily
        q = k.quantum
        keep = 1 - k.discount
        for currency, base, tail, exts, a, kind_, fields, heads in k.covered:
            cost = base * (0.8 + 0.4 * rnd())
            listed = "%.2f" % (cost * 1.25)
            drawn = max(q, int(cost * keep * UNIT) // q * q)
            if remaining == 0:
                out.append("%.2f,%.2f,%s,%s,%s,Usage,%s%s\n" % (cost, cost, listed, currency, dates, tail, exts[mi]))
                continue
            use = drawn if drawn <= remaining else remaining
            qty = units_text(use, k.decimals) if k.spend else "%.4f" % (use / UNIT / k.hour_rate)
            out.append("%s,%s,%s,%s,%s,Usage,%s%s\n" % (k.zero, units_text(use, k.decimals), listed, currency, dates,
                                                        tail, k.ext(mi, "Used", qty)))
            if drawn > remaining:  # the uncovered share of this resource's day, at on-demand price
                over = max(0.01, cost * (drawn - remaining) / drawn)
                out.append("%.2f,%.2f,%.2f,%s,%s,Usage,%s%s\n" % (over, over, over * 1.25, currency, dates, tail, exts[mi]))
            remaining -= use
        if remaining:
            qty = units_text(remaining, k.decimals) if k.spend else "%.4f" % (remaining / UNIT / k.hour_rate)
            out.append("%s,%s,,%s,%s,Usage,%s%s\n" % (k.zero, units_text(remaining, k.decimals), k.currency, dates,
                                                     k.unused_tail, k.ext(mi, "Unused", qty)))
        # The fee: per month in the file ("No Upfront"), or once on the first day ("All Upfront").
        start, count = cs["spans"][ym]
        if (k.upfront and k_day == 0) or (not k.upfront and k_day == start):
            span = days if k.upfront else count
            end = first + dt.timedelta(days=(days if k.upfront else start + count))
            fee = units_text(k.daily * span, k.decimals)
            qty = fee if k.spend else "%d" % (k.hours * span)
            out.append("%s,%s,%s,%s,%s,%s,Purchase,%s%s\n" % (fee, k.zero, fee, k.currency, stamp(day), stamp(end),
                                                             k.purchase_tail, k.ext(mi, "", qty)))
    for currency, tail, exts, hosts, rate in cs["market"]:
        n = hosts + int(rnd() * 5)
        cost = units_text(n * rate, 10)
        out.append("%s,%s,%s,%s,%s,Usage,%s,%d,%s\n" % (cost, cost, cost, currency, dates, tail, n, exts[mi]))
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int, help="distinct ResourceIds")
    ap.add_argument("days", type=int, help="days of daily rows")
    ap.add_argument("out", help="output path")
    ap.add_argument("--gzip", action="store_true", help="write gzip (level 6)")
    ap.add_argument("--start", default="2026-10-01", help="first day (UTC), YYYY-MM-DD")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--focus-version", choices=["1.0", "1.3", "1.4"], default="1.0",
                    help="1.0: the 18 columns; 1.3: plus the 1.3 columns and PublisherName; 1.4: without ProviderName/PublisherName")
    ap.add_argument("--commitments", action="store_true",
                    help="commitments (Used/Unused/Purchase rows), marketplace rows, per-account currencies (1.3/1.4)")
    args = ap.parse_args()
    if args.commitments and args.focus_version == "1.0":
        ap.error("--commitments needs --focus-version 1.3 or 1.4 (the 1.0 header has no commitment columns)")

    rng = random.Random(args.seed)
    accounts, resources = make_resources(args.n, rng)
    first = dt.date.fromisoformat(args.start)
    stamp = lambda d: d.isoformat() + "T00:00:00Z"
    version = args.focus_version
    if version == "1.0":
        header = HEADER
    else:
        base = HEADER.rstrip("\n").split(",")
        if version == "1.4":
            base.remove("ProviderName")
        header = ",".join(base) + "," + NEW_COLUMNS + (",PublisherName" if version == "1.3" else "") + "\n"

    if args.commitments:
        cs = build_commitment_set(accounts, resources, version, first, args.days, args.seed)
        produce = lambda k: commitment_day_rows(cs, k, first, args.days, rng)
    else:
        if version == "1.0":
            plain = [(currency, base, tail_of(fields, version)) for currency, base, fields, _, _ in resources]
            by_month = lambda k: plain
        else:
            month_of_day, spans = months_of(first, args.days)
            cache = {}

            def by_month(k):
                y, m = month_of_day[k]
                if (y, m) not in cache:
                    rows = []
                    for currency, base, fields, a, _ in resources:
                        issuer = plain_issuer(a)
                        e = "," + ",".join(csv_field(f) for f in ("AWS", "AWS", issuer, invoice_id(a, issuer, y, m))) + ",,,,,,,,"
                        rows.append((currency, base, tail_of(fields, version) + e + (",AWS" if version == "1.3" else "")))
                    cache[(y, m)] = rows
                return cache[(y, m)]
        produce = lambda k: day_rows(by_month(k), stamp(first + dt.timedelta(days=k)),
                                     stamp(first + dt.timedelta(days=k + 1)), rng)

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
    chunks.put(header.encode())
    for k in range(args.days):
        chunks.put(produce(k).encode())
    chunks.put(None)
    thread.join()
    out.close()
    if failed:
        raise SystemExit("gen-focus: writing %s failed: %s" % (args.out, failed[0]))


if __name__ == "__main__":
    main()
