#!/usr/bin/env python3
"""A stream of small writes with reads running throughout, treaty-kg against
Oxigraph's own server on the same generated data (see BENCHMARKS.md).

Usage: benches/writes.py [--sizes 1000000,10000000] [--rates 1,10] [--duration 30]
                         [--treaty-kg target/release/treaty-kg] [--oxigraph target/bench-venv/bin/oxigraph]

For each size: `treaty-kg generate`, loaded by each tool's own `load`; then
each server started at its defaults (ours with a write token, theirs with
--union-default-graph), and, for each:
- the first start until idle (CPU quiet for 3 s), and its resident memory;
- a read mix (point lookups of distinct IRIs, a two-pattern join, a filter, a
  count) on one connection, alone for --duration seconds: p50 and p99;
- a stream of one-statement `INSERT DATA` writes (each a new
  tkg:SovereignState in a graph of its own) at each rate, alone: the CPU per
  write, until the server is idle again (every derived view and the search
  index included);
- the same stream with the read mix running: the read mix's p50 and p99, and
  for ours the time until each summary page (home, VoID, ontology, timeline,
  vocabulary) names the data version the write made;
- resident memory sampled every half second (peak and end);
- a Graph Store PUT of 100,000 statements into a new graph: its CPU.
Every figure comes with the treaty-kg / oxigraph ratio, as markdown.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, cpu_seconds, log, median, ratio, start, stop, wait_idle  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
TKG = "https://w3id.org/treaty-kg/"
PAGES = ["/", "/.well-known/void", "/ontology", "/timeline.svg", "/editor/vocabulary.json"]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """Samples a process's resident memory every half second."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def run(self):
        while self.running:
            try:
                self.samples.append(rss_mib(self.pid))
            except OSError:
                return
            time.sleep(0.5)


def read_mix(size):
    """Small queries, as scripts and crawlers send them: mostly point lookups
    of non-hub IRIs. Every text is distinct (a random LIMIT past its answer),
    so no answer comes from the answer cache, idle or under writes: both runs
    measure evaluation, and a write's end of cached answers does not count."""
    articles = max(1, size // 60)
    rng = random.Random(7)
    while True:
        pick = rng.random()
        limit = f" LIMIT {rng.randrange(1000, 1_000_000_000)}"
        if pick < 0.6:
            iri = f"{TKG}id/treaty/t{rng.randrange(articles)}"
            yield f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}{limit}"
        elif pick < 0.75:
            state = f"{TKG}id/state/s{rng.randrange(200)}"
            yield (f"SELECT ?t ?l WHERE {{ <{state}> <{TKG}ontology#partyTo> ?t . "
                   f"?t <http://www.w3.org/2000/01/rdf-schema#label> ?l }}{limit}")
        elif pick < 0.9:
            yield (f"SELECT ?s WHERE {{ ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l "
                   f"FILTER(STRSTARTS(?l, \"State {rng.randrange(200)}\")) }}{limit}")
        else:
            yield f"SELECT ?p WHERE {{ <{TKG}id/state/s{rng.randrange(200)}> ?p ?o }}{limit}"


