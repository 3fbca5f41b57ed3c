#!/usr/bin/env python3
"""kill -9 loop against the real daemon (issue 12, part 4); run through scripts/chaos.

Two FOCUS exports of different totals (scripts/gen-focus.py: A with N resources, B with N + 1
and another seed) take turns in the source's glob. Each round starts `serve` on the database
the previous round killed, checks that it serves the last good snapshot, swaps the export so
that the daemon's first sync is a full read and write of the other one, and kills it with
SIGKILL at a random point of that sync. Then `PRAGMA integrity_check` (the sqlite3 CLI) must be
`ok`, and the data the file holds must be all of A or all of B.

"The last good snapshot" is checked by value: after a restart, every series of
infrazen_cost_month_to_date and infrazen_infrastructure_cost_monthly must equal what the
daemon served before for the export the file holds (the one served before the kill, or the
other one when the killed sync had committed), and infrazen_sync_last_success_timestamp_seconds
the newest good snapshot's time in the file.

Prints the kill count, where the kills landed, the integrity results and every failure; exits 1
on any failure. Loopback only.
"""
import argparse
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CHECKED = ("infrazen_cost_month_to_date", "infrazen_infrastructure_cost_monthly")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def series(text):
    """The checked families' samples and the last-success time, by series."""
    values, last_success = {}, None
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        if name in CHECKED:
            values[name + (labels or "")] = value
        elif name == "infrazen_sync_last_success_timestamp_seconds":
            last_success = float(value)
    return values, last_success


def sqlite(db, sql):
    result = subprocess.run(["sqlite3", db, sql], capture_output=True, text=True, timeout=300)
    return (result.stdout + result.stderr).strip()


class Daemon:
    def __init__(self, binary, work, port):
        self.binary, self.work, self.port = binary, work, port
        self.process = None
        self.log_path = os.path.join(work, "daemon.log")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.log_start = self.log.tell()
        self.process = subprocess.Popen([self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"], cwd=self.work,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def metrics(self):
        return get(f"http://127.0.0.1:{self.port}/metrics", timeout=30)[1]

    def commits(self):
        """'sync committed' lines this run logged (a full sync's last step before the evaluation)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace").count("sync committed")

    def stop(self, sig):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the zen-exporter binary")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--resources", type=int, default=20000, help="resources in export A (B has one more)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None, help="for the kill points (default: random, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="zen-chaos-")
    os.makedirs(os.path.join(work, "focus"))
    db = os.path.join(work, "data", "infrazen.db")
    here = os.path.dirname(os.path.abspath(__file__))
    # The exports end today, so that month-to-date has days in it.
    start = (dt.date.today() - dt.timedelta(days=args.days - 1)).isoformat()
    exports = {}
    for name, count, seed_value in (("A", args.resources, 1), ("B", args.resources + 1, 2)):
        path = os.path.join(work, f"{name}.csv")
        subprocess.run([sys.executable, os.path.join(here, "gen-focus.py"), str(count), str(args.days), path, "--start", start,
                        "--seed", str(seed_value)], check=True, stdout=subprocess.DEVNULL)
        exports[name] = path
    live = os.path.join(work, "focus", "export.csv")

    def install(name):
        # A copy renamed into place: the daemon never sees half a file.
        shutil.copyfile(exports[name], live + ".tmp")
        os.replace(live + ".tmp", live)

    port = free_port()
    with open(os.path.join(work, "exporter.yaml"), "w") as f:
        f.write(f"""listen: "127.0.0.1:{port}"
storage: {{path: ./data/infrazen.db}}
sources:
  - {{name: focus, type: focus, path: ./focus/*.csv, interval: 1s, jitter: 0, timeout: 30m}}
""")
    daemon = Daemon(args.bin, work, port)
    failures = []

    # Calibration: one clean full sync of each export, what it serves and what the file holds.
    served, billed, sync_seconds = {}, {}, []
    for name in ("A", "B"):
        install(name)
        daemon.start()
        if not daemon.wait_ready(600):
            sys.exit(f"calibration: the daemon did not become ready; see {daemon.log_path}")
        deadline = time.monotonic() + 600
        while daemon.commits() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the evaluation after the commit publishes
        served[name] = series(daemon.metrics())[0]
        daemon.stop(signal.SIGTERM)
        with open(daemon.log_path, errors="replace") as f:
            seconds = [float(m) for line in f if "sync committed" in line for m in re.findall(r"(?<![a-z_])seconds=([0-9.]+)", line)]
        sync_seconds.append(seconds[-1])
        billed[name] = sqlite(db, "SELECT SUM(micros) FROM scope_daily")
    if billed["A"] == billed["B"] or served["A"] == served["B"]:
        sys.exit("calibration: the two exports are not told apart")
    sync = max(sync_seconds)
    print(f"exports: A {args.resources} and B {args.resources + 1} resources x {args.days} days "
          f"({os.path.getsize(exports['A']) / 1e6:.0f} MB each); a full sync takes {sync:.1f} s; kill seed {seed}", flush=True)

    holds = "B"
    landed = {"before its commit": 0, "after its commit": 0}
    integrity = {}
    kills = 0
    for round_number in range(1, args.kills + 2):
        last_good = float(sqlite(db, "SELECT finished_at FROM sync_snapshots WHERE status = 'ok' ORDER BY id DESC LIMIT 1"))
        other = "A" if holds == "B" else "B"
        install(other)
        daemon.start()
        if not daemon.wait_ready(120):
            failures.append(f"round {round_number}: not ready after the restart (exit {daemon.process.poll()})")
            daemon.stop(signal.SIGKILL)
            break
        restored, success = series(daemon.metrics())
        if restored != served[holds]:
            differing = sorted(k for k in set(restored) | set(served[holds]) if restored.get(k) != served[holds].get(k))
            failures.append(f"round {round_number}: after the restart, {len(differing)} series differ from export {holds}'s, "
                            f"e.g. {differing[:2]}")
        if success is None or abs(success - int(last_good)) > 1e-6:
            failures.append(f"round {round_number}: last success {success}, the file's newest good snapshot {last_good}")
        if round_number > args.kills:
            daemon.stop(signal.SIGTERM)
            break
        # The sync of the swapped export starts at once (the interval is 1 s): kill somewhere in it.
        time.sleep(rng.uniform(0, sync))
        daemon.stop(signal.SIGKILL)
        kills += 1
        landed["after its commit" if daemon.commits() else "before its commit"] += 1
        check = sqlite(db, "PRAGMA integrity_check")
        integrity[check] = integrity.get(check, 0) + 1
        if check != "ok":
            failures.append(f"round {round_number}: integrity_check: {check[:200]}")
        total = sqlite(db, "SELECT SUM(micros) FROM scope_daily")
        holds = next((name for name, micros in billed.items() if micros == total), None)
        if holds is None:
            failures.append(f"round {round_number}: the file holds neither export whole (SUM(micros) {total})")
            break
        if round_number % 10 == 0:
            print(f"  {round_number} kills, {len(failures)} failures, {time.monotonic() - started:.0f} s", flush=True)

    print(f"kills: {kills} ({landed['before its commit']} before the killed sync's commit, {landed['after its commit']} after it)")
    print("integrity_check: " + ", ".join(f"{result!r} x {count}" for result, count in integrity.items()))
    print(f"restarts checked against the last good snapshot: {kills}")
    print(f"failures: {len(failures)}")
    for failure in failures:
        print("  " + failure)
    print(f"wall time: {time.monotonic() - started:.0f} s")
    if args.keep or failures:
        print(f"working directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
