#!/usr/bin/env bash
# A profile-guided release build (BENCHMARKS.md, "A profile-guided build"):
#   1. builds treaty-kg instrumented (target/pgo-gen),
#   2. trains it (benches/pgo_train.py: saved queries, query shapes over
#      generated data, pages, writes; not the benchmark mix),
#   3. merges the profiles with the llvm-profdata of rustc's own LLVM major
#      version (Debian: `apt-get install llvm-NN`),
#   4. builds the release binary with them:
#      target/pgo/<host>/release/treaty-kg.
# Takes two release builds' time. Run with ccache as the README says:
#   CC="ccache gcc" CXX="ccache g++" benches/pgo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata=${LLVM_PROFDATA:-}
for candidate in "llvm-profdata-$major" "/usr/lib/llvm-$major/bin/llvm-profdata"; do
    [ -n "$profdata" ] && break
    if command -v "$candidate" > /dev/null; then profdata=$candidate; fi
done
if [ -z "$profdata" ]; then
    echo "no llvm-profdata for LLVM $major (rustc's): apt-get install llvm-$major, or set LLVM_PROFDATA" >&2
    exit 1
fi
profiles=$PWD/target/pgo/profiles
rm -rf "$profiles"
mkdir -p "$profiles"
# An explicit --target keeps the flags off build scripts and procedural macros.
RUSTFLAGS="-Cprofile-generate=$profiles" \
    cargo build --release --target "$host" --target-dir target/pgo-gen --bin treaty-kg
benches/pgo_train.py --treaty-kg "target/pgo-gen/$host/release/treaty-kg"
"$profdata" merge -o "$profiles/merged.profdata" "$profiles"/*.profraw
RUSTFLAGS="-Cprofile-use=$profiles/merged.profdata" \
    cargo build --release --target "$host" --target-dir target/pgo --bin treaty-kg
echo "target/pgo/$host/release/treaty-kg"
