#!/usr/bin/env python3
"""treaty-kg against Oxigraph's own server, on the same machine and data.

Usage: benches/run.sh [--sizes 1000000,10000000] [--runs 3] [--duration 3] [--smoke]

For each size: generate data (`treaty-kg generate`), bulk-load it with
`treaty-kg load` and `oxigraph load` (triples/s, peak RSS), start both servers,
measure cold start, then throughput and latency (wrk, p50/p99) of the query mix
in benches/queries/ at 1, 8 and 32 connections, saved queries cold and cached,
and linked-data pages. Every figure is the median of --runs runs, reported with
the treaty-kg / oxigraph ratio, as markdown on standard output.

--smoke: 10k triples, one run of one second, only checks that every query
answers 200 on both servers (no figures asserted); `cargo test` runs it.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCEPT = "application/sparql-results+json"
GRAPH_ACCEPT = "application/n-triples"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def run_timed(cmd):
    """Runs cmd under /usr/bin/time -v: (seconds, peak RSS in MiB)."""
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {result.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return elapsed, (int(rss.group(1)) / 1024 if rss else float("nan"))


def wait_for(url, timeout=120):
    """Asks `url` every 5 ms until it answers 200: the cold start measured
    through it is then within 5 ms, not within the 50 ms this once slept."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} never answered")


def cpu_seconds(pid):
    """CPU time (user + system) a process has used, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(procs, quiet=3, limit=1800):
    """Waits until every process has used under 2 % of a core for `quiet` seconds
    in a row. After a bulk load of several batches RocksDB compacts in the
    background once a server opens the store; measuring during that compares a
    busy server with an idle one, whichever compacts first. Returns the wait."""
    started = time.monotonic()
    last = [cpu_seconds(p.pid) for p in procs]
    calm = 0
    while calm < quiet and time.monotonic() - started < limit:
        time.sleep(1)
        now = [cpu_seconds(p.pid) for p in procs]
        calm = calm + 1 if all(n - l < 0.02 for n, l in zip(now, last)) else 0
        last = now
    return time.monotonic() - started


def start(cmd, probe, env=None, timeout=120, log_to=None):
    """Starts a server; returns (process, seconds until `probe` answered).
    Its output goes to the file `log_to` (appended) when given, else nowhere."""
    started = time.monotonic()
    out = open(log_to, "ab") if log_to else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env)
    if log_to:
        out.close()  # the child holds its own descriptor
    wait_for(probe, timeout)
    return proc, time.monotonic() - started


def generated_data(binary, size, work, seed=42):
    """`treaty-kg generate` (seed 42 unless told) of `size` quads into a file
    under `work`; returns its path."""
    data = os.path.join(work, "data.nq")
    with open(data, "w") as f:
        subprocess.run([binary, "generate", "--triples", str(size), "--seed", str(seed)], stdout=f, check=True)
    return data


def loaded_by_both(ours, pypi, data, work):
    """`data` loaded by each tool's own `load` into stores under `work`
    (`ours`, `pypi`); returns their paths."""
    store_o, store_p = (os.path.join(work, n) for n in ("ours", "pypi"))
    subprocess.run([ours, "load", "--store", store_o, data], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([pypi, "load", "--location", store_p, "--file", data], check=True, stderr=subprocess.DEVNULL)
    return store_o, store_p


def generated_store(binary, size, work, seed=42):
    """`treaty-kg generate` (seed 42 unless told) of `size` quads, loaded with
    `treaty-kg load` into a store under `work`; returns the store's path."""
    data = generated_data(binary, size, work, seed)
    store = os.path.join(work, "store")
    subprocess.run([binary, "load", "--store", store, data], check=True, stderr=subprocess.DEVNULL)
    os.remove(data)
    return store


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, connections, duration, accept, headers=()):
    rps, p50, p99, non2xx = wrk_counting(url, connections, duration, accept, headers)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx} non-2xx answers")
    return rps, p50, p99


