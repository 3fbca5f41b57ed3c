#!/usr/bin/env python3
"""Attributes `perf script -F ip,sym` samples of one `zen-exporter sync --once` to the phases of a
sync: each sample goes to the innermost frame that names a phase, so CPU time spent inside
SQLite, malloc or Swift's runtime is counted under the phase that called it.

Usage: perf script -i perf.data -F ip,sym,dso | scripts/perf-phases.py [--period SECONDS]
(scripts/profile-sync records and calls this). Samples without a phase (a stack perf could not
unwind through SQLite, which has no frame pointers; the kernel's side of a read) are listed by
the library their innermost frame is in, as `other:`.
"""
import argparse
import collections
import re
import sys

PHASES = [
    ("focus: read rows", r"FocusIngest.*rows__"),
    ("focus: merge halves", r"FocusIngest.*merge"),
    ("focus: finish", r"FocusIngest.*finish"),
    ("focus: line items", r"FocusExportV8snapshot"),
    ("focus: other", r"FocusExportV4read|FocusSource"),
    ("reconcile", r"Reconciliation.*reconcile"),
    ("change detection", r"detectChanges"),
    ("allocation (dimensions)", r"SyncEngineV10dimensions"),
    ("tenant labels", r"SyncEngineV6labels"),
    ("per-scope sums", r"scopeDays"),
    ("render", r"EstateRenderer"),
    ("evaluate", r"EstateEvaluation"),
    ("store: day rows", r"replaceResourceDaily"),
    ("store: resources", r"saveChanges|ResourceSet"),
    ("store: per-scope rows", r"replaceScopeDaily"),
    ("store: prune", r"StoreC.*prune"),
    ("store: other", r"StoreC6commit"),
    ("deflate", r"DeflatedPiece"),
    ("sync engine", r"SyncEngineV6commit"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--period", type=float, default=0.00025, help="seconds per sample (perf's default 4 kHz: 0.00025)")
    args = parser.parse_args()
    compiled = [(name, re.compile(pattern)) for name, pattern in PHASES]
    counts = collections.Counter()
    total = 0
    stack = []
    dsos = []

    def flush():
        nonlocal total
        if not stack:
            return
        total += 1
        for frame in stack:  # leaf first
            for name, pattern in compiled:
                if pattern.search(frame):
                    counts[name] += 1
                    return
        counts["other: " + dsos[0]] += 1

    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            stack.clear()
            dsos.clear()
            continue
        if line[0] not in " \t":
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            symbol, _, dso = parts[1].rpartition(" (")
            stack.append(symbol or parts[1])
            dsos.append(dso.rstrip(")").rsplit("/", 1)[-1] or "?")
    flush()
    for name, count in counts.most_common(30):
        print(f"{name:64s} {count * args.period:7.3f} s CPU  {100 * count / max(total, 1):5.1f} %")
    print(f"{'total':64s} {total * args.period:7.3f} s CPU")


if __name__ == "__main__":
    main()
