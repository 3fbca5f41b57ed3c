#!/usr/bin/env python3
"""Cross-checks scripts/gen-focus.py and scripts/focus-oracle.py --commitments with plain Python (csv + decimal).

Usage: scripts/focus-oracle-selfcheck.py [--keep DIR]

1. gen-focus.py's default output is still byte for byte what it was (sha256 of N=300 DAYS=10 seed 1).
2. --focus-version 1.3/1.4 without --commitments are the 1.0 rows of the same seed plus the new
   columns (1.4 without ProviderName).
3. For 1.3 and 1.4 files with --commitments (N=300 DAYS=10 from 2026-10-25, one gzipped), every
   billed/effective/commitment/coverage/invoice/provider line the oracle prints for 2026-10 and
   2026-11 in Europe/Moscow and America/New_York equals the same figures summed here.
4. FOCUS invariants of those files: per commitment, Usage EffectiveCost = Purchase BilledCost and
   Used + Unused is the same every day; Used/Unused rows bill 0, Purchase rows have EffectiveCost 0,
   Unused rows carry the commitment as ResourceId; the whole file's BilledCost = EffectiveCost.
Prints one line per check and exits 1 on the first difference.
"""
import argparse, csv, datetime as dt, decimal, gzip, hashlib, os, shutil, subprocess, sys, tempfile
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHA256 = "466d6b7955a2b77df252ac94676a698f21678bb2066cd7a7b02e2bc4c9ff1d73"  # gen-focus.py 300 10 OUT
KINDS = ("billed", "effective", "commitment", "coverage", "invoice", "provider")


def fail(msg):
    sys.exit("FAIL " + msg)


def gen(out, *extra):
    subprocess.run([sys.executable, os.path.join(HERE, "gen-focus.py"), "300", "10", out, *extra], check=True)