def wrk_counting(url, connections, duration, accept, headers=()):
    """Successful (2xx) answers per second, p50 and p99 (ms), and the count of
    answers that were not 2xx: a 503 is not throughput, so it is left out of the
    rate and counted instead. `headers`: more request headers, as "Name: value"."""
    threads = min(connections, 2)
    out = subprocess.run(
        # A 30 s timeout (wrk's default is 2 s) so that slow answers at 10M count
        # instead of vanishing as socket timeouts.
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency",
         "-H", f"Accept: {accept}"] + [a for h in headers for a in ("-H", h)] + [url],
        capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Socket errors: .*", out)
    if errors:
        log(f"{url[:60]}… c={connections}: {errors.group(0)}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = int(non2xx.group(1)) if non2xx else 0
    ok_rps = rps * (total - failed) / total if total else 0.0
    return ok_rps, to_ms(*p50.groups()), to_ms(*p99.groups()), failed


def fetch(url, accept):
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=300) as r:
        return r.status, r.read()


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(ours, theirs, higher_is_better=True):
    if not theirs or theirs != theirs or not ours or ours != ours:
        return "n/a"
    return f"{ours / theirs:.2f}×"


def queries():
    folder = os.path.join(ROOT, "benches", "queries")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            text = f.read()
        yield name[:-3], text, GRAPH_ACCEPT if "CONSTRUCT" in text else ACCEPT


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--ours-flags", default="",
                        help="more flags for `treaty-kg serve`, e.g. --no-query-cache to measure evaluation "
                             "rather than the answer cache (the mix repeats each query)")
    parser.add_argument("--treaty-kg", default=os.path.join(ROOT, "target", "release", "treaty-kg"))
    parser.add_argument("--oxigraph", default=shutil.which("oxigraph") or "oxigraph")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.runs, args.duration, args.connections = "10000", 1, 1, "2"
    sizes = [int(s) for s in args.sizes.split(",")]
    conns = [int(c) for c in args.connections.split(",")]
    ours, theirs = args.treaty_kg, args.oxigraph
    work = tempfile.mkdtemp(prefix="treaty-kg-bench-")
    rows = []
    header_printed = False

    def emit(row):
        nonlocal header_printed
        rows.append(row)
        if args.smoke:
            return
        if not header_printed:
            print("| size | measure | treaty-kg | oxigraph serve | ratio |")
            print("|---:|---|---:|---:|---:|")
            header_printed = True
        size, what, a, b, r = row
        print(f"| {size:,} | {what} | {a} | {b} | {r} |", flush=True)

    try:
        for size in sizes:
            data = os.path.join(work, f"data-{size}.nq")
            started = time.monotonic()
            with open(data, "wb") as f:
                subprocess.run([ours, "generate", "--triples", str(size), "--seed", "42"], stdout=f, check=True)
            log(f"generated {size} quads in {time.monotonic() - started:.1f} s")
            load_ours, load_theirs = [], []
            for run in range(args.runs):
                for who, sink in (("ours", load_ours), ("theirs", load_theirs)):
                    store = os.path.join(work, f"{who}-{size}-{run}")
                    cmd = [ours, "load", "--store", store, data] if who == "ours" else [theirs, "load", "--location", store, "--file", data]
                    seconds, rss = run_timed(cmd)
                    sink.append((size / seconds, rss))
                    if run < args.runs - 1:
                        shutil.rmtree(store)
            tps_o, tps_t = median([t for t, _ in load_ours]), median([t for t, _ in load_theirs])
            rss_o, rss_t = median([r for _, r in load_ours]), median([r for _, r in load_theirs])
            emit((size, "bulk load (triples/s)", f"{tps_o:,.0f}", f"{tps_t:,.0f}", ratio(tps_o, tps_t)))
            emit((size, "bulk load peak RSS (MiB)", f"{rss_o:,.0f}", f"{rss_t:,.0f}", ratio(rss_o, rss_t)))
            store_o = os.path.join(work, f"ours-{size}-{args.runs - 1}")
            store_t = os.path.join(work, f"theirs-{size}-{args.runs - 1}")
            port_o, port_t = 7301, 7302
            base_o, base_t = f"http://127.0.0.1:{port_o}", f"http://127.0.0.1:{port_t}"
            probe = urllib.parse.quote("ASK { ?s ?p ?o }")
            colds_o, colds_t = [], []
            for run in range(args.runs):
                proc, cold = start([ours, "serve", "--store", store_o, "--no-default-data", "--bind", f"127.0.0.1:{port_o}",
                                    "--queries", os.path.join(ROOT, "queries")] + args.ours_flags.split(),
                                   f"{base_o}/sparql?query={probe}")
                colds_o.append(cold)
                if run < args.runs - 1:
                    stop(proc)
                else:
                    server_o = proc
                proc, cold = start([theirs, "serve", "--location", store_t, "--bind", f"127.0.0.1:{port_t}",
                                    "--union-default-graph"], f"{base_t}/query?query={probe}")
                colds_t.append(cold)
                if run < args.runs - 1:
                    stop(proc)
                else:
                    server_t = proc
            emit((size, "cold start to first answer (s)", f"{median(colds_o):.2f}", f"{median(colds_t):.2f}", ratio(median(colds_o), median(colds_t))))
            waited = wait_idle([server_o, server_t])
            log(f"{size}: both servers idle (background compaction done) after {waited:.0f} s")

            def settled(measurement):
                # wrk closes its connections when the time is up, but a server may
                # go on evaluating what they asked (oxigraph serve runs every
                # connection's query; ours runs at most its admitted few): the next
                # measurement must not share the CPU with that leftover work.
                wait_idle([server_o, server_t], quiet=1, limit=600)
                return measurement
            try:
                for name, text, accept in queries():
                    q = urllib.parse.quote(text)
                    url_o, url_t = f"{base_o}/sparql?query={q}", f"{base_t}/query?query={q}"
                    for url in (url_o, url_t):
                        status, body = fetch(url, accept)
                        assert status == 200 and body, f"{name}: {status}"
                    if args.smoke:
                        continue
                    for c in conns:
                        m_o = [settled(wrk_counting(url_o, c, args.duration, accept)) for _ in range(args.runs)]
                        m_t = [settled(wrk_counting(url_t, c, args.duration, accept)) for _ in range(args.runs)]
                        rps_o, rps_t = median([m[0] for m in m_o]), median([m[0] for m in m_t])
                        p50_o, p50_t = median([m[1] for m in m_o]), median([m[1] for m in m_t])
                        p99_o, p99_t = median([m[2] for m in m_o]), median([m[2] for m in m_t])
                        emit((size, f"{name} c={c}: req/s", f"{rps_o:,.0f}", f"{rps_t:,.0f}", ratio(rps_o, rps_t)))
                        emit((size, f"{name} c={c}: p50 / p99 (ms)", f"{p50_o:.2f} / {p99_o:.2f}", f"{p50_t:.2f} / {p99_t:.2f}", ratio(p99_o, p99_t)))
                        failed_o, failed_t = sum(m[3] for m in m_o), sum(m[3] for m in m_t)
                        if failed_o or failed_t:
                            emit((size, f"{name} c={c}: non-2xx answers in {args.runs} runs", f"{failed_o:,}", f"{failed_t:,}", "—"))
                        log(f"{size} {name} c={c}: {rps_o:.0f} vs {rps_t:.0f} req/s")
                alliance = "alliance=" + urllib.parse.quote("https://w3id.org/treaty-kg/id/organization/a0")
                saved = f"{base_o}/queries/alliance-members-bordering?{alliance}&neighbour=" + urllib.parse.quote("https://w3id.org/treaty-kg/id/state/s1")
                status, _ = fetch(saved, ACCEPT)
                assert status == 200
                if not args.smoke:
                    cold = []
                    for i in range(args.runs):
                        # A fresh binding each time misses the cache: a cold evaluation.
                        url = f"{base_o}/queries/alliance-members-bordering?{alliance}&neighbour=" + urllib.parse.quote(f"https://w3id.org/treaty-kg/id/state/s{10 + i}")
                        started = time.monotonic()
                        fetch(url, ACCEPT)
                        cold.append((time.monotonic() - started) * 1000)
                    cached = [wrk(saved, 8, args.duration, ACCEPT) for _ in range(args.runs)]
                    emit((size, "saved query, cold (ms per call)", f"{median(cold):.2f}", "—", "—"))
                    emit((size, "saved query, cached c=8 (req/s)", f"{median([m[0] for m in cached]):,.0f}", "—",
                                 f"{median([m[0] for m in cached]) / (1000 / median(cold)):.0f}× the cold rate"))
                    for path, accept in (("/page/state/s150", "text/html"), ("/data/state/s150.ttl", "text/turtle")):
                        m = [wrk(base_o + path, 8, args.duration, accept) for _ in range(args.runs)]
                        emit((size, f"linked data {path} c=8 (req/s)", f"{median([x[0] for x in m]):,.0f}", "—", "—"))
                else:
                    for path, accept in (("/page/state/s150", "text/html"), ("/data/state/s150.ttl", "text/turtle")):
                        status, _ = fetch(base_o + path, accept)
                        assert status == 200, path
            finally:
                stop(server_o)
                stop(server_t)
            shutil.rmtree(store_o, ignore_errors=True)
            shutil.rmtree(store_t, ignore_errors=True)
            os.remove(data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.smoke:
        print("smoke: every benchmark query answered on both servers")


if __name__ == "__main__":
    main()
