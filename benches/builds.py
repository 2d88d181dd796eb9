#!/usr/bin/env python3
"""Is the gap on sub-millisecond queries our server's, or the build's?

Usage: benches/builds.py --oxigraph-here PATH [--size 1000000] [--runs 3]
                         [--queries 01,05,07,09] [--connections 1,8]

Three servers side by side on the same generated data, each on its own copy of
the store: treaty-kg (`treaty-kg load`, `serve` with its defaults), `oxigraph
serve` from PyPI (the benchmark peer), and `oxigraph serve` built on this
machine from the same crates.io release of oxigraph-cli, with the profile of
Oxigraph's own workspace (LTO, one codegen unit, panic=abort):

    CC="ccache gcc" CXX="ccache g++" CARGO_PROFILE_RELEASE_LTO=true \\
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \\
    cargo install --locked oxigraph-cli@0.5.13 --root target/oxigraph-here

If the Oxigraph built here runs as fast as PyPI's, the remaining gap is in our
server; if it is as slow as ours, it is in the toolchain of this machine.
Prints a markdown table of request rates (medians of --runs runs of wrk, the
servers measured in turn) and the ratios to PyPI's binary.
"""

import argparse
import os
import shutil
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as mix  # noqa: E402  (the query mix's helpers: wrk, start, wait_idle…)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--queries", default="01,05,07,09", help="prefixes of benches/queries/ names")
    parser.add_argument("--treaty-kg", default=os.path.join(mix.ROOT, "target", "release", "treaty-kg"))
    parser.add_argument("--oxigraph", default=os.path.join(mix.ROOT, "target", "bench-venv", "bin", "oxigraph"))
    parser.add_argument("--oxigraph-here", required=True)
    args = parser.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    wanted = args.queries.split(",")
    work = tempfile.mkdtemp(prefix="treaty-kg-builds-")
    servers = []
    try:
        data = os.path.join(work, "data.nq")
        with open(data, "wb") as f:
            mix.subprocess.run([args.treaty_kg, "generate", "--triples", str(args.size), "--seed", "42"],
                               stdout=f, check=True)
        ours_store, theirs_store = os.path.join(work, "ours"), os.path.join(work, "theirs")
        mix.subprocess.run([args.treaty_kg, "load", "--store", ours_store, data], check=True,
                           stderr=mix.subprocess.DEVNULL)
        mix.subprocess.run([args.oxigraph, "load", "--location", theirs_store, "--file", data], check=True,
                           stderr=mix.subprocess.DEVNULL)
        os.remove(data)
        here_store = os.path.join(work, "here")
        shutil.copytree(theirs_store, here_store)
        probe = urllib.parse.quote("ASK { ?s ?p ?o }")
        named = [
            ("treaty-kg", [args.treaty_kg, "serve", "--store", ours_store, "--no-default-data",
                           "--bind", "127.0.0.1:7311"], "http://127.0.0.1:7311/sparql"),
            ("oxigraph (PyPI)", [args.oxigraph, "serve", "--location", theirs_store, "--bind", "127.0.0.1:7312",
                                 "--union-default-graph"], "http://127.0.0.1:7312/query"),
            ("oxigraph (built here)", [args.oxigraph_here, "serve", "--location", here_store,
                                       "--bind", "127.0.0.1:7313", "--union-default-graph"],
             "http://127.0.0.1:7313/query"),
        ]
        for name, cmd, endpoint in named:
            proc, _ = mix.start(cmd, f"{endpoint}?query={probe}")
            servers.append((name, proc, endpoint))
        procs = [p for _, p, _ in servers]
        mix.log(f"idle after {mix.wait_idle(procs):.0f} s")
        print("| query | connections | " + " | ".join(f"{n} (req/s)" for n, _, _ in servers)
              + " | treaty-kg / PyPI | built here / PyPI |")
        print("|---|---:|" + "---:|" * (len(servers) + 2))
        for query, text, accept in mix.queries():
            if not any(query.startswith(w) for w in wanted):
                continue
            q = urllib.parse.quote(text)
            for c in conns:
                rates = {}
                for name, _, endpoint in servers:
                    runs = []
                    for _ in range(args.runs):
                        runs.append(mix.wrk(f"{endpoint}?query={q}", c, args.duration, accept)[0])
                        mix.wait_idle(procs, quiet=1, limit=600)
                    rates[name] = mix.median(runs)
                values = list(rates.values())
                print(f"| {query} | {c} | " + " | ".join(f"{v:,.0f}" for v in values)
                      + f" | {mix.ratio(values[0], values[1])} | {mix.ratio(values[2], values[1])} |", flush=True)
    finally:
        for _, proc, _ in servers:
            mix.stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
