#!/usr/bin/env python3
"""treaty-kg and oxigraph serve on one and the same store, taking turns.

Usage: benches/same_store.py --store DIR [--rounds 2] [--requests 7] [QUERY ...]

The mix (benches/run.py) loads each server's own store with its own loader, so
a gap there may come from the stores' layout as well as from the servers. Here
both open the same Oxigraph store (one `treaty-kg load`), one at a time, in
alternating rounds, with their defaults (ours with --no-query-cache, as in the
mix). Per round and server: the cold start (process start to the first answer
of `ASK { ?s ?p ?o }`), then, once the server is idle (our first start on a new
store builds its search index in the background), each query of
benches/queries/ named on the command line (all by default) asked --requests
times one after the other; the first is dropped, the median kept. Prints a
markdown table of medians over the rounds and the treaty-kg / oxigraph ratio of
times (below 1.00 is faster).
"""

import argparse
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, fetch, log, median, queries, start, stop, wait_idle  # noqa: E402  (the shared harness)

PORT = 7395
PROBE = urllib.parse.quote("ASK { ?s ?p ?o }")
COLD = "cold start (s)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="a store loaded with `treaty-kg load`")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--treaty-kg", default=os.path.join(ROOT, "target", "release", "treaty-kg"))
    parser.add_argument("--oxigraph", default=os.path.join(ROOT, "target", "bench-venv", "bin", "oxigraph"))
    parser.add_argument("queries", nargs="*")
    args = parser.parse_args()
    mix = [q for q in queries() if not args.queries or q[0] in args.queries]
    servers = {
        "treaty-kg": ([args.treaty_kg, "serve", "--store", args.store, "--no-default-data", "--no-query-cache",
                       "--queries", os.path.join(ROOT, "queries"), "--bind", f"127.0.0.1:{PORT}"], "/sparql"),
        "oxigraph": ([args.oxigraph, "serve", "--location", args.store, "--union-default-graph",
                      "--bind", f"127.0.0.1:{PORT}"], "/query"),
    }
    figures = {who: {COLD: []} | {name: [] for name, _, _ in mix} for who in servers}
    for round_ in range(args.rounds):
        for who, (cmd, path) in servers.items():
            proc, cold = start(cmd, f"http://127.0.0.1:{PORT}{path}?query={PROBE}")
            try:
                figures[who][COLD].append(cold)
                wait_idle([proc], quiet=2)
                for name, text, accept in mix:
                    url = f"http://127.0.0.1:{PORT}{path}?query={urllib.parse.quote(text)}"
                    times = []
                    for _ in range(args.requests):
                        began = time.monotonic()
                        status, _ = fetch(url, accept)
                        assert status == 200, f"{who}: {name}: {status}"
                        times.append(time.monotonic() - began)
                    figures[who][name].append(median(times[1:]) * 1000)
            finally:
                stop(proc)
            log(f"round {round_ + 1}: {who} done")
    print("| measure | treaty-kg | oxigraph serve | ratio (time) |")
    print("|---|---:|---:|---:|")
    for measure in figures["treaty-kg"]:
        ours, theirs = median(figures["treaty-kg"][measure]), median(figures["oxigraph"][measure])
        label, digits = (measure, 3) if measure == COLD else (f"{measure} (ms, one at a time)", 1)
        print(f"| {label} | {ours:.{digits}f} | {theirs:.{digits}f} | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    main()
