#!/usr/bin/env python3
"""Runs the release daemon on one FOCUS export and measures what an operator would see.

Usage:
    scripts/bench-daemon.py --bin BIN --csv FILE [--oracle ORACLE_OUTPUT] [--resyncs 3] [--scrape-load]
                            [--restart] [--label NAME] [--first-syncs 1]

With a fresh database in a temp dir, on 127.0.0.1:
  ready_seconds       start of `serve` to the first 200 of /-/ready (the first sync, evaluated and published);
                      with --first-syncs N, the median of N first syncs, each on a fresh database
  ready_runs          (--first-syncs over 1) every first sync's time, the last one the run measured below
  resync_seconds      infrazen_sync_duration_seconds of a resync of the unchanged file (the whole sync)
  steady_rss_mb       VmRSS after the resyncs
  db_mb, db_growth_mb the database (with its WAL) after the first sync, and what --resyncs unchanged resyncs added
  scrape_p99_ms       (--scrape-load) wrk's p99 of gzip scrapes of /metrics while the file, touched, is read again
  peak_rss_mb         the process's maximum RSS over the whole run (/usr/bin/time)
  restart_ready_seconds (--restart) a second `serve` on the same database to /-/ready
  mtd_series_ok       (--oracle) every infrazen_cost_month_to_date series equals the oracle's micro-unit sum
                      for its account, service and currency, rounded as the exporter documents: per
                      currency the bill rounded once, the series by largest remainder (docs/metrics.md)
Prints one `name=value` per line.
"""
import argparse
import gzip
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from decimal import Decimal, ROUND_FLOOR, ROUND_HALF_UP


def largest_remainder(exact):
    """The exporter's rounding, done independently: per currency, the source's bill (the sum of
    its series' micro-unit sums) rounded half up to the cent once; each series floored to the
    cent; the cents still missing go to the series that lost most (ties in label order)."""
    cent = Decimal("0.01")
    rounded = {}
    for currency in {k[2] for k in exact}:
        keys = sorted(k for k in exact if k[2] == currency)
        whole = sum(exact[k] for k in keys).quantize(cent, ROUND_HALF_UP)
        floors = {k: exact[k].quantize(cent, ROUND_FLOOR) for k in keys}
        missing = int((whole - sum(floors.values())) / cent)
        order = sorted(keys, key=lambda k: -(exact[k] - floors[k]))
        for k in keys:
            rounded[k] = floors[k]
        for k in order[:missing]:
            rounded[k] += cent
    return rounded

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, gzip_ok=False, timeout=10):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        return gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


def quiet_serve(binary, config):
    """`serve` on a free loopback port, logging errors only; returns the port and the process."""
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:%d" % port, "--log-level", "error"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return port, process


def wait_ready(port, limit=600):
    # Polled every 10 ms: at 50 ms the figure read 25 ms late on average, against a peer
    # (DuckDB) timed to the microsecond; a poll costs the daemon well under a millisecond.
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2).status == 200:
                return time.monotonic() - start
        except Exception:
            pass
        time.sleep(0.01)
    raise SystemExit("not ready within %d s" % limit)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text, name):
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            yield dict(LABEL.findall(m.group(3) or "")), m.group(4)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def db_mb(directory):
    return sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)
               if f.startswith("infrazen.db")) / 1e6


