#!/usr/bin/env python3
"""Every page and picture a visitor can open, at scale (BENCHMARKS.md).

Loads generated data (`treaty-kg generate`, `treaty-kg load`), starts
`treaty-kg serve` with its defaults (the repository's ontology and data beside
the generated quads, inference and search on) and a write token, waits until its
start-up work is done (the search index's first build), then for each
page: its first view (cold), the median and the slowest of `--views` later
views (warm), and its first view after a write (a one-statement Graph Store PUT
just before it, so every page is measured on fresh data; the write's
background work, the inferred graph's refresh and the index update, runs
meanwhile, as it would for a visitor). Then the server is stopped and started
again on the same data, and each page's first view after that restart is
measured too. The server computes the dataset summaries as it starts
(`http::warm`); the time that took, from its log, is printed with the rest.

    benches/pages.py --treaty-kg target/release/treaty-kg --size 1000000

Prints one markdown table; the server's log is kept in `--server-log`. Nothing is asserted: the figures go in BENCHMARKS.md.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import generated_store, log, start, stop, wait_idle  # noqa: E402  (the shared harness)

TOKEN = "pages-benchmark-token"
PAGES = [
    ("/", "text/html"),
    ("/timeline.svg", "image/svg+xml"),
    ("/ontology", "text/html"),
    ("/.well-known/void", "text/turtle"),
    ("/.well-known/void", "text/html"),
    ("/page/state/s0", "text/html"),
    ("/page/state/s150", "text/html"),
    ("/data/state/s0.ttl", "text/turtle"),
    ("/data/state/s150.jsonld", "application/ld+json"),
    ("/page/state/latvia", "text/html"),
    ("/fragments", "text/turtle"),
    ("/fragments?predicate=http%3A%2F%2Fwww.w3.org%2F1999%2F02%2F22-rdf-syntax-ns%23type", "text/turtle"),
    ("/fragments?subject=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Fs0", "text/html"),
    ("/queries", "text/html"),
    ("/queries/withdrawals", "text/html"),
    ("/openapi.json", "application/json"),
    ("/search?q=treaty", "text/html"),
    ("/editor", "text/html"),
]


def view(url, accept):
    """One GET: (status, milliseconds, bytes)."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            status, size = r.status, len(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        status, size = e.code, len(body)
        log(f"{url} ({accept}): {status}: {body[:300].decode(errors='replace')}")
    return status, (time.monotonic() - started) * 1000, size


def write(base, n):
    """A one-statement Graph Store PUT (the data version moves on)."""
    body = f"<http://example.org/bench/s> <http://example.org/bench/p> \"{n}\" .".encode()
    request = urllib.request.Request(
        f"{base}/store?graph=http%3A%2F%2Fexample.org%2Fbench", data=body, method="PUT",
        headers={"Content-Type": "application/n-triples", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert r.status in (201, 204), r.status


def summaries_ready(server_log, offset):
    """How long the server said its start-up computation of the dataset
    summaries took (`http::warm`), from its log past `offset`."""
    with open(server_log, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    found = re.findall(r"dataset summaries ready.*?ms=(\d+)|ms=(\d+).*?dataset summaries ready", text)
    if not found:
        return "(not logged)"
    return f"{int(found[-1][0] or found[-1][1]):,} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--port", type=int, default=7894)
    parser.add_argument("--server-log", default="target/pages-server.log",
                        help="the server's own log, kept (appended) to explain a slow or failed view")
    args = parser.parse_args()
    binary = os.path.abspath(args.treaty_kg)
    work = tempfile.mkdtemp(prefix="treaty-kg-pages-")
    try:
        store = generated_store(binary, args.size, work)
        base = f"http://127.0.0.1:{args.port}"
        env_token = {**os.environ, "TREATY_KG_WRITE_TOKEN": TOKEN}
        # The start waits for the inferred graph (80 s at 10M quads).
        logged_from = os.path.getsize(args.server_log) if os.path.exists(args.server_log) else 0
        server, answering = start([binary, "serve", "--store", store, "--bind", f"127.0.0.1:{args.port}"],
                                  f"{base}/health", env=env_token, timeout=3600, log_to=args.server_log)
        log(f"server answering after {answering:.1f} s")
        # Start-up work (the search index's first build, compaction) done first.
        log(f"server idle after {wait_idle([server], quiet=3, limit=3600):.0f} s more")
        log(f"dataset summaries computed at start in {summaries_ready(args.server_log, logged_from)}")
        rows = []
        try:
            for n, (path, accept) in enumerate(PAGES):
                status, cold, size = view(base + path, accept)
                warm = [view(base + path, accept)[1] for _ in range(args.views)]
                write(base, n)
                status_after, after, _ = view(base + path, accept)
                rows.append((path, accept, status, size, cold, statistics.median(warm), max(warm), status_after, after))
                log(f"{path} ({accept}): {status}, cold {cold:,.0f} ms, warm median {statistics.median(warm):,.1f} ms, "
                    f"after a write {after:,.0f} ms")
            # Every page once more on the last write's data, and its background
            # work done: what a restart on unchanged data can start from.
            for path, accept in PAGES:
                view(base + path, accept)
            log(f"server idle after {wait_idle([server], quiet=3, limit=3600):.0f} s")
        finally:
            stop(server)
        logged_from = os.path.getsize(args.server_log)
        server, answering = start([binary, "serve", "--store", store, "--bind", f"127.0.0.1:{args.port}"],
                                  f"{base}/health", env=env_token, timeout=3600, log_to=args.server_log)
        log(f"restarted: answering after {answering:.1f} s, idle after {wait_idle([server], quiet=3, limit=3600):.0f} s")
        log(f"dataset summaries at the restart in {summaries_ready(args.server_log, logged_from)}")
        try:
            for i, (path, accept) in enumerate(PAGES):
                status, restarted, _ = view(base + path, accept)
                rows[i] += (status, restarted)
        finally:
            stop(server)
        print(f"| page ({args.size:,} generated quads) | status | body | first view (ms) | warm median (ms) "
              f"| warm slowest (ms) | first view after a write (ms) | first view after a restart (ms) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for path, accept, status, size, cold, warm, slowest, status_after, after, status_restart, restarted in rows:
            print(f"| `{path}` ({accept}) | {status}/{status_after}/{status_restart} | {size:,} B | {cold:,.0f} "
                  f"| {warm:,.1f} | {slowest:,.1f} | {after:,.0f} | {restarted:,.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
