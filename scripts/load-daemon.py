#!/usr/bin/env python3
"""Load on the real daemon: scrapes at a fixed rate with wrk while the demo at `scale: 1000`
(8,000 billed resources) resyncs every few seconds, then the same with 1,000 slow connections
held open (each sends a partial request head, a byte at a time, and reconnects when the server
hangs up).

Usage: scripts/load-daemon.py --bin BIN [--seconds 60] [--rate 200] [--slow 1000] [--interval 5s]

Prints `name=value` lines per phase (plain, slow):
  <phase>_requests, <phase>_rate_per_s      scrapes done by wrk and their rate
  <phase>_p50_ms, <phase>_p99_ms, <phase>_max_ms   wrk's latency distribution
  <phase>_errors                            wrk's connect, read, write and timeout errors plus non-2xx/3xx responses
  <phase>_syncs                             syncs completed during the phase (infrazen_sync_last_success_timestamp_seconds changes)
  slow_held_min, slow_held_mean             slow connections open at once, sampled every second
  slow_closed_by_server                     slow connections the server closed (idle timeout) and the script reopened
  peak_rss_mb, open_fds_max                 the daemon's VmHWM and its most open file descriptors
"""
import argparse
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def sync_timestamp(port):
    # A raw scrape of its own: the gauge moves when a sync completes.
    _, text = get("http://127.0.0.1:%d/metrics" % port)
    match = re.search(r'^infrazen_sync_last_success_timestamp_seconds\{[^}]*source="demo"[^}]*\} (\S+)', text, re.M)
    return float(match.group(1)) if match else None


