#!/usr/bin/env bash
# One-time machine set-up shared by the README's two commands and by .ci/run.
# Oxigraph's RocksDB binding runs bindgen (needs libclang) and compiles RocksDB
# from C++; ccache makes rebuilds of that C++ take seconds instead of minutes.
# Idempotent: it installs only what is missing, and does nothing on a ready machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages, as root or through sudo.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v ccache >/dev/null 2>&1 || need+=(ccache)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (needed to build RocksDB)" >&2
  apt_install "${need[@]}"
fi

# The OpenAPI test validates /openapi.json with a real validator (PyPI).
if ! python3 -c "import openapi_spec_validator" >/dev/null 2>&1; then
  echo "setup: installing openapi-spec-validator (validates /openapi.json in the tests)" >&2
  python3 -m pip install -q --disable-pip-version-check openapi-spec-validator >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages openapi-spec-validator
fi

# The linked-data tests run a real Triple Pattern Fragments client (Comunica 4;
# version 5 needs Node 22) against the server.
if [ ! -x .ci/comunica/node_modules/.bin/comunica-sparql ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup: installing @comunica/query-sparql@4 into .ci/comunica (the TPF client of the tests)" >&2
    npm install --prefix .ci/comunica --no-audit --no-fund --silent @comunica/query-sparql@4 >/dev/null
  else
    echo "setup: npm is missing; the TPF client test will fail (install Node.js 20 and npm)" >&2
  fi
fi

# The browser tests drive Debian's Chromium with playwright-core (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (browser tests)" >&2
  apt_install chromium
fi
if [ ! -d tests/browser/node_modules/playwright-core ] && command -v npm >/dev/null 2>&1; then
  echo "setup: installing playwright-core into tests/browser" >&2
  npm install --prefix tests/browser --no-audit --no-fund --silent >/dev/null
fi

# The benchmark harness (benches/run.sh; its smoke variant runs in cargo test)
# measures against Oxigraph's own server from PyPI, pinned to our crate's version,
# and times loads with GNU time; the full run also needs wrk.
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
# The remote backend's tests run a real Virtuoso (Debian's Open Source 7).
command -v virtuoso-t >/dev/null 2>&1 || missing+=(virtuoso-opensource)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} (benchmarks and the remote backend's tests)" >&2
  apt_install "${missing[@]}"
fi
if [ ! -x target/bench-venv/bin/oxigraph ]; then
  echo "setup: installing oxigraph==0.5.13 from PyPI into target/bench-venv (the benchmark peer)" >&2
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q --disable-pip-version-check "oxigraph==0.5.13"
fi

# The W3C SPARQL 1.1 suites (from rdflib's source distribution on PyPI) and the
# venv of their harness (tests/w3c/run.py, run by tests/integration/w3c.rs).
bash tests/w3c/fetch.sh >/dev/null