class Reader(threading.Thread):
    """Runs the read mix on one kept-alive connection, recording latencies."""

    def __init__(self, port, path, size):
        super().__init__(daemon=True)
        self.port, self.path, self.queries = port, path, read_mix(size)
        self.latencies, self.running, self.errors = [], True, 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while self.running:
            query = next(self.queries)
            started = time.perf_counter()
            try:
                conn.request("GET", f"{self.path}?query={urllib.parse.quote(query)}",
                             headers={"Accept": "application/sparql-results+json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.errors += 1
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                continue
            self.latencies.append((time.perf_counter() - started) * 1000)

    def stop(self):
        self.running = False
        self.join()
        return percentile(self.latencies, 50), percentile(self.latencies, 99)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def write(port, ours, i):
    text = (f"INSERT DATA {{ GRAPH <urn:bench:write:{i}> {{ <{TKG}id/state/new{i}> a <{TKG}ontology#SovereignState> }} }}")
    headers = {"Content-Type": "application/sparql-update"}
    if ours:
        headers["Authorization"] = f"Bearer {TOKEN}"
    status, _, body = request(port, "POST", "/sparql" if ours else "/update", text.encode(), headers)
    assert status in (200, 204), f"write {i}: {status} {body[:200]}"


def data_version(port):
    _, _, body = request(port, "GET", "/health", headers={"Accept": "application/json"})
    return json.loads(body)["data_version"]


def shows(port, path, version):
    status, headers, body = request(port, "GET", path, headers={"Accept": "text/html"})
    if path == "/editor/vocabulary.json":
        return json.loads(body)["data_version"] == version
    return status == 200 and headers.get("X-Data-Version", headers.get("x-data-version")) == version


def visibility(port):
    """Seconds until each summary page names the data version of a write just made."""
    version = data_version(port)
    started = time.monotonic()
    waits = {}
    pending = list(PAGES)
    while pending and time.monotonic() - started < 60:
        for path in list(pending):
            if shows(port, path, version):
                waits[path] = time.monotonic() - started
                pending.remove(path)
        if pending:
            time.sleep(0.01)
    for path in pending:
        waits[path] = float("inf")
    return waits


def writes_at(port, ours, rate, duration, first, on_write=None):
    """Writes at `rate` per second for `duration` seconds; returns how many."""
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < duration:
        due = started + n / rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        write(port, ours, first + n)
        n += 1
        if on_write:
            on_write(n)
    return n


def stream(proc, port, ours, size, rate, duration, first):
    """The writes alone at `rate` (their CPU, every derived view and the
    search index included, until the server is idle again), then the same
    stream with the read mix running: (CPU per write, p50, p99, visibility
    waits, writes made). The two are apart because the read mix's own CPU moves
    with the writes (each write ends the reuse of cached answers)."""
    wait_idle([proc], quiet=2, limit=600)
    before = cpu_seconds(proc.pid)
    n = writes_at(port, ours, rate, duration, first)
    wait_idle([proc], quiet=2, limit=600)
    cpu = (cpu_seconds(proc.pid) - before) / n
    reader = Reader(port, "/sparql" if ours else "/query", size)
    reader.start()
    waits = []

    def seen(k):
        if ours and k % max(1, rate * 5) == 1:
            waits.append(visibility(port))
    m = writes_at(port, ours, rate, duration, first + n, seen)
    p50, p99 = reader.stop()
    return cpu, p50, p99, waits, n + m


def bulk_put(proc, port, ours, statements=100_000):
    lines = "".join(f"<urn:bulk:s{i}> <urn:bulk:p> \"{i}\" .\n" for i in range(statements)).encode()
    graph = urllib.parse.quote("urn:bench:bulk", safe="")
    headers = {"Content-Type": "application/n-triples"}
    path = f"/store?graph={graph}"
    if ours:
        headers["Authorization"] = f"Bearer {TOKEN}"
    wait_idle([proc], quiet=2, limit=600)
    before = cpu_seconds(proc.pid)
    status, _, body = request(port, "PUT", path, lines, headers)
    assert status in (200, 201, 204), f"PUT: {status} {body[:200]}"
    wait_idle([proc], quiet=2, limit=600)
    return cpu_seconds(proc.pid) - before


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--rates", default="1,10")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--treaty-kg", default=os.path.join(ROOT, "target", "release", "treaty-kg"))
    parser.add_argument("--oxigraph", default=os.path.join(ROOT, "target", "bench-venv", "bin", "oxigraph"))
    parser.add_argument("--work", default=None, help="a folder for the stores (default: a temporary one)")
    args = parser.parse_args()
    ours_bin, theirs_bin = args.treaty_kg, args.oxigraph
    work = args.work or tempfile.mkdtemp(prefix="treaty-kg-writes-")
    os.makedirs(work, exist_ok=True)
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN)
    print("| size | measure | treaty-kg | oxigraph serve | ratio |")
    print("|---:|---|---:|---:|---:|")

    def emit(size, what, a, b, r="—"):
        print(f"| {size:,} | {what} | {a} | {b} | {r} |", flush=True)

    try:
        for size in (int(s) for s in args.sizes.split(",")):
            data = os.path.join(work, f"data-{size}.nq")
            with open(data, "wb") as f:
                subprocess.run([ours_bin, "generate", "--triples", str(size), "--seed", "42"], stdout=f, check=True)
            store_o, store_t = os.path.join(work, f"ours-{size}"), os.path.join(work, f"theirs-{size}")
            for path in (store_o, store_t):
                shutil.rmtree(path, ignore_errors=True)
            subprocess.run([ours_bin, "load", "--store", store_o, data], check=True, stderr=subprocess.DEVNULL)
            subprocess.run([theirs_bin, "load", "--location", store_t, "--file", data], check=True,
                           stderr=subprocess.DEVNULL)
            os.remove(data)
            port_o, port_t = 7311, 7312
            probe = urllib.parse.quote("ASK {}")
            results = {}
            for who, port in (("ours", port_o), ("theirs", port_t)):
                ours = who == "ours"
                cmd = ([ours_bin, "serve", "--store", store_o, "--bind", f"127.0.0.1:{port}",
                        "--write-token-file", token_file, "--queries", os.path.join(ROOT, "queries")]
                       if ours else [theirs_bin, "serve", "--location", store_t, "--bind", f"127.0.0.1:{port}",
                                     "--union-default-graph"])
                started = time.monotonic()
                proc, _ = start(cmd, f"http://127.0.0.1:{port}/{'sparql' if ours else 'query'}?query={probe}",
                                timeout=1800, log_to=os.path.join(work, f"{who}.log"))
                sampler = Sampler(proc.pid)
                sampler.start()
                try:
                    wait_idle([proc], quiet=3, limit=1800)
                    first_start = time.monotonic() - started
                    idle_rss = rss_mib(proc.pid)
                    reader = Reader(port, "/sparql" if ours else "/query", size)
                    reader.start()
                    time.sleep(args.duration)
                    idle_p50, idle_p99 = reader.stop()
                    runs, first = [], 0
                    for rate in (int(r) for r in args.rates.split(",")):
                        cpu, p50, p99, waits, n = stream(proc, port, ours, size, rate, args.duration, first)
                        first += n
                        runs.append((rate, cpu, p50, p99, waits))
                    bulk = bulk_put(proc, port, ours)
                    results[who] = dict(first_start=first_start, idle_rss=idle_rss, idle=(idle_p50, idle_p99),
                                        runs=runs, bulk=bulk, peak=max(sampler.samples), end=rss_mib(proc.pid))
                finally:
                    sampler.running = False
                    stop(proc)
            o, t = results["ours"], results["theirs"]
            emit(size, "first start after load, until idle (s)", f"{o['first_start']:.1f}", f"{t['first_start']:.1f}",
                 ratio(o["first_start"], t["first_start"]))
            emit(size, "resident memory once idle (MiB)", f"{o['idle_rss']:,.0f}", f"{t['idle_rss']:,.0f}",
                 ratio(o["idle_rss"], t["idle_rss"]))
            emit(size, "read mix alone: p50 / p99 (ms)", f"{o['idle'][0]:.2f} / {o['idle'][1]:.2f}",
                 f"{t['idle'][0]:.2f} / {t['idle'][1]:.2f}", ratio(o["idle"][1], t["idle"][1]))
            for (rate, cpu_o, p50_o, p99_o, waits), (_, cpu_t, p50_t, p99_t, _) in zip(o["runs"], t["runs"]):
                emit(size, f"{rate} write/s: CPU per write (ms)", f"{cpu_o * 1000:.1f}", f"{cpu_t * 1000:.1f}",
                     ratio(cpu_o, cpu_t))
                emit(size, f"{rate} write/s: read mix p50 / p99 (ms)", f"{p50_o:.2f} / {p99_o:.2f}",
                     f"{p50_t:.2f} / {p99_t:.2f}", f"p99 {p99_o / o['idle'][1]:.2f}× of ours idle")
                for page in PAGES:
                    seen = [w[page] for w in waits]
                    if seen:
                        emit(size, f"{rate} write/s: {page} shows the write after (ms, max)",
                             f"{median(seen) * 1000:.0f} ({max(seen) * 1000:.0f})", "—")
            emit(size, "PUT of 100,000 statements: CPU (s)", f"{o['bulk']:.2f}", f"{t['bulk']:.2f}",
                 ratio(o["bulk"], t["bulk"]))
            emit(size, "resident memory, peak / end (MiB)", f"{o['peak']:,.0f} / {o['end']:,.0f}",
                 f"{t['peak']:,.0f} / {t['end']:,.0f}", ratio(o["peak"], t["peak"]))
            shutil.rmtree(store_o, ignore_errors=True)
            shutil.rmtree(store_t, ignore_errors=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