def rows(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def text(d):
    return format(d.normalize(), "f")


def ratio(n, d):
    with decimal.localcontext() as c:
        c.prec = 80
        return "-" if d == 0 else str((n / d).quantize(Decimal("0.000001"), rounding=decimal.ROUND_HALF_EVEN))


def expected(data, month, zone, provider_column):
    z = ZoneInfo(zone)
    picked = [r for r in data if dt.datetime.strptime(r["ChargePeriodStart"], "%Y-%m-%dT%H:%M:%SZ")
              .replace(tzinfo=dt.timezone.utc).astimezone(z).strftime("%Y-%m") == month]
    sums, com, cov, inv, prov = defaultdict(Decimal), {}, {}, defaultdict(Decimal), defaultdict(int)
    for r in picked:
        cur, billed, eff, status = r["BillingCurrency"], Decimal(r["BilledCost"]), Decimal(r["EffectiveCost"]), r["CommitmentDiscountStatus"]
        sums["billed", cur] += billed
        sums["effective", cur] += eff
        if r["CommitmentDiscountId"] and status in ("Used", "Unused"):
            c = com.setdefault((r["CommitmentDiscountId"], cur), [set(), set(), set(), Decimal(0), Decimal(0)])
            for i, col in enumerate(("CommitmentDiscountName", "CommitmentDiscountType", "CommitmentDiscountCategory")):
                if r[col]:
                    c[i].add(r[col])
            c[3 if status == "Used" else 4] += eff
        if r["ChargeCategory"] == "Usage" and status != "Unused":
            v = cov.setdefault((r["ServiceName"], cur), [Decimal(0), Decimal(0)])
            v[0] += eff if status == "Used" else 0
            v[1] += eff
        if r["InvoiceId"]:
            inv[r["InvoiceId"], r["InvoiceIssuerName"], cur] += billed
        prov[r[provider_column].lower() or "focus"] += 1
    out = ["%s %s %s" % (k, cur, text(v)) for (k, cur), v in sums.items()]
    out += ["commitment %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s" % (cid, *(min(s) if s else "" for s in c[:3]), cur, text(c[3]), text(c[4]),
                                                          ratio(c[3], c[3] + c[4])) for (cid, cur), c in com.items()]
    out += ["coverage %s\t%s\t%s" % (s, cur, ratio(n, d)) for (s, cur), (n, d) in cov.items() if d != 0]
    out += ["invoice %s\t%s\t%s\t%s" % (i, who, cur, text(v)) for (i, who, cur), v in inv.items()]
    out += ["provider %s %d" % kv for kv in prov.items()]
    return sorted(out)


def invariants(data, name):
    usage, purchase, daily = defaultdict(Decimal), defaultdict(Decimal), defaultdict(Decimal)
    for r in data:
        cid, status, cat = r["CommitmentDiscountId"], r["CommitmentDiscountStatus"], r["ChargeCategory"]
        if not cid:
            continue
        if status in ("Used", "Unused"):
            usage[cid] += Decimal(r["EffectiveCost"])
            daily[cid, r["ChargePeriodStart"]] += Decimal(r["EffectiveCost"])
            if Decimal(r["BilledCost"]) != 0 or (status == "Unused" and r["ResourceId"] != cid):
                fail("%s: a %s row bills or names another resource: %s" % (name, status, r))
        elif cat == "Purchase":
            purchase[cid] += Decimal(r["BilledCost"])
            if Decimal(r["EffectiveCost"]) != 0:
                fail("%s: Purchase row with EffectiveCost: %s" % (name, r))
    if usage != purchase:
        fail("%s: Usage EffectiveCost != Purchase BilledCost for %s" % (name, [c for c in usage if usage[c] != purchase[c]]))
    per_day = defaultdict(set)
    for (cid, _), v in daily.items():
        per_day[cid].add(v)
    if any(len(v) != 1 for v in per_day.values()):
        fail("%s: Used + Unused differs between days" % name)
    billed, eff = sum(Decimal(r["BilledCost"]) for r in data), sum(Decimal(r["EffectiveCost"]) for r in data)
    if billed != eff:
        fail("%s: file BilledCost %s != EffectiveCost %s" % (name, billed, eff))
    print("ok invariants %s: %d commitments, file billed = effective = %s" % (name, len(usage), text(billed)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", help="write the generated files here and keep them (default: a temporary directory, removed)")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="focus-selfcheck-")
    os.makedirs(tmp, exist_ok=True)
    p = lambda name: os.path.join(tmp, name)

    gen(p("v1.0.csv"))
    digest = hashlib.sha256(open(p("v1.0.csv"), "rb").read()).hexdigest()
    if digest != DEFAULT_SHA256:
        fail("default output changed: sha256 %s" % digest)
    print("ok default output unchanged (sha256 %s...)" % digest[:16])

    base = [list(r.values()) for r in rows(p("v1.0.csv"))]
    for v, drop in (("1.3", None), ("1.4", 9)):
        gen(p("plain%s.csv" % v), "--focus-version", v)
        got = [list(r.values()) for r in rows(p("plain%s.csv" % v))]
        want = [r if drop is None else r[:drop] + r[drop + 1:] for r in base]
        if [r[:len(w)] for r, w in zip(got, want)] != want or len(got) != len(want):
            fail("--focus-version %s rows are not the 1.0 rows" % v)
        print("ok --focus-version %s = 1.0 rows + %d columns" % (v, len(got[0]) - len(want[0])))

    for v, name in (("1.3", "c1.3.csv"), ("1.4", "c1.4.csv.gz")):
        gen(p(name), "--focus-version", v, "--commitments", "--start", "2026-10-25", *(["--gzip"] if name.endswith(".gz") else []))
        data = rows(p(name))
        invariants(data, name)
        for month in ("2026-10", "2026-11"):
            for zone in ("Europe/Moscow", "America/New_York"):
                out = subprocess.run([sys.executable, os.path.join(HERE, "focus-oracle.py"), p(name), "--commitments",
                                      "--month", month, "--timezone", zone], check=True, capture_output=True, text=True).stdout
                oracle = sorted(line for line in out.splitlines() if line.split(" ", 1)[0] in KINDS)
                mine = expected(data, month, zone, "ServiceProviderName")
                if oracle != mine:
                    diff = sorted(set(oracle) ^ set(mine))
                    fail("%s %s %s: oracle and csv+decimal differ:\n  %s" % (name, month, zone, "\n  ".join(diff[:20])))
                counts = {k: sum(1 for line in oracle if line.startswith(k + " ")) for k in KINDS}
                print("ok %s %s %s: %d lines agree %s" % (name, month, zone, len(oracle), counts))
    if args.keep:
        print("all checks passed (files in %s)" % tmp)
    else:
        shutil.rmtree(tmp)
        print("all checks passed")


if __name__ == "__main__":
    main()
