#!/usr/bin/env bash
# Fetch the W3C SPARQL 1.1 test suite and set up the Python venv used by
# tests/w3c/run.py.
#
# The suite is taken from rdflib's source distribution on PyPI (the only
# reachable source of it): rdflib-7.6.0.tar.gz ships the W3C manifests and data
# under rdflib-7.6.0/test/data/suites/w3c/sparql11/. Only that directory is
# extracted, to target/w3c/sparql11/. The venv target/w3c/venv gets
# rdflib==7.6.0, which run.py uses to parse manifests, RDF and result files.
#
# Run from anywhere (paths are relative to the repo root). Idempotent: each step
# is skipped when its result is already in place, so a second run does nothing.
set -euo pipefail

RDFLIB_VERSION=7.6.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/target/w3c"
SUITE="$OUT/sparql11"
VENV="$OUT/venv"
PYTHON="${PYTHON:-python3}"

mkdir -p "$OUT"

# 1. The test suite. A marker file is written last, so an interrupted
#    extraction is redone on the next run.
if [ ! -f "$SUITE/.complete" ]; then
    DL="$OUT/download"
    mkdir -p "$DL"
    SDIST="$DL/rdflib-$RDFLIB_VERSION.tar.gz"
    if [ ! -f "$SDIST" ]; then
        echo "fetch.sh: downloading rdflib-$RDFLIB_VERSION sdist from PyPI"
        "$PYTHON" -m pip download --quiet --disable-pip-version-check \
            "rdflib==$RDFLIB_VERSION" --no-binary :all: --no-deps -d "$DL"
    fi
    echo "fetch.sh: extracting the SPARQL 1.1 suite to $SUITE"
    rm -rf "$SUITE" "$OUT/extract"
    mkdir -p "$OUT/extract"
    MEMBER="rdflib-$RDFLIB_VERSION/test/data/suites/w3c/sparql11"
    tar -xzf "$SDIST" -C "$OUT/extract" "$MEMBER"
    mv "$OUT/extract/$MEMBER" "$SUITE"
    rm -rf "$OUT/extract"
    touch "$SUITE/.complete"
else
    echo "fetch.sh: suite already at $SUITE"
fi

# 2. The venv with rdflib.
if ! "$VENV/bin/python" -c "import rdflib, sys; sys.exit(rdflib.__version__ != '$RDFLIB_VERSION')" 2>/dev/null; then
    echo "fetch.sh: creating venv $VENV with rdflib==$RDFLIB_VERSION"
    rm -rf "$VENV"
    if "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "rdflib==$RDFLIB_VERSION"
    else
        # Debian without python3-venv has no ensurepip: make the venv without
        # pip and install into it with the system pip.
        rm -rf "$VENV"
        "$PYTHON" -m venv --without-pip "$VENV"
        "$PYTHON" -m pip --python "$VENV/bin/python" install --quiet --disable-pip-version-check \
            "rdflib==$RDFLIB_VERSION"
    fi
else
    echo "fetch.sh: venv already at $VENV"
fi
