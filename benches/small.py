#!/usr/bin/env python3
"""The small-query mix: what a script looping over IRIs or a crawler sends,
treaty-kg against Oxigraph's own server on the same generated data
(BENCHMARKS.md, "The small-query mix").

    benches/small.py --treaty-kg target/release/treaty-kg --oxigraph target/bench-venv/bin/oxigraph \\
        [--treaty-kg-variant before=PATH] [--size 1000000] [--rounds 3] [--duration 4]

Each request of a query names another treaty (about ten statements each), so
no answer repeats within a run: wrk sends them through a Lua script that
cycles over every treaty of the store. Queries: a point lookup, an ASK, a
two-pattern join with LIMIT, a FILTER, a sequence path, an aggregate, and a
streamed scan of 2,000 rows (the same every time).

Servers, side by side on copies of one store, each at its defaults: ours with
`--no-query-cache` and, as "ours (cache on)", at its plain defaults; every
Oxigraph with `--union-default-graph`. Rounds are interleaved; the table gives
medians of throughput at 1 and 8 connections and of the median latency at 1.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (fetch, generated_data, loaded_by_both, log, median, ratio, start, stop, to_ms,  # noqa: E402
                 wait_idle)

PREFIXES = ("PREFIX tkg: <https://w3id.org/treaty-kg/ontology#> "
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> ")
# {t} is a treaty's IRI, another for every request.
MIX = [
    ("point-lookup", "SELECT ?p ?o WHERE { <{t}> ?p ?o }"),
    ("ask", "ASK { <{t}> a tkg:Treaty }"),
    ("join-limit", "SELECT ?x ?y WHERE { <{t}> tkg:prohibits ?p . ?p ?x ?y } LIMIT 100"),
    ("filter", "SELECT ?p ?o WHERE { <{t}> ?p ?o FILTER(isLiteral(?o)) }"),
    ("path", "SELECT ?x WHERE { <{t}> tkg:prohibits/rdf:type ?x }"),
    ("aggregate", "SELECT (COUNT(*) AS ?n) WHERE { <{t}> ?p ?o }"),
    ("scan-2000", "SELECT ?s ?l WHERE { ?s a tkg:Treaty ; rdfs:label ?l } LIMIT 2000"),
]
ACCEPT = "application/sparql-results+json"
LUA = """
paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
i = math.random(#paths)
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk_paths(base, paths_file, script, connections, duration):
    """Requests per second and p50 latency (ms) over the paths in `paths_file`."""
    with open(script, "w") as f:
        f.write(LUA % paths_file)
    out = subprocess.run(
        ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency",
         "-H", f"Accept: {ACCEPT}", "-s", script, base],
        capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: \d+", out) or re.search(r"Socket errors", out):
        raise RuntimeError(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    return rps, to_ms(*p50.groups())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--oxigraph", required=True, help="the PyPI binary")
    parser.add_argument("--treaty-kg-variant", action="append", default=[],
                        help="LABEL=PATH: another build of treaty-kg, served like ours (no cache)")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--queries", default=",".join(n for n, _ in MIX))
    args = parser.parse_args()
    ours, pypi = (os.path.abspath(p) for p in (args.treaty_kg, args.oxigraph))
    variants = [(f"treaty-kg ({label})", os.path.abspath(path))
                for label, path in (v.split("=", 1) for v in args.treaty_kg_variant)]
    work = tempfile.mkdtemp(prefix="treaty-kg-small-")
    servers = []
    try:
        data = generated_data(ours, args.size, work)
        with open(data) as f:
            treaties = sorted({m.group(1) for line in f
                               for m in [re.match(r"<(https://w3id\.org/treaty-kg/id/treaty/t\d+)> ", line)] if m})
        store_o, store_p = loaded_by_both(ours, pypi, data, work)
        os.remove(data)
        commands = [("treaty-kg", [ours, "serve", "--no-default-data", "--no-query-cache"], "/sparql", store_o),
                    ("oxigraph", [pypi, "serve", "--union-default-graph"], "/query", store_p),
                    ("treaty-kg (cache on)", [ours, "serve", "--no-default-data"], "/sparql", None)]
        commands += [(name, [binary, "serve", "--no-default-data", "--no-query-cache"], "/sparql", None)
                     for name, binary in variants]
        names = [c[0] for c in commands]
        bases = {}
        ask = urllib.parse.quote("ASK { ?s ?p ?o }")
        for n, (name, cmd, path, store) in enumerate(commands):
            if store is None:
                store = os.path.join(work, f"copy{n}")
                shutil.copytree(store_o, store)
            flag = "--location" if path == "/query" else "--store"
            port = 7501 + n
            proc, _ = start(cmd + [flag, store, "--bind", f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}{path}?query={ask}")
            servers.append(proc)
            bases[name] = (f"http://127.0.0.1:{port}", path)
        log(f"all {len(servers)} idle after {wait_idle(servers):.0f} s; {len(treaties)} treaties")
        pairs = [(names[0], names[1]), (names[2], names[1])] + [p for v in names[3:] for p in ((v, names[1]), (names[0], v))]
        short = lambda n: "ours" if n == "treaty-kg" else n.replace("treaty-kg ", "").strip("()")  # noqa: E731
        print("| query | measure | " + " | ".join(names) + " | "
              + " | ".join(f"{short(a)} ÷ {short(b)}" for a, b in pairs) + " |")
        print("|---|---|" + "---:|" * (len(names) + len(pairs)))
        wanted = args.queries.split(",")
        for name, template in MIX:
            if name not in wanted:
                continue
            files = {}
            for server, (base, path) in bases.items():
                file = os.path.join(work, f"{name}-{len(files)}.paths")
                with open(file, "w") as f:
                    for t in treaties:
                        f.write(f"{path}?query={urllib.parse.quote(PREFIXES + template.replace('{t}', t))}\n")
                files[server] = file
                fetch(base + path + "?query=" + urllib.parse.quote(PREFIXES + template.replace("{t}", treaties[0])),
                      ACCEPT)
            results = {(n, c): [] for n in names for c in (1, 8)}
            latency = {n: [] for n in names}
            for _ in range(args.rounds):
                for c in (1, 8):
                    for server in names:
                        rps, p50 = wrk_paths(bases[server][0], files[server], os.path.join(work, "s.lua"), c,
                                             args.duration)
                        results[(server, c)].append(rps)
                        if c == 1:
                            latency[server].append(p50)
                        wait_idle(servers, quiet=1, limit=60)
            for c in (1, 8):
                m = {n: median(results[(n, c)]) for n in names}
                print(f"| {name} | req/s, c={c} | " + " | ".join(f"{m[n]:,.0f}" for n in names) + " | "
                      + " | ".join(ratio(m[a], m[b]) for a, b in pairs) + " |", flush=True)
            m = {n: median(latency[n]) for n in names}
            print(f"| {name} | p50 ms, c=1 | " + " | ".join(f"{m[n]:.3f}" for n in names) + " | "
                  + " | ".join(ratio(m[a], m[b], higher_is_better=False) for a, b in pairs) + " |", flush=True)
    finally:
        for proc in servers:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
