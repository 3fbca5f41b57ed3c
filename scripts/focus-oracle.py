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

With --commitments, also (FOCUS 1.3/1.4 columns; a column the file lacks counts as empty), computed in
DuckDB SQL over the rows whose ChargePeriodStart falls in --month read in --timezone (as for mtd), with
BilledCost and EffectiveCost DECIMAL(38,10) and every other column VARCHAR (empty = NULL = ''):
    billed <CURRENCY> <exact>        SUM(BilledCost) per BillingCurrency
    effective <CURRENCY> <exact>     SUM(EffectiveCost) per BillingCurrency
    commitment <id>\t<name>\t<type>\t<category>\t<CURRENCY>\t<used>\t<unused>\t<utilization>
                                     per non-empty CommitmentDiscountId and currency, over its rows with
                                     CommitmentDiscountStatus 'Used' or 'Unused' (any ChargeCategory; Purchase
                                     rows have no status and do not count): used/unused = exact SUM(EffectiveCost)
                                     of the Used/Unused rows; utilization = used / (used + unused) rounded
                                     half-to-even to 6 decimals ('-' when used + unused is 0); name, type and
                                     category are the smallest non-empty value among those rows ('' if none)
    coverage <service>\t<CURRENCY>\t<ratio>
                                     per ServiceName and currency over the rows with ChargeCategory 'Usage'
                                     and CommitmentDiscountStatus other than 'Unused' (empty included):
                                     SUM(EffectiveCost) of the Used rows / SUM(EffectiveCost) of all of them,
                                     6 decimals half-to-even; a service whose denominator is 0 is left out
    invoice <InvoiceId>\t<InvoiceIssuerName>\t<CURRENCY>\t<exact>
                                     exact SUM(BilledCost) per non-empty InvoiceId, issuer and currency
    provider <name> <count>          rows per provider as the exporter labels them: ServiceProviderName when
                                     the file has that column, else ProviderName; lower-cased; an empty value
                                     is --provider (lower-cased) or 'focus'
Lines are sorted by their keys (byte order); the ratios are exact rational roundings, done on HUGEINTs.
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


def typed_relation_sql(path, decimals):
    """read_csv(...) with the columns in `decimals` DECIMAL(38,10) and every other column VARCHAR."""
    cols = ", ".join("'%s': '%s'" % (c, "DECIMAL(38,10)" if c in decimals else "VARCHAR") for c in header_of(path))
    return ("read_csv('%s', header = true, auto_detect = false, delim = ',', quote = '\"', "
            "escape = '\"', columns = {%s})" % (path.replace("'", "''"), cols))


def month_starts(con, src, month, zone):
    """The distinct ChargePeriodStart values that fall in `month` read in `zone` (a naive time is UTC)."""
    starts = []
    for (start,) in con.execute("SELECT DISTINCT ChargePeriodStart FROM %s WHERE ChargePeriodStart IS NOT NULL" % src).fetchall():
        utc = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        if utc.tzinfo is None:
            utc = utc.replace(tzinfo=dt.timezone.utc)
        if utc.astimezone(zone).strftime("%Y-%m") == month:
            starts.append(start)
    return sorted(starts)


# Exact half-to-even rounding of n / d to 6 decimals, as an integer count of millionths: both sums are
# DECIMAL(38,10), so n * 1e10 and d * 1e10 are integers; the quotient and remainder are integer arithmetic.
RATIO_MACROS = [
    "CREATE MACRO zen_units(x) AS CAST(x * 10000000000 AS HUGEINT)",
    "CREATE MACRO zen_half_even(a, b) AS (a * 1000000) // b + CASE WHEN 2 * ((a * 1000000) % b) > b THEN 1 "
    "WHEN 2 * ((a * 1000000) % b) = b THEN ((a * 1000000) // b) % 2 ELSE 0 END",
    "CREATE MACRO zen_ppm(n, d) AS CASE WHEN d = 0 THEN NULL ELSE "
    "sign(n) * sign(d) * zen_half_even(abs(zen_units(n)), abs(zen_units(d))) END",
]


def ppm_text(ppm):
    """Millionths as a 6-decimal number: 750000 -> 0.750000, None -> '-'."""
    if ppm is None:
        return "-"
    sign = "-" if ppm < 0 else ""
    whole, frac = divmod(abs(int(ppm)), 1000000)
    return "%s%d.%06d" % (sign, whole, frac)


