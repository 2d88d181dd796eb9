#!/usr/bin/env python3
"""treaty-kg in front of Virtuoso, against Virtuoso's own /sparql (BENCHMARKS.md).

Starts Virtuoso 7 (Debian's `virtuoso-opensource`) on loopback ports with a
temporary database, bulk-loads generated data with Virtuoso's own loader
(`ld_dir` + `rdf_loader_run`), starts `treaty-kg serve --remote` in front of
it, then measures the benchmark query mix (benches/queries) on both at 1 and 8
connections: the front end's overhead per query. Also a saved query, cold
(a fresh binding each time) and cached.

    benches/remote.py --treaty-kg target/release/treaty-kg --size 1000000

With `--restarts`, instead of the mix: how long a front end with its defaults
(inference, search, summaries warmed at start) takes, from its process start,
until the home page, a search and VoID answer, at its first start and at a restart
on the engine's unchanged data, without and with `--remote-state DIR`.

Prints one markdown table.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import fetch, log, queries, start, stop, wait_for, wrk, wrk_counting  # noqa: E402  (the shared harness)

ACCEPT = "application/sparql-results+json"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def virtuoso(work, data_dir):
    """Starts Virtuoso with both listeners on loopback; returns (process, http port, sql port)."""
    sql, http = free_port(), free_port()
    with open("/etc/virtuoso-opensource-7/virtuoso.ini") as f:
        ini = f.read()
    ini = (ini.replace("/var/lib/virtuoso-opensource-7/db", work)
           .replace("ServerPort               = 1111", f"ServerPort               = 127.0.0.1:{sql}")
           .replace("ServerPort                  = 8890", f"ServerPort                  = 127.0.0.1:{http}")
           .replace("DirsAllowed              = .", f"DirsAllowed              = ., {data_dir}")
           # The defaults are for a few hundred MB; the benchmark data needs more buffers.
           .replace("NumberOfBuffers          = 10000", "NumberOfBuffers          = 340000")
           .replace("MaxDirtyBuffers          = 6000", "MaxDirtyBuffers          = 250000")
           # Ten connections by default: fewer than the benchmark opens.
           .replace("MaxClientConnections     = 10", "MaxClientConnections     = 64")
           .replace("MaxClientConnections        = 10", "MaxClientConnections        = 64"))
    path = os.path.join(work, "virtuoso.ini")
    with open(path, "w") as f:
        f.write(ini)
    proc = subprocess.Popen(["virtuoso-t", "+foreground", "+configfile", path], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{http}/sparql?query=ASK%7B%7D")
    return proc, http, sql


def isql(sql_port, statement):
    subprocess.run(["isql-vt", f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={statement}"],
                   check=True, stdout=subprocess.DEVNULL)


def restarts(binary, engine_url, work):
    """Rows: seconds from process start until `/`, `/search` and VoID answer 200, at a
    first start and at a restart, without and with `--remote-state`."""
    rows = []
    for label, extra in (("no --remote-state", []), ("--remote-state DIR", ["--remote-state", os.path.join(work, "state")])):
        for attempt in ("first start", "restart"):
            port = free_port()
            front = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            server, _ = start([binary, "serve", "--remote", engine_url, "--bind", f"127.0.0.1:{port}",
                               "--no-default-data", *extra], f"{front}/health", env=dict(os.environ, TREATY_KG_WRITE_TOKEN="bench-token-0123456789"))
            try:
                wait_for(f"{front}/", timeout=3600)
                home = time.monotonic() - started
                wait_for(f"{front}/search?q=treaty", timeout=3600)
                search = time.monotonic() - started
                wait_for(f"{front}/.well-known/void", timeout=3600)
                void = time.monotonic() - started
                # What VoID says of the graphs: the summaries' titles.
                _, body = fetch(f"{front}/.well-known/void", "application/n-triples")
                titles = [line.split('"')[1] for line in body.decode().splitlines()
                          if "/terms/title>" in line and "named graphs" in line]
            finally:
                stop(server)
            rows.append((f"{label}, {attempt}", f"{home:.2f} s", f"{search:.2f} s", f"{void:.2f} s"))
            log("VoID: " + "; ".join(titles))
            log(" | ".join(rows[-1]))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--restarts", action="store_true",
                        help="measure starts and restarts (home page, search) instead of the query mix")
    args = parser.parse_args()
    binary = os.path.abspath(args.treaty_kg)
    work = tempfile.mkdtemp(prefix="treaty-kg-remote-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    rows = []
    try:
        with open(os.path.join(data_dir, "data.nq"), "w") as f:
            subprocess.run([binary, "generate", "--triples", str(args.size), "--seed", "42"], stdout=f, check=True)
        engine, http, sql = virtuoso(work, data_dir)
        try:
            started = time.monotonic()
            isql(sql, "GRANT SPARQL_UPDATE TO \"SPARQL\";")
            isql(sql, f"ld_dir('{data_dir}', '*.nq', 'http://example.org/default');")
            isql(sql, "rdf_loader_run();")
            isql(sql, "checkpoint;")
            log(f"Virtuoso loaded {args.size:,} quads in {time.monotonic() - started:.1f} s")
            virtuoso_url = f"http://127.0.0.1:{http}/sparql"
            if args.restarts:
                rows = restarts(binary, virtuoso_url, work)
                print("| front end over Virtuoso | home page answers | search answers | VoID answers |\n|---|---|---|---|")
                for row in rows:
                    print("| " + " | ".join(row) + " |")
                return
            port = free_port()
            front = f"http://127.0.0.1:{port}"
            # Without the ad-hoc answer cache: wrk repeats one query, and the
            # mix measures the front end's cost per query, not the cache.
            server, _ = start([binary, "serve", "--remote", virtuoso_url, "--bind", f"127.0.0.1:{port}",
                               "--no-default-data", "--no-query-cache", "--queries", os.path.join(ROOT, "queries")],
                              f"{front}/health")
            try:
                rows.append(("size", f"{args.size:,} quads", "", ""))
                for name, text, accept in queries():
                    q = "?query=" + urllib.parse.quote(text)
                    for c in (1, 8):
                        theirs = [wrk_counting(virtuoso_url + q, c, args.duration, accept) for _ in range(args.runs)]
                        ours = [wrk_counting(f"{front}/sparql" + q, c, args.duration, accept) for _ in range(args.runs)]
                        t = statistics.median(m[0] for m in theirs)
                        o = statistics.median(m[0] for m in ours)
                        p50_t = statistics.median(m[1] for m in theirs)
                        p50_o = statistics.median(m[1] for m in ours)
                        bad_o, bad_t = sum(m[3] for m in ours), sum(m[3] for m in theirs)
                        refused = f" ({bad_o} not 2xx)" if bad_o else ""
                        refused_t = f" ({bad_t} not 2xx)" if bad_t else ""
                        ratio = f"{o / t:.2f}× ; +{p50_o - p50_t:.2f} ms" if t and o else "n/a (no answer within the run)"
                        rows.append((f"{name} c={c}", f"{o:,.1f} req/s (p50 {p50_o:.2f} ms){refused}",
                                     f"{t:,.1f} req/s (p50 {p50_t:.2f} ms){refused_t}", ratio))
                        log(" | ".join(rows[-1]))
                # The saved query of benches/run.py: a fresh binding each time misses the cache.
                alliance = "alliance=" + urllib.parse.quote("https://w3id.org/treaty-kg/id/organization/a0")
                saved = f"{front}/queries/alliance-members-bordering?{alliance}&neighbour=" + urllib.parse.quote("https://w3id.org/treaty-kg/id/state/s1")
                cold = []
                for i in range(args.runs):
                    url = f"{front}/queries/alliance-members-bordering?{alliance}&neighbour=" + urllib.parse.quote(f"https://w3id.org/treaty-kg/id/state/s{10 + i}")
                    t0 = time.monotonic()
                    fetch(url, ACCEPT)
                    cold.append((time.monotonic() - t0) * 1000)
                cached = [wrk(saved, 8, args.duration, ACCEPT) for _ in range(args.runs)]
                rate = statistics.median(m[0] for m in cached)
                rows.append(("saved query, cold (ms per call)", f"{statistics.median(cold):.2f}", "—", "—"))
                rows.append(("saved query, cached c=8", f"{rate:,.0f} req/s", "—",
                             f"{rate / (1000 / statistics.median(cold)):.0f}× the cold rate"))
            finally:
                stop(server)
        finally:
            stop(engine)
        print("| measure | treaty-kg in front | Virtuoso /sparql | ratio ; added p50 |\n|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
