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
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ACCEPT, GRAPH_ACCEPT, ROOT, cpu_seconds, log  # noqa: E402

PORT = 7395
PROBE = urllib.parse.quote("ASK { ?s ?p ?o }")


def answer(url, accept, timeout=300):
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        r.read()
        return r.status


def started(cmd, path):
    """Starts a server; returns (process, seconds until the probe answered)."""
    began = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode} before answering (is the store in use?)")
        try:
            if answer(f"http://127.0.0.1:{PORT}{path}?query={PROBE}", ACCEPT, timeout=5) == 200:
                return proc, time.monotonic() - began
        except OSError:
            time.sleep(0.005)


def idle(proc, quiet=2.0, limit=900):
    """Waits until the process has used under 5 % of a core for `quiet` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(proc.pid)
        time.sleep(quiet)
        if cpu_seconds(proc.pid) - before < 0.05 * quiet:
            return
    raise RuntimeError("the server never went idle")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="a store loaded with `treaty-kg load`")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--treaty-kg", default=os.path.join(ROOT, "target", "release", "treaty-kg"))
    parser.add_argument("--oxigraph", default=os.path.join(ROOT, "target", "bench-venv", "bin", "oxigraph"))
    parser.add_argument("queries", nargs="*")
    args = parser.parse_args()
    folder = os.path.join(ROOT, "benches", "queries")
    names = args.queries or sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".rq"))
    texts = {name: open(os.path.join(folder, f"{name}.rq")).read() for name in names}
    servers = {
        "treaty-kg": ([args.treaty_kg, "serve", "--store", args.store, "--no-default-data", "--no-query-cache",
                       "--queries", os.path.join(ROOT, "queries"), "--bind", f"127.0.0.1:{PORT}"], "/sparql"),
        "oxigraph": ([args.oxigraph, "serve", "--location", args.store, "--union-default-graph",
                      "--bind", f"127.0.0.1:{PORT}"], "/query"),
    }
    figures = {who: {"cold start (s)": []} | {name: [] for name in names} for who in servers}
    for round_ in range(args.rounds):
        for who, (cmd, path) in servers.items():
            proc, cold = started(cmd, path)
            try:
                figures[who]["cold start (s)"].append(cold)
                idle(proc)
                for name in names:
                    url = f"http://127.0.0.1:{PORT}{path}?query={urllib.parse.quote(texts[name])}"
                    accept = GRAPH_ACCEPT if "construct" in name else ACCEPT
                    times = []
                    for _ in range(args.requests):
                        began = time.monotonic()
                        assert answer(url, accept) == 200, f"{who}: {name}"
                        times.append(time.monotonic() - began)
                    figures[who][name].append(statistics.median(times[1:]) * 1000)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
            log(f"round {round_ + 1}: {who} done")
    print("| measure | treaty-kg | oxigraph serve | ratio (time) |")
    print("|---|---:|---:|---:|")
    for measure in figures["treaty-kg"]:
        ours = statistics.median(figures["treaty-kg"][measure])
        theirs = statistics.median(figures["oxigraph"][measure])
        unit = "" if measure.startswith("cold") else " (ms, one at a time)"
        print(f"| {measure}{unit} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f}× |" if unit == ""
              else f"| {measure}{unit} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    main()
