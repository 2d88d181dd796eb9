#!/usr/bin/env python3
"""The training run of a profile-guided build (`benches/pgo.sh`): drives an
instrumented treaty-kg through what its users do, so that the compiler learns
which paths are hot.

It does not run the benchmark mix (`benches/queries/`), so that the mix
measures the profile on work it was not trained on. It runs instead:
- the repository's saved queries, by name and as text, in each results format;
- queries of the usual shapes over generated data (lookups, joins, OPTIONAL,
  FILTER, aggregates, paths, CONSTRUCT, DESCRIBE, ASK), with other constants
  than the mix's;
- the pages (home, timeline, ontology, VoID, resource pages and documents,
  fragments, search);
- writes (INSERT DATA, Graph Store PUT) with the token.

    benches/pgo_train.py --treaty-kg INSTRUMENTED_BINARY [--size 200000]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, generated_store, log, start, stop  # noqa: E402

TOKEN = "pgo-training-token-0123456789"
PREFIXES = """PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX schema: <https://schema.org/>
"""
ID = "https://w3id.org/treaty-kg/id/"
RESULTS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values"]
GRAPHS = ["application/n-triples", "text/turtle", "application/ld+json", "application/rdf+xml"]


def shapes(rng):
    """Queries of the usual shapes over generated data, with random constants."""
    s = rng.randrange(0, 200)
    t = rng.randrange(0, 1000)
    return [
        f"SELECT ?p ?o WHERE {{ <{ID}state/s{s}> ?p ?o }}",
        f"SELECT ?s ?p WHERE {{ ?s ?p <{ID}state/s{s}> }} LIMIT 500",
        f"SELECT ?x ?l WHERE {{ ?x a tkg:SovereignState ; rdfs:label ?l ; tkg:borders <{ID}state/s{s}> }}",
        f"SELECT ?x ?l ?d WHERE {{ ?x rdfs:label ?l OPTIONAL {{ ?x schema:description ?d }} }} LIMIT {rng.randrange(10, 3000)}",
        f'SELECT ?x ?l WHERE {{ ?x rdfs:label ?l FILTER(CONTAINS(?l, "{t % 97}")) }} LIMIT 200',
        f'SELECT ?x WHERE {{ ?x a tkg:SovereignState ; rdfs:label ?l FILTER(REGEX(?l, "^State {s % 10}[0-9]?$")) }}',
        "SELECT ?c (COUNT(?x) AS ?n) WHERE { ?x a ?c } GROUP BY ?c ORDER BY DESC(?n) LIMIT 20",
        f"SELECT DISTINCT ?y WHERE {{ <{ID}state/s{s}> tkg:borders/tkg:borders ?y }}",
        f"SELECT DISTINCT ?y WHERE {{ <{ID}state/s{s}> tkg:borders* ?y }} LIMIT 300",
        f"SELECT ?x ?l WHERE {{ ?x rdfs:label ?l }} ORDER BY ?l OFFSET {t} LIMIT 10",
        f"CONSTRUCT {{ ?x ?p ?o }} WHERE {{ VALUES ?x {{ <{ID}state/s{s}> <{ID}state/s{(s + 7) % 200}> }} ?x ?p ?o }}",
        f"DESCRIBE <{ID}state/s{s}>",
        f"ASK {{ <{ID}state/s{s}> tkg:borders ?x }}",
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ <{ID}state/s{s}> ?p ?o }} }}",
    ]


def call(base, path, accept="*/*", data=None, content_type=None, method=None, token=False):
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=300) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def sparql(base, text, accept):
    return call(base, "/sparql", accept, PREFIXES.encode() + text.encode(), "application/sparql-query")


def train(base, rounds, rng):
    saved = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "queries")) if n.endswith(".rq"))
    statuses = {}
    for r in range(rounds):
        for name in saved:
            for accept in RESULTS[:2] if r % 2 else RESULTS:
                code = call(base, f"/queries/{name}", accept)
                statuses[code] = statuses.get(code, 0) + 1
            with open(os.path.join(ROOT, "queries", name + ".rq")) as f:
                call(base, "/sparql?query=" + urllib.parse.quote(f.read()), rng.choice(RESULTS))
        for _ in range(20):
            for text in shapes(rng):
                accept = rng.choice(GRAPHS if text.startswith(("CONSTRUCT", "DESCRIBE")) else RESULTS)
                code = sparql(base, text, accept)
                statuses[code] = statuses.get(code, 0) + 1
        s = rng.randrange(0, 200)
        for path, accept in [("/", "text/html"), ("/timeline.svg", "image/svg+xml"), ("/ontology", "text/html"),
                             ("/.well-known/void", "text/turtle"), ("/.well-known/void", "text/html"),
                             (f"/page/state/s{s}", "text/html"), (f"/data/state/s{s}.ttl", "text/turtle"),
                             (f"/data/state/s{s}.jsonld", "application/ld+json"),
                             ("/fragments?subject=" + urllib.parse.quote(f"{ID}state/s{s}"), "text/turtle"),
                             ("/fragments?predicate=" + urllib.parse.quote("http://www.w3.org/2000/01/rdf-schema#label"),
                              "text/html"),
                             ("/search?q=treaty", "text/html"), (f"/search?q=state+{s}", "application/json"),
                             ("/search/suggest?q=sta", "application/json"), ("/queries", "text/html"),
                             ("/editor/vocabulary.json", "application/json")]:
            code = call(base, path, accept)
            statuses[code] = statuses.get(code, 0) + 1
        for n in range(10):
            update = f'INSERT DATA {{ GRAPH <urn:pgo:{r}> {{ <urn:pgo:x{n}> rdfs:label "training {r} {n}" }} }}'
            call(base, "/sparql", data=PREFIXES.encode() + update.encode(),
                 content_type="application/sparql-update", token=True)
        body = f'<urn:pgo:y{r}> <http://www.w3.org/2000/01/rdf-schema#label> "put {r}" .\n'.encode()
        call(base, "/store?graph=" + urllib.parse.quote(f"urn:pgo:put{r}"), data=body,
             content_type="application/n-triples", method="PUT", token=True)
        log(f"round {r + 1}/{rounds}: answers by status {dict(sorted(statuses.items()))}")
    return statuses


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--treaty-kg", required=True, help="the instrumented binary")
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    binary = os.path.abspath(args.treaty_kg)
    work = tempfile.mkdtemp(prefix="treaty-kg-pgo-")
    try:
        # Another seed than the mix's data (42).
        store = generated_store(binary, args.size, work, seed=7)
        port = 7391
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, TREATY_KG_WRITE_TOKEN=TOKEN)
        proc, _ = start([binary, "serve", "--store", store, "--bind", f"127.0.0.1:{port}"],
                        f"{base}/sparql?query=" + urllib.parse.quote("ASK {}"), env=env)
        try:
            statuses = train(base, args.rounds, random.Random(7))
        finally:
            stop(proc)  # a clean exit writes the profile
        if proc.returncode != 0:
            sys.exit(f"the instrumented server exited with {proc.returncode}")
        if sum(n for code, n in statuses.items() if 200 <= code < 300) < sum(statuses.values()) * 0.9:
            sys.exit(f"too many failed answers to train on: {statuses}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