class Watcher(threading.Thread):
    """Samples the sync timestamp, the slow-connection count and the daemon's fds each second."""

    def __init__(self, port, pid, slow=None):
        super().__init__(daemon=True)
        self.port, self.pid, self.slow = port, pid, slow
        self.stamps, self.held, self.fds = set(), [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                stamp = sync_timestamp(self.port)
                if stamp:
                    self.stamps.add(stamp)
            except Exception as error:  # counted by wrk as well; keep sampling
                print("watcher: %s" % error, file=sys.stderr)
            if self.slow:
                self.held.append(self.slow.open_count())
            try:
                self.fds.append(len(os.listdir("/proc/%d/fd" % self.pid)))
            except OSError:
                pass
            self.stop.wait(1)


class SlowClients(threading.Thread):
    """`count` connections each sending a partial request head one byte every `drip` seconds."""

    HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Padding: " + b"a" * 4000

    def __init__(self, port, count, drip=2.0):
        super().__init__(daemon=True)
        self.port, self.count, self.drip = port, count, drip
        self.sockets = {}
        self.closed_by_server = 0
        self.failed_connects = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def open_count(self):
        with self.lock:
            return len(self.sockets)

    def connect_one(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            self.failed_connects += 1
            s.close()
            return
        with self.lock:
            self.sockets[s] = 0

    def run(self):
        for _ in range(self.count):
            self.connect_one()
        while not self.stop.is_set():
            with self.lock:
                current = list(self.sockets.items())
            dead = []
            for s, sent in current:
                try:
                    # A closed peer shows as readable with b"" (or a reset).
                    s.setblocking(False)
                    try:
                        if s.recv(1, socket.MSG_PEEK) == b"":
                            dead.append(s)
                            continue
                    except BlockingIOError:
                        pass
                    if sent < len(self.HEAD):
                        s.send(self.HEAD[sent:sent + 1])
                        with self.lock:
                            self.sockets[s] = sent + 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    dead.append(s)
            for s in dead:
                with self.lock:
                    self.sockets.pop(s, None)
                s.close()
                self.closed_by_server += 1
                self.connect_one()
            self.stop.wait(self.drip)
        with self.lock:
            for s in self.sockets:
                s.close()
            self.sockets.clear()


def wrk(port, seconds, rate, connections, threads=2):
    """wrk paced at `rate` requests/s in all: each thread hands out send times 1/(rate/threads)
    apart (LuaJIT's ffi reads CLOCK_MONOTONIC), and a connection waits for its slot (wrk's
    delay()); a late slot is sent at once, so a slow server shows as a lower achieved rate and a
    higher latency, not as silently fewer requests."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } zen_timespec; int clock_gettime(int clk, zen_timespec *ts); ]]
local ts = ffi.new("zen_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local interval_ms = 1000 / (%f / %d)
local next_ms = nil
wrk.method = "GET"
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["Accept"] = "text/plain;version=0.0.4"
function delay()
  local now = now_ms()
  if next_ms == nil or next_ms < now - 1000 then next_ms = now end
  local wait = next_ms - now
  next_ms = next_ms + interval_ms
  if wait < 0 then return 0 end
  return math.floor(wait)
end
done = function(summary, latency, requests)
  io.write(string.format("LAT %%d %%d %%d %%d\\n", latency:percentile(50), latency:percentile(99), latency.max, summary.requests))
  io.write(string.format("ERR %%d %%d %%d %%d %%d\\n", summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
""" % (rate, threads))
    script.close()
    run = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s", "-s", script.name,
                          "http://127.0.0.1:%d/metrics" % port], capture_output=True, text=True)
    os.unlink(script.name)
    lat = re.search(r"^LAT (\d+) (\d+) (\d+) (\d+)$", run.stdout, re.M)
    err = re.search(r"^ERR (\d+) (\d+) (\d+) (\d+) (\d+)$", run.stdout, re.M)
    if not lat or not err:
        sys.exit("wrk said:\n" + run.stdout + run.stderr)
    p50, p99, mx, requests = (int(x) for x in lat.groups())
    errors = sum(int(x) for x in err.groups())  # connect, read, write, timeout and non-2xx/3xx statuses
    return {"requests": requests, "rate_per_s": round(requests / seconds, 1), "p50_ms": round(p50 / 1000, 2),
            "p99_ms": round(p99 / 1000, 2), "max_ms": round(mx / 1000, 2), "errors": errors}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--interval", default="5s")
    parser.add_argument("--scale", type=int, default=1000)
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)

    work = tempfile.mkdtemp(prefix="zen-load-")
    port = free_port()
    with open(os.path.join(work, "exporter.yaml"), "w") as config:
        config.write("storage: {path: ./data/infrazen.db}\n"
                     "sources:\n  - {name: demo, type: demo, scale: %d, interval: %s}\n" % (args.scale, args.interval))
    log = open(os.path.join(work, "daemon.log"), "w")
    daemon = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:%d" % port], cwd=work, stdout=log, stderr=log)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if get("http://127.0.0.1:%d/-/ready" % port, timeout=2)[0] == 200:
                    break
            except Exception:
                time.sleep(0.2)
        else:
            sys.exit("daemon not ready; see %s/daemon.log" % work)
        out = {}
        for phase in ("plain", "slow"):
            slow = None
            if phase == "slow":
                slow = SlowClients(port, args.slow)
                slow.start()
                time.sleep(5)  # all connected and dripping before the scrapes start
            watcher = Watcher(port, daemon.pid, slow)
            watcher.start()
            figures = wrk(port, args.seconds, args.rate, args.connections)
            watcher.stop.set()
            watcher.join()
            for key, value in figures.items():
                out["%s_%s" % (phase, key)] = value
            out["%s_syncs" % phase] = max(0, len(watcher.stamps) - 1)
            out["open_fds_max"] = max([out.get("open_fds_max", 0)] + watcher.fds)
            if slow:
                slow.stop.set()
                slow.join()
                held = watcher.held or [0]
                out["slow_held_min"] = min(held)
                out["slow_held_mean"] = round(sum(held) / len(held))
                out["slow_closed_by_server"] = slow.closed_by_server
                out["slow_failed_connects"] = slow.failed_connects
        with open("/proc/%d/status" % daemon.pid) as status:
            out["peak_rss_mb"] = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) // 1024
        out["daemon_alive"] = daemon.poll() is None
        for key, value in out.items():
            print("%s=%s" % (key, value))
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()


if __name__ == "__main__":
    main()
