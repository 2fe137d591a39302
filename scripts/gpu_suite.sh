#!/usr/bin/env bash
# On a machine with a GPU: runs the whole GPU test suite (with the DLMC
# matrices when data/dlmc-dev.tar.gz or $PAISPARSE_DLMC_DIR is there), the
# suite's API tests under compute-sanitizer memcheck and racecheck, the
# quickstart example and the benchmark's default set (SpMV and a small SpMM
# subset; JSON, Markdown table, PNG plots), then prints a short summary.
#
#   scripts/gpu_suite.sh [build-dir]        (default: build; binaries built beforehand,
#                                            e.g. by `cmake --workflow --preset default`)
# Logs and the benchmark JSON go to $OUT (default: ./out).
# SUITE_SKIP can hold any of the step names: tests spmm_tests plan_cache_tests
# memcheck racecheck memcheck_spmm racecheck_spmm memcheck_tc racecheck_tc
# memcheck_wg racecheck_wg quickstart load_and_run load_and_run_cached bench plots.
# BENCH_ARGS replaces the benchmark's extra flags (default --tune_budget=6,
# which keeps the default set under 8 minutes on the H100).
set -u
B=${1:-build}
OUT=${OUT:-out}
mkdir -p "$OUT"
SKIP=" ${SUITE_SKIP:-} "
declare -A result

if [ -z "${PAISPARSE_DLMC_DIR:-}" ] && [ -f data/dlmc-dev.tar.gz ]; then
  [ -d data/transformer ] || tar -C data -xzf data/dlmc-dev.tar.gz
  export PAISPARSE_DLMC_DIR=data
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader || true

step() {  # name, command...
  local name=$1; shift
  if [[ "$SKIP" == *" $name "* ]]; then result[$name]="skipped (SUITE_SKIP)"; return; fi
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  result[$name]="rc=$rc in $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || failed="$failed $name"
}
failed=""

step tests "$B/tests/paisparse_gpu_tests"
[ -x "$B/tests/paisparse_spmm_tests" ] && step spmm_tests "$B/tests/paisparse_spmm_tests"
[ -x "$B/tests/paisparse_plan_cache_tests" ] && step plan_cache_tests "$B/tests/paisparse_plan_cache_tests"
# memcheck: --report-api-errors no, because the tuner's in-graph event timing
# is refused under the sanitizer (cudaEventElapsedTime: invalid argument) and
# falls back to stream timing by design; every API status is still checked by
# paisparse itself, and memory errors still fail the step.
if command -v compute-sanitizer > /dev/null; then
  step memcheck compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 1 "$B/tests/paisparse_gpu_tests" \
    --gtest_filter='SpmvApi*:SpmvEdge*:SpmvBadInput*:EveryCandidate/1.MatrixSet'
  step racecheck compute-sanitizer --tool racecheck --error-exitcode 1 "$B/tests/paisparse_gpu_tests" \
    --gtest_filter='SpmvApi/1.RepeatedRuns*:SpmvEdge*'
  # SpMM: the API tests and every 11th candidate of the fp16 sweep (all
  # kernel families, every matrix) under memcheck; the panel kernels (the
  # ones with shared memory) under racecheck
  if [ -x "$B/tests/paisparse_spmm_tests" ]; then
    step memcheck_spmm env PAISPARSE_SPMM_SWEEP_STRIDE=11 compute-sanitizer --tool memcheck --report-api-errors no \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" \
      --gtest_filter='SpmmApi*:SpmmEdge*:SpmmBadInput*:SpmmEveryCandidate/1.MatrixSet'
    step racecheck_spmm env PAISPARSE_SPMM_SWEEP_STRIDE=5 PAISPARSE_SPMM_SWEEP_FILTER=.P compute-sanitizer --tool racecheck \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" --gtest_filter='SpmmEveryCandidate/1.MatrixSet'
    # the tensor-core kernels, dense tiles and gathered windows (spmm.tc.* and spmm.tw.*: shared-memory
    # pipelines, cp.async, split K) on every matrix: every 2nd of them (offset by the matrix) under
    # memcheck, every 5th under racecheck (it is slow)
    step memcheck_tc env PAISPARSE_SPMM_SWEEP_STRIDE=2 PAISPARSE_SPMM_SWEEP_FILTER=spmm.t compute-sanitizer --tool memcheck --report-api-errors no \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" --gtest_filter='SpmmEveryCandidate/1.MatrixSet'
    step racecheck_tc env PAISPARSE_SPMM_SWEEP_STRIDE=5 PAISPARSE_SPMM_SWEEP_FILTER=spmm.t compute-sanitizer --tool racecheck \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" --gtest_filter='SpmmEveryCandidate/1.MatrixSet'
    # the warpgroup tensor-core kernels (spmm.wg.*, sm_90a: wgmma reading shared memory while the block
    # builds the next tile), every one of them under memcheck, every 2nd under racecheck
    step memcheck_wg env PAISPARSE_SPMM_SWEEP_FILTER=spmm.wg compute-sanitizer --tool memcheck --report-api-errors no \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" --gtest_filter='SpmmEveryCandidate/1.MatrixSet'
    step racecheck_wg env PAISPARSE_SPMM_SWEEP_STRIDE=2 PAISPARSE_SPMM_SWEEP_FILTER=spmm.wg compute-sanitizer --tool racecheck \
      --error-exitcode 1 "$B/tests/paisparse_spmm_tests" --gtest_filter='SpmmEveryCandidate/1.MatrixSet'
  fi
