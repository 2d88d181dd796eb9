#!/usr/bin/env python3
"""Does cheap work starve behind expensive anonymous pages? (BENCHMARKS.md)

Loads generated data (`treaty-kg generate`, `treaty-kg load`), starts
`treaty-kg serve` with its defaults, then measures a point lookup on /sparql at
one connection: first idle, then while 32 connections hammer the heaviest page.
The heaviest page is found first: every page a visitor can open is timed cold
(its first view) and warm (a later view), and the one slowest when warm is the
one hammered (a hammering client gets warm views).

    benches/starvation.py --treaty-kg target/release/treaty-kg --size 1000000

Prints one markdown table; the point lookup's rate and p99 under the hammer are
also given as ratios of the idle figures.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import fetch, generated_store, log, start, stop, wrk  # noqa: E402  (the shared harness)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCEPT = "application/sparql-results+json"
PAGES = [
    ("/", "text/html"),
    ("/timeline.svg", "image/svg+xml"),
    ("/ontology", "text/html"),
    ("/.well-known/void", "text/turtle"),
    ("/page/state/s0", "text/html"),
    ("/data/state/s0.ttl", "text/turtle"),
    ("/fragments", "text/turtle"),
    ("/fragments?predicate=http%3A%2F%2Fwww.w3.org%2F1999%2F02%2F22-rdf-syntax-ns%23type", "text/turtle"),
    ("/queries", "text/html"),
    ("/openapi.json", "application/json"),
]


def timed(url, accept):
    started = time.monotonic()
    status, _ = fetch(url, accept)
    return status, (time.monotonic() - started) * 1000


def statuses(url, connections, duration, accept):
    """wrk at `connections` for `duration` s; the count of answers and of non-2xx."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-H", f"Accept: {accept}", url],
        capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, int(non2xx.group(1)) if non2xx else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--port", type=int, default=7891)
    args = parser.parse_args()
    binary = os.path.abspath(args.treaty_kg)
    work = tempfile.mkdtemp(prefix="treaty-kg-starvation-")
    try:
        store = generated_store(binary, args.size, work)
        base = f"http://127.0.0.1:{args.port}"
        server, _ = start([binary, "serve", "--store", store, "--bind", f"127.0.0.1:{args.port}", "--no-default-data"],
                          f"{base}/health")
        try:
            with open(os.path.join(ROOT, "benches", "queries", "01-point-lookup.rq")) as f:
                lookup = f"{base}/sparql?query=" + urllib.parse.quote(f.read())
            rows = [("size", f"{args.size:,} quads")]
            idle = wrk(lookup, 1, args.duration, ACCEPT)
            rows.append(("point lookup, idle, c=1", f"{idle[0]:,.0f} req/s, p50 {idle[1]:.2f} ms, p99 {idle[2]:.2f} ms"))
            timings = []
            for path, accept in PAGES:
                status_cold, cold = timed(base + path, accept)
                status_warm, warm = timed(base + path, accept)
                timings.append((warm, cold, path, accept, status_warm))
                rows.append((f"page {path}", f"cold {cold:,.0f} ms, warm {warm:,.1f} ms ({status_cold}/{status_warm})"))
            warm, _, heaviest, accept, _ = max(timings)
            log(f"heaviest page when warm: {heaviest} ({warm:.1f} ms)")
            hammer = {}
            thread = threading.Thread(
                target=lambda: hammer.update(result=statuses(base + heaviest, 32, args.duration + 4, accept)))
            thread.start()
            time.sleep(2)
            loaded = wrk(lookup, 1, args.duration, ACCEPT)
            thread.join()
            total, refused = hammer["result"]
            rows.append((f"hammer: 32 connections on {heaviest}",
                         f"{total:,} answers in {args.duration + 4} s, {refused:,} of them not 2xx (503 + Retry-After)"))
            rows.append(("point lookup under the hammer, c=1",
                         f"{loaded[0]:,.0f} req/s ({loaded[0] / idle[0]:.2f}× idle), p50 {loaded[1]:.2f} ms, "
                         f"p99 {loaded[2]:.2f} ms ({loaded[2] / idle[2]:.1f}× idle)"))
        finally:
            stop(server)
        print("| measure | result |\n|---|---|")
        for name, value in rows:
            print(f"| {name} | {value} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
