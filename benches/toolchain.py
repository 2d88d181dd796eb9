#!/usr/bin/env python3
"""Whose gap is it: treaty-kg, `oxigraph serve` as PyPI ships it, and
`oxigraph serve` built on this machine by the same toolchain as treaty-kg
(BENCHMARKS.md, "The toolchain experiment").

If the locally built Oxigraph is as slow as ours where ours trails the PyPI
binary, the gap is the build (compiler versions), not treaty-kg's code.

    CC="ccache gcc" CXX="ccache g++" CARGO_PROFILE_RELEASE_LTO=true \\
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \\
        cargo install --locked oxigraph-cli@0.5.13 --root target/oxigraph-here
    benches/toolchain.py --treaty-kg target/release/treaty-kg \\
        --oxigraph target/bench-venv/bin/oxigraph \\
        --oxigraph-here target/oxigraph-here/bin/oxigraph --size 1000000

To tell the C++ compiler's share from rustc's, build Oxigraph a second time
with RocksDB compiled by clang (`apt-get install clang-19`; `CC="ccache
clang-19" CXX="ccache clang++-19"` and `--root target/oxigraph-clang` in the
command above) and give both builds:

    --oxigraph-here "GCC 12=target/oxigraph-here/bin/oxigraph" \
        --oxigraph-here "clang 19=target/oxigraph-clang/bin/oxigraph"

To measure another build of treaty-kg itself (a profile-guided one, from
`benches/pgo.sh`) beside them, give it as `--treaty-kg-variant LABEL=PATH`;
it serves its own copy of our store with our flags, and its ratios are to
ours and to PyPI's.

The servers run side by side on copies of one generated dataset, each
with its defaults (ours with `--no-query-cache`, since wrk repeats one query;
every Oxigraph with `--union-default-graph`, as ours has it on). Each query is
measured in interleaved rounds (A, B, C, A, B, C, ...); the table gives
medians. Prints one markdown table.
"""

import argparse
import os
import shutil
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (fetch, generated_data, loaded_by_both, log, median, queries, ratio, start, stop,  # noqa: E402
                 wait_idle, wrk)

# Ours without the repository's data (the stores hold the generated data only,
# as Oxigraph's do) and without the answer cache (wrk repeats one query).
OUR_FLAGS = ["--no-default-data", "--no-query-cache"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--oxigraph", required=True, help="the PyPI binary")
    parser.add_argument("--oxigraph-here", action="append", default=[],
                        help="built here, by this machine's toolchain; repeat as LABEL=PATH to compare builds"
                             " (say, RocksDB compiled by GCC and by clang)")
    parser.add_argument("--treaty-kg-variant", action="append", default=[],
                        help="LABEL=PATH: another build of treaty-kg (say, profile-guided), served like ours")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", default="01,05,07,09", help="prefixes of benches/queries files")
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connection-close", action="store_true",
                        help="a new connection for every request, as clients such as SPARQLWrapper make")
    args = parser.parse_args()
    headers = ["Connection: close"] if args.connection_close else []
    ours, pypi = (os.path.abspath(p) for p in (args.treaty_kg, args.oxigraph))
    # Each build made here: its label and binary.
    here = [(h.split("=", 1) if "=" in h else ("built here", h)) for h in args.oxigraph_here]
    here = [(f"oxigraph ({label})", os.path.abspath(path)) for label, path in here]
    variants = [v.split("=", 1) for v in args.treaty_kg_variant]
    variants = [(f"treaty-kg ({label})", os.path.abspath(path)) for label, path in variants]
    work = tempfile.mkdtemp(prefix="treaty-kg-toolchain-")
    servers = []
    try:
        data = generated_data(ours, args.size, work)
        store_o, store_p = loaded_by_both(ours, pypi, data, work)
        os.remove(data)
        ask = urllib.parse.quote("ASK { ?s ?p ?o }")
        commands = [
            ("treaty-kg", [ours, "serve", "--store", store_o] + OUR_FLAGS, "/sparql"),
            ("oxigraph (PyPI)", [pypi, "serve", "--location", store_p, "--union-default-graph"], "/query"),
        ]
        for n, (name, binary) in enumerate(here):
            store_h = os.path.join(work, f"here{n}")
            shutil.copytree(store_p, store_h)
            commands.append((name, [binary, "serve", "--location", store_h, "--union-default-graph"], "/query"))
        for n, (name, binary) in enumerate(variants):
            store_v = os.path.join(work, f"variant{n}")
            shutil.copytree(store_o, store_v)
            commands.append((name, [binary, "serve", "--store", store_v] + OUR_FLAGS, "/sparql"))
        names = [name for name, _, _ in commands]
        bases = {}
        for port, (name, cmd, path) in enumerate(commands, start=7401):
            base = f"http://127.0.0.1:{port}"
            proc, _ = start(cmd + ["--bind", f"127.0.0.1:{port}"], f"{base}{path}?query={ask}")
            servers.append(proc)
            bases[name] = base + path
        log(f"all {len(servers)} idle after {wait_idle(servers):.0f} s")
        wanted = args.queries.split(",")
        # Ratios: ours to PyPI, then for each build made here ours to it and it to PyPI,
        # then for each variant of ours it to ours and to PyPI.
        pairs = [(names[0], names[1])] + [p for name, _ in here for p in ((names[0], name), (name, names[1]))]
        pairs += [p for name, _ in variants for p in ((name, names[0]), (name, names[1]))]
        short = lambda name: name.split("(", 1)[1].removesuffix(")") if "(" in name else name  # noqa: E731
        print("| query | c | " + " | ".join(f"{n} req/s" for n in names) + " | "
              + " | ".join(f"{short(a) if a != names[0] else 'ours'} ÷ {short(b)}" for a, b in pairs) + " |")
        print("|---|---:|" + "---:|" * (len(names) + len(pairs)))
        for name, text, accept in queries():
            if not any(name.startswith(w) for w in wanted):
                continue
            urls = {n: f"{b}?query={urllib.parse.quote(text)}" for n, b in bases.items()}
            for url in urls.values():
                fetch(url, accept)  # warm
            for c in (int(x) for x in args.connections.split(",")):
                rates = {n: [] for n in names}
                for _ in range(args.rounds):
                    for n in names:
                        rates[n].append(wrk(urls[n], c, args.duration, accept, headers)[0])
                        wait_idle(servers, quiet=1, limit=120)
                m = {n: median(v) for n, v in rates.items()}
                print(f"| {name} | {c} | " + " | ".join(f"{m[n]:,.0f}" for n in names) + " | "
                      + " | ".join(ratio(m[a], m[b]) for a, b in pairs) + " |", flush=True)
    finally:
        for proc in servers:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
