#!/usr/bin/env python3
"""The answer cache against oxigraph serve, and the cost of the inferred graph
(BENCHMARKS.md).

Generates data (`treaty-kg generate`), loads it with `treaty-kg load` and
`oxigraph load`, then:

- inference: starts `treaty-kg serve` on it with the ontology (`--data
  ontology`), and reports how long the start's regeneration of the inferred
  graph took (from the log), how many statements it holds, and how long after a
  write its closure shows that write;
- the cache: a repeated heavy query at one connection, treaty-kg as shipped
  (cache on) against `oxigraph serve --union-default-graph` (no cache), and
  treaty-kg with `--no-query-cache`, for reference; and a revalidation by
  `If-None-Match` (304).

    benches/cache_inference.py --treaty-kg target/release/treaty-kg \
        --oxigraph target/bench-venv/bin/oxigraph --size 1000000 [--inference-only]

Prints one markdown table.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ACCEPT, fetch, log, ratio, start, stop, wait_for, wait_idle, wrk  # noqa: E402  (the shared harness)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-0123456789abcdef"


def count(base, query):
    _, body = fetch(f"{base}/sparql?query=" + urllib.parse.quote(query), "text/csv")
    return int(body.decode().splitlines()[1])


def update(base, text):
    request = urllib.request.Request(f"{base}/sparql", data=text.encode(), method="POST", headers={
        "Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=300) as r:
        return r.status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--oxigraph", required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--query", default=os.path.join(ROOT, "benches", "queries", "06-group-by.rq"))
    parser.add_argument("--inference-only", action="store_true", help="skip the cache's measures")
    args = parser.parse_args()
    ours, theirs = os.path.abspath(args.treaty_kg), os.path.abspath(args.oxigraph)
    work = tempfile.mkdtemp(prefix="treaty-kg-cache-")
    rows = [("size", f"{args.size:,} quads")]
    data = os.path.join(work, "data.nq")
    with open(data, "w") as f:
        subprocess.run([ours, "generate", "--triples", str(args.size), "--seed", "42"], stdout=f, check=True)
    store_o, store_t = os.path.join(work, "ours"), os.path.join(work, "theirs")
    subprocess.run([ours, "load", "--store", store_o, data], check=True, stderr=subprocess.DEVNULL)
    if not args.inference_only:
        subprocess.run([theirs, "load", "--location", store_t, "--file", data], check=True, stderr=subprocess.DEVNULL)
    with open(args.query) as f:
        heavy = f.read()
    base_o, base_t = "http://127.0.0.1:7893", "http://127.0.0.1:7894"
    log_path = os.path.join(work, "serve.log")

    # Inference: the start's regeneration, the graph's size, a write followed.
    with open(log_path, "w") as log_file:
        server = subprocess.Popen(
            [ours, "serve", "--store", store_o, "--bind", "127.0.0.1:7893", "--no-default-data",
             "--data", os.path.join(ROOT, "ontology")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file, env={**os.environ, "TREATY_KG_WRITE_TOKEN": TOKEN})
        wait_for(f"{base_o}/health", timeout=1800)
    try:
        # The log is written by a background thread: the line may land just after /health answers.
        deadline = time.monotonic() + 10
        while not (regenerated := re.search(r"inferred graph ready ms=(\d+)", open(log_path).read())) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        inferred = count(base_o, "SELECT (COUNT(*) AS ?n) { GRAPH <https://w3id.org/treaty-kg/graph/inferred> { ?s ?p ?o } }")
        rows.append(("inferred graph at start", f"{int(regenerated.group(1)):,} ms to regenerate, {inferred:,} statements"
                     if regenerated else "no timing in the log"))
        started = time.monotonic()
        update(base_o, "INSERT DATA { GRAPH <http://example.org/bench> { <http://example.org/o> a "
                       "<https://w3id.org/treaty-kg/ontology#Official> } }")
        written = time.monotonic() - started
        while count(base_o, "SELECT (COUNT(*) AS ?n) { <http://example.org/o> a <https://schema.org/Person> }") == 0:
            time.sleep(0.05)
        after = time.monotonic() - started
        _, metrics = fetch(f"{base_o}/metrics", "text/plain")
        runs = dict(re.findall(r'treaty_kg_inference_runs_total\{how="(\w+)"\} (\d+)', metrics.decode()))
        rows.append(("a write, then its closure", f"write answered in {written * 1000:,.0f} ms; "
                     f"inferred {after * 1000:,.0f} ms after it was sent (runs since start: "
                     f"{runs.get('regeneration', '?')} whole, {runs.get('refresh', '?')} for the written subjects)"))
    finally:
        stop(server)
    if args.inference_only:
        return table(rows)

    # The cache: the same heavy query again and again, at one connection.
    url_o = f"{base_o}/sparql?query=" + urllib.parse.quote(heavy)
    url_t = f"{base_t}/query?query=" + urllib.parse.quote(heavy)
    figures = {}
    for name, cmd, url in [
        ("treaty-kg (cache on)", [ours, "serve", "--store", store_o, "--bind", "127.0.0.1:7893", "--no-default-data",
                                  "--no-inference"], url_o),
        ("treaty-kg --no-query-cache", [ours, "serve", "--store", store_o, "--bind", "127.0.0.1:7893",
                                        "--no-default-data", "--no-inference", "--no-query-cache"], url_o),
        ("oxigraph serve", [theirs, "serve", "--location", store_t, "--bind", "127.0.0.1:7894",
                            "--union-default-graph"], url_t),
    ]:
        probe = base_o + "/health" if "treaty" in name else base_t + "/query?query=ASK%7B%7D"
        proc, _ = start(cmd, probe)
        try:
            wait_idle([proc])
            fetch(url, ACCEPT)  # the first answer (for the cache: the one kept)
            figures[name] = wrk(url, 1, args.duration, ACCEPT)
            if name == "treaty-kg (cache on)":
                request = urllib.request.Request(url, headers={"Accept": ACCEPT})
                with urllib.request.urlopen(request) as r:
                    etag = r.headers["ETag"]
                out = subprocess.run(["wrk", "-t1", "-c1", f"-d{args.duration}s", "-H", f"Accept: {ACCEPT}",
                                      "-H", f"If-None-Match: {etag}", url], capture_output=True, text=True).stdout
                figures["revalidation (304)"] = (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), 0, 0)
        finally:
            stop(proc)
    theirs_rps = figures["oxigraph serve"][0]
    for name, (rps, p50, p99) in figures.items():
        latency = f", p50 {p50:.2f} ms, p99 {p99:.2f} ms" if p50 else ""
        rows.append((f"{os.path.basename(args.query)} repeated, c=1: {name}",
                     f"{rps:,.0f} req/s{latency} ({ratio(rps, theirs_rps)} oxigraph serve)"))
    table(rows)


def table(rows):
    print("| measure | result |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