def commitments_report(con, path, month, zone, fallback):
    """The --commitments lines (see the module docstring)."""
    header = set(header_of(path))
    src = typed_relation_sql(path, {"BilledCost", "EffectiveCost"})

    def text(column):
        return "coalesce(\"%s\", '')" % column if column in header else "''"

    def money(column):
        return "coalesce(\"%s\", 0)" % column if column in header else "CAST(0 AS DECIMAL(38,10))"

    provider = text("ServiceProviderName") if "ServiceProviderName" in header else text("ProviderName")
    starts = month_starts(con, src, month, zone)
    in_month = "ChargePeriodStart IN (%s)" % ", ".join("'%s'" % s.replace("'", "''") for s in starts) if starts else "false"
    con.execute("CREATE OR REPLACE TEMP TABLE zen_month AS SELECT %s AS billed, %s AS eff, %s AS cur, %s AS cat, %s AS svc, "
                "%s AS cid, %s AS cname, %s AS ctype, %s AS ccat, %s AS status, %s AS inv, %s AS issuer, %s AS prov "
                "FROM %s WHERE %s" % (
                    money("BilledCost"), money("EffectiveCost"), text("BillingCurrency"), text("ChargeCategory"),
                    text("ServiceName"), text("CommitmentDiscountId"), text("CommitmentDiscountName"),
                    text("CommitmentDiscountType"), text("CommitmentDiscountCategory"), text("CommitmentDiscountStatus"),
                    text("InvoiceId"), text("InvoiceIssuerName"), provider, src, in_month))
    for macro in RATIO_MACROS:
        con.execute(macro.replace("CREATE MACRO", "CREATE OR REPLACE TEMP MACRO"))
    lines = []
    sums = con.execute("SELECT cur, SUM(billed), SUM(eff) FROM zen_month GROUP BY cur ORDER BY cur").fetchall()
    lines += ["billed %s %s" % (cur, plain(b)) for cur, b, _ in sums]
    lines += ["effective %s %s" % (cur, plain(e)) for cur, _, e in sums]
    for cid, name, ctype, ccat, cur, used, unused, ppm in con.execute(
            "SELECT cid, name, ctype, ccat, cur, used, unused, zen_ppm(used, used + unused) FROM ("
            "SELECT cid, cur, coalesce(min(nullif(cname, '')), '') AS name, coalesce(min(nullif(ctype, '')), '') AS ctype, "
            "coalesce(min(nullif(ccat, '')), '') AS ccat, "
            "coalesce(SUM(eff) FILTER (WHERE status = 'Used'), 0) AS used, "
            "coalesce(SUM(eff) FILTER (WHERE status = 'Unused'), 0) AS unused "
            "FROM zen_month WHERE cid <> '' AND status IN ('Used', 'Unused') GROUP BY cid, cur) "
            "ORDER BY cid, cur").fetchall():
        lines.append("commitment %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s" % (cid, name, ctype, ccat, cur, plain(used), plain(unused),
                                                                 ppm_text(ppm)))
    for svc, cur, ppm in con.execute(
            "SELECT svc, cur, zen_ppm(covered, total) FROM (SELECT svc, cur, "
            "coalesce(SUM(eff) FILTER (WHERE status = 'Used'), 0) AS covered, SUM(eff) AS total "
            "FROM zen_month WHERE cat = 'Usage' AND status <> 'Unused' GROUP BY svc, cur) "
            "WHERE total <> 0 ORDER BY svc, cur").fetchall():
        lines.append("coverage %s\t%s\t%s" % (svc, cur, ppm_text(ppm)))
    for inv, issuer, cur, billed in con.execute(
            "SELECT inv, issuer, cur, SUM(billed) FROM zen_month WHERE inv <> '' GROUP BY inv, issuer, cur "
            "ORDER BY inv, issuer, cur").fetchall():
        lines.append("invoice %s\t%s\t%s\t%s" % (inv, issuer, cur, plain(billed)))
    for name, count in con.execute(
            "SELECT CASE WHEN prov = '' THEN ? ELSE lower(prov) END AS p, count(*) FROM zen_month GROUP BY p ORDER BY p",
            [fallback]).fetchall():
        lines.append("provider %s %d" % (name, count))
    return lines


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
    ap.add_argument("--commitments", action="store_true",
                    help="also print billed/effective, commitment utilization, coverage, invoice and provider lines")
    ap.add_argument("--provider", default="focus", help="with --commitments: the provider of rows without one")
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

    if args.commitments:
        for line in commitments_report(con, args.file, args.month, zone, args.provider.lower()):
            print(line)


if __name__ == "__main__":
    main()
