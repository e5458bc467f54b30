#!/usr/bin/env bash
# Instructions per call of each contender, counted exactly by callgrind.
#
#   benches/callgrind.sh [CONTENDER...]    (default: every contender)
#   INSTRUMENT_BENCH_HARNESS=alloc benches/callgrind.sh alloc_free timed
#                                          (the same, with the counting allocator installed)
#
# Runs the cpu harness (or the one INSTRUMENT_BENCH_HARNESS names) once per contender under
# callgrind (1 thread, 1 round, no background installs but the contender's own) and counts only the instructions executed inside the measured
# loop, so warm-up, set-up and other threads (collectors, upkeep) are left out: the numbers are
# the calling thread's cost. INSTRUMENT_BENCH_CALLS sets the calls per contender (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."

calls=${INSTRUMENT_BENCH_CALLS:-100000}
if [ $# -gt 0 ]; then
    contenders=("$@")
elif [ "${INSTRUMENT_BENCH_HARNESS:-cpu}" = alloc ]; then
    contenders=(bare system_alloc_free alloc_free timed timed_alloc_free counted)
else
    contenders=(bare tsc_x2 floor timed counted budget timed_counted timed_breaker alloc_free timed_alloc_free metrics metered fastrace tracing autometrics hotpath recloser timed_recloser)
fi

harness=${INSTRUMENT_BENCH_HARNESS:-cpu}
bin=$(cargo bench -p instrument-bench --bench "$harness" --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() {
    INSTRUMENT_BENCH_ONLY=$1 INSTRUMENT_BENCH_ROUNDS=1 INSTRUMENT_BENCH_THREADS=1 \
        INSTRUMENT_BENCH_CALLS=$calls INSTRUMENT_BENCH_WARMUP=1000 \
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*run_calls*' \
        --callgrind-out-file="$out/$1" "$bin" >/dev/null 2>&1
    sed -n 's/^totals: //p' "$out/$1"
}

bare=$(count bare)
echo "| contender | instructions/call | over bare |"
echo "|---|--:|--:|"
for name in "${contenders[@]}"; do
    total=$(count "$name")
    awk -v name="$name" -v total="$total" -v bare="$bare" -v calls="$calls" \
        'BEGIN { printf "| %s | %.1f | %.1f |\n", name, total / calls, (total - bare) / calls }'
done
echo
echo "Instructions on the calling thread, measured loop included (bare = loop + call + multiply)."