def child_pid(wrapper_pid):
    with open("/proc/%d/task/%d/children" % (wrapper_pid, wrapper_pid)) as f:
        return int(f.read().split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--oracle", help="a file holding focus-oracle.py --by-scope output for the same CSV")
    ap.add_argument("--resyncs", type=int, default=3)
    ap.add_argument("--interval", type=int, default=8, help="sync interval in seconds (resyncs come this often)")
    ap.add_argument("--scrape-load", action="store_true")
    ap.add_argument("--restart", action="store_true")
    ap.add_argument("--label", default="focus")
    ap.add_argument("--first-syncs", type=int, default=1,
                    help="time this many first syncs (fresh databases) to /-/ready and report the median")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="zen-bench-")
    data = os.path.join(work, "data")
    config = os.path.join(work, "exporter.yaml")
    with open(config, "w") as f:
        f.write("storage: {path: %s/infrazen.db}\nmetrics: {per_resource: true}\n"
                "sources:\n  - {name: %s, type: focus, path: \"%s\", interval: %ds, timeout: 10m, retries: 0, jitter: 0}\n"
                % (data, args.label, args.csv, args.interval))
    # The first syncs before the measured run: only their time to /-/ready, each from empty.
    ready_runs = []
    for _ in range(max(1, args.first_syncs) - 1):
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        port, first = quiet_serve(args.bin, config)
        try:
            ready_runs.append(wait_ready(port))
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    port = free_port()
    log = open(os.path.join(work, "serve.log"), "w")
    timing = os.path.join(work, "time.txt")
    command = ["/usr/bin/time", "-f", "%M", "-o", timing, args.bin, "serve", "--config", config,
               "--listen", "127.0.0.1:%d" % port, "--log-level", "info"]
    wrapper = subprocess.Popen(command, stdout=log, stderr=log)
    out = {}
    try:
        ready_runs.append(wait_ready(port))
        out["ready_seconds"] = "%.2f" % statistics.median(ready_runs)
        if len(ready_runs) > 1:
            out["ready_runs"] = ",".join("%.2f" % r for r in ready_runs)
        pid = child_pid(wrapper.pid)
        base = "http://127.0.0.1:%d" % port
        # The sync's duration is published just after the exposition that made the daemon ready.
        for _ in range(100):
            text = get(base + "/metrics").decode()
            if any(l.get("source") == args.label for l, _ in samples(text, "infrazen_sync_duration_seconds")):
                break
            time.sleep(0.05)
        out["series"] = next((v for _, v in samples(text, "infrazen_exposition_series")), "?")
        out["exposition_mb"] = "%.1f" % (len(text) / 1e6)
        out["first_sync_seconds"] = next((v for l, v in samples(text, "infrazen_sync_duration_seconds") if l.get("source") == args.label), "?")
        out["db_mb"] = "%.1f" % db_mb(data)
        if args.oracle:
            expected = largest_remainder({tuple(line[len("scope "):].rstrip("\n").split("\t")[:3]): Decimal(line.rstrip("\n").split("\t")[4])
                                          for line in open(args.oracle) if line.startswith("scope ")})
            got = {}
            for labels, value in samples(text, "infrazen_cost_month_to_date"):
                if labels.get("source") == args.label:
                    key = (labels["account"], labels["service"].replace('\\"', '"').replace("\\\\", "\\"), labels["currency"])
                    got[key] = got.get(key, Decimal(0)) + Decimal(value)
            wrong = [k for k in set(expected) | set(got) if expected.get(k, Decimal(0)) != got.get(k, Decimal(0))]
            out["mtd_series"] = len(got)
            out["mtd_series_ok"] = "yes" if not wrong and got else "NO (%d differ, e.g. %s)" % (len(wrong), wrong[:2])
            for currency in sorted({k[2] for k in expected}):
                out["mtd_" + currency] = str(sum(v for k, v in got.items() if k[2] == currency))

        def last_success():
            body = get(base + "/metrics").decode()
            return next((v for l, v in samples(body, "infrazen_sync_last_success_timestamp_seconds") if l.get("source") == args.label), None), body

        seen, _ = last_success()
        durations = []
        for _ in range(args.resyncs):
            deadline = time.monotonic() + args.interval * 4 + 60
            while time.monotonic() < deadline:
                time.sleep(0.5)
                now, body = last_success()
                if now != seen:
                    seen = now
                    durations.append(float(next(v for l, v in samples(body, "infrazen_sync_duration_seconds") if l.get("source") == args.label)))
                    break
        if durations:
            out["resync_seconds"] = "%.3f" % max(durations)
            out["resyncs"] = len(durations)
        time.sleep(2)
        out["steady_rss_mb"] = "%.0f" % rss_mb(pid)
        out["db_growth_mb"] = "%.2f" % (db_mb(data) - float(out["db_mb"]))

        if args.scrape_load:
            # The next sync reads the file again (new mtime); scrape throughout it.
            os.utime(args.csv)
            wrk = subprocess.run(["wrk", "-t2", "-c4", "-d%ds" % max(20, int(float(out["first_sync_seconds"]) * 2 + args.interval + 10)), "--latency",
                                  "-H", "Accept-Encoding: gzip", base + "/metrics"], capture_output=True, text=True)
            p99 = re.search(r"99%\s+(\S+)", wrk.stdout)
            requests = re.search(r"(\d+) requests in", wrk.stdout)
            out["scrape_p99"] = p99.group(1) if p99 else "?"
            out["scrape_requests"] = requests.group(1) if requests else "?"
            now, body = last_success()
            out["scrape_overlapped_sync_seconds"] = next((v for l, v in samples(body, "infrazen_sync_duration_seconds") if l.get("source") == args.label), "?")
            out["scrape_overlapped_a_sync"] = "yes" if now != seen else "NO"
    except BaseException:
        print(open(os.path.join(work, "serve.log")).read()[-3000:])
        raise
    finally:
        try:
            os.kill(child_pid(wrapper.pid), signal.SIGTERM)
        except Exception:
            wrapper.send_signal(signal.SIGTERM)
        wrapper.wait(timeout=60)
        log.close()
    out["peak_rss_mb"] = "%.0f" % (int(open(timing).read().strip().splitlines()[-1]) / 1024)
    out["db_after_stop_mb"] = "%.1f" % db_mb(data)

    if args.restart:
        port, wrapper = quiet_serve(args.bin, config)
        try:
            out["restart_ready_seconds"] = "%.2f" % wait_ready(port)
            time.sleep(1)
            out["restart_rss_mb"] = "%.0f" % rss_mb(wrapper.pid)
        finally:
            wrapper.send_signal(signal.SIGTERM)
            wrapper.wait(timeout=60)
    for key, value in out.items():
        print("%s=%s" % (key, value))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
