#!/usr/bin/env bash
# Benchmarks treaty-kg against Oxigraph's own server (`oxigraph` from PyPI, the
# version of our oxigraph crate) on this machine. See BENCHMARKS.md.
#   benches/run.sh                      # 1M and 10M triples, 3 runs each
#   benches/run.sh --sizes 1000000      # one size
#   benches/run.sh --smoke              # 10k triples, checks only (cargo test runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
export CC="${CC:-ccache gcc}" CXX="${CXX:-ccache g++}"

venv=target/bench-venv
if [ ! -x "$venv/bin/oxigraph" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "oxigraph==0.5.13"
fi
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
profile=release
for arg in "$@"; do [ "$arg" = "--smoke" ] && profile=debug; done
if [ "$profile" = release ]; then
  # Debug info in release keeps the C++ flags equal to the fuzz build's, so ccache serves RocksDB.
  CARGO_PROFILE_RELEASE_DEBUG=true cargo build --release --quiet
  bin=target/release/treaty-kg
else
  bin=target/debug/treaty-kg
fi
exec python3 benches/run.py --treaty-kg "$bin" --oxigraph "$venv/bin/oxigraph" "$@"
