#!/usr/bin/env python3
"""Independent DuckDB figures for a FOCUS CSV export (plain or .gz), to compare the exporter against.

Usage:
    scripts/focus-oracle.py FILE [--threads 2] [--repeat 1] [--month 2026-10] [--timezone Europe/Moscow]

Needs the duckdb Python package (pip install duckdb). Prints:
    duckdb_groupby_seconds=<float>   time of the per-(ResourceId, UTC day) SUM(BilledCost) over FILE,
                                     the first query of a fresh process (the median of --repeat processes)
    duckdb_groupby_runs=<a,b,c>      every process's time, with --repeat over 1
    duckdb_groupby_warm_seconds=<float>, duckdb_groupby_warm_runs=<a,b,c>
                                     with --repeat over 1: three more queries in one process after a first
    duckdb_groups=<n>                number of (ResourceId, day) groups
    mtd <CURRENCY> <decimal>         exact SUM(BilledCost) of the rows whose ChargePeriodStart falls
                                     in --month when read in --timezone (FOCUS times are UTC)
    total <CURRENCY> <decimal>       exact SUM(BilledCost) over the whole file
    scope <account>\t<service>\t<CURRENCY>\t<exact>\t<micro>
                                     month-to-date per account, service and currency: the exact sum,
                                     and the sum of each row rounded half-to-even to 6 decimals (the
                                     exporter's documented micro-unit ingest), with --by-scope
Every column is read as VARCHAR except BilledCost, read as DECIMAL(38,10), so sums are exact.
"""
import argparse
import datetime as dt
import gzip
import statistics
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

try:
    import duckdb
except ImportError:
    sys.exit("focus-oracle: the Python package 'duckdb' is not importable; install it with: pip install duckdb")


def header_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        return f.readline().rstrip("\r\n").split(",")


GROUP_BY = ("SELECT count(*), sum(cost) FROM (SELECT ResourceId, CAST(ChargePeriodStart AS DATE) AS day, "
            "SUM(BilledCost) AS cost FROM %s GROUP BY ResourceId, day)")


def relation_sql(path):
    """read_csv(...) with every column VARCHAR except BilledCost DECIMAL(38,10)."""
    cols = ", ".join("'%s': '%s'" % (c, "DECIMAL(38,10)" if c == "BilledCost" else "VARCHAR")
                     for c in header_of(path))
    return ("read_csv('%s', header = true, auto_detect = false, delim = ',', quote = '\"', "
            "escape = '\"', columns = {%s})" % (path.replace("'", "''"), cols))


def plain(d):
    """Exact decimal without exponent or trailing zeros: Decimal('12.3400000000') -> 12.34."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the group-by in this many fresh processes and print the median (and warm figures)")
    ap.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--month", default="2026-10", help="YYYY-MM, in --timezone")
    ap.add_argument("--timezone", default="Europe/Moscow")
    ap.add_argument("--by-scope", action="store_true", help="also print month-to-date per account, service and currency")
    args = ap.parse_args()

    con = duckdb.connect()
    con.execute("SET threads TO %d" % args.threads)
    src = relation_sql(args.file)

    # a) The group-by, timed; count(*)/sum over it forces every group's sum to be computed.
    # Cold: the first query of a fresh process, as the exporter's first sync is its process's
    # first; --repeat runs it in that many processes and prints the median (its time moves by a
    # third from run to run on a 2-core machine). Warm: the median of three more queries in
    # this process after a first, for the record (DuckDB's first query is slower).
    if args.time_only:
        t0 = time.perf_counter()
        groups, _ = con.execute(GROUP_BY % src).fetchone()
        print("%.6f %d" % (time.perf_counter() - t0, groups))
        return
    cold = []
    for _ in range(max(1, args.repeat)):
        out = subprocess.run([sys.executable, __file__, args.file, "--threads", str(args.threads), "--time-only"],
                             check=True, capture_output=True, text=True).stdout.split()
        cold.append(float(out[0]))
        groups = int(out[1])
    print("duckdb_groupby_seconds=%.3f" % statistics.median(cold))
    if len(cold) > 1:
        print("duckdb_groupby_runs=%s" % ",".join("%.3f" % r for r in cold))
        warm = []
        for _ in range(4):
            t0 = time.perf_counter()
            con.execute(GROUP_BY % src).fetchone()
            warm.append(time.perf_counter() - t0)
        print("duckdb_groupby_warm_seconds=%.3f" % statistics.median(warm[1:]))
        print("duckdb_groupby_warm_runs=%s" % ",".join("%.3f" % r for r in warm[1:]))
    print("duckdb_groups=%d" % groups)

    # b) Exact sums per (currency, period start); the start is placed in the zone here in Python.
    zone = ZoneInfo(args.timezone)
    rows = con.execute("SELECT BillingCurrency, ChargePeriodStart, SUM(BilledCost) FROM %s "
                       "GROUP BY ALL" % src).fetchall()
    mtd, total = {}, {}
    for currency, start, cost in rows:
        utc = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        if utc.tzinfo is None:  # FOCUS times are UTC
            utc = utc.replace(tzinfo=dt.timezone.utc)
        local = utc.astimezone(zone)
        total[currency] = total.get(currency, 0) + cost
        if local.strftime("%Y-%m") == args.month:
            mtd[currency] = mtd.get(currency, 0) + cost
    for currency in sorted(mtd):
        print("mtd %s %s" % (currency, plain(mtd[currency])))
    for currency in sorted(total):
        print("total %s %s" % (currency, plain(total[currency])))

    if args.by_scope:
        in_month = sorted({start for _, start, _ in rows if
                           (dt.datetime.fromisoformat(start.replace("Z", "+00:00")) if start.endswith("Z") or "+" in start
                            else dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc)).astimezone(zone).strftime("%Y-%m") == args.month})
        if in_month:
            starts = ", ".join("'%s'" % s.replace("'", "''") for s in in_month)
            for account, service, currency, exact, micro in con.execute(
                    "SELECT SubAccountId, ServiceName, BillingCurrency, SUM(BilledCost), SUM(round_even(BilledCost, 6)) FROM %s "
                    "WHERE ChargePeriodStart IN (%s) GROUP BY ALL ORDER BY ALL" % (src, starts)).fetchall():
                print("scope %s\t%s\t%s\t%s\t%s" % (account, service, currency, plain(exact), plain(micro)))


if __name__ == "__main__":
    main()
