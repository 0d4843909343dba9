#!/bin/sh
# fuzz/run.sh [SECONDS] -- builds the libFuzzer targets with clang (ASan +
# UBSan) in build-fuzz/ and runs each for SECONDS (default 60), starting
# from the seed corpus in fuzz/corpus/. Exits non-zero on any crash, leak,
# sanitizer report or hang; the input that did it is kept as
# build-fuzz/fuzz/crash-* (or leak-*, timeout-*): replay it with
# build-fuzz/fuzz/fuzz_TARGET FILE.
set -eu
secs=${1:-60}
cd "$(dirname "$0")/.."
command -v clang >/dev/null || { echo "fuzz/run.sh: needs clang (deploy/install-deps.sh)" >&2; exit 2; }
CC=clang cmake -S . -B build-fuzz -DSWARM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j2 --target fuzz_proto fuzz_plan
out=build-fuzz/fuzz
for t in proto plan; do
    # New inputs go to a scratch corpus; the committed seeds stay as they are.
    mkdir -p "$out/corpus-$t"
    echo "=== fuzz_$t for ${secs}s"
    "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus-$t" "fuzz/corpus/$t" 2>"$out/fuzz_$t.log" \
        || { tail -60 "$out/fuzz_$t.log"; echo "fuzz_$t FAILED: see $out/fuzz_$t.log" >&2; exit 1; }
    grep -E "^stat::number_of_executed_units|^Done" "$out/fuzz_$t.log" || true
done
echo "fuzz: no crash, leak or hang"