fi
[ -x "$B/examples/quickstart" ] && step quickstart "$B/examples/quickstart"
if [ -x "$B/examples/load_and_run" ]; then  # example 2: tunes into a fresh cache, then loads from it
  rm -rf "$OUT/plan-cache"
  step load_and_run "$B/examples/load_and_run" --cache "$OUT/plan-cache" --budget 5
  step load_and_run_cached "$B/examples/load_and_run" --cache "$OUT/plan-cache" --expect-cached
fi
if [ -x "$B/bench/paisparse_bench" ]; then
  step bench "$B/bench/paisparse_bench" --benchmark_out="$OUT/bench.json" --benchmark_out_format=json ${BENCH_ARGS---tune_budget=6}
  [ -f "$OUT/bench.json" ] && python3 bench/table.py "$OUT/bench.json" > "$OUT/bench.md"
  if [ -f "$OUT/bench.json" ] && python3 -c "import matplotlib" 2> /dev/null; then
    step plots python3 bench/plot.py "$OUT/bench.json" -o "$OUT/plots"
  fi
fi

echo
echo "=== summary ($(date -u +%FT%TZ), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null))"
grep -hE "^\[  (PASSED|FAILED)|tests? ran|FAILED TEST|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT"/tests.log "$OUT"/spmm_tests.log "$OUT"/plan_cache_tests.log \
  "$OUT"/memcheck.log "$OUT"/racecheck.log "$OUT"/memcheck_spmm.log "$OUT"/racecheck_spmm.log "$OUT"/memcheck_tc.log \
  "$OUT"/racecheck_tc.log "$OUT"/memcheck_wg.log "$OUT"/racecheck_wg.log 2>/dev/null
grep -hE "faster|smaller|match" "$OUT"/quickstart.log 2>/dev/null
[ -f "$OUT/bench.md" ] && tail -n 12 "$OUT/bench.md"
for k in tests spmm_tests plan_cache_tests memcheck racecheck memcheck_spmm racecheck_spmm memcheck_tc racecheck_tc \
  memcheck_wg racecheck_wg quickstart load_and_run \
  load_and_run_cached bench plots; do [ -n "${result[$k]:-}" ] && echo "$k: ${result[$k]}"; done
# the exit status: 0 only if every step that ran passed
if [ -n "$failed" ]; then echo "FAILED steps:$failed"; exit 1; fi
echo "all steps that ran passed"
