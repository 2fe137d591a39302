// paisparse benchmark: one SpMM case, paisparse (tuned) vs cuSPARSE vs cuBLAS.
#pragma once

#include <benchmark/benchmark.h>

#include "options.hpp"

namespace paisparse::bench {

/// Runs the SpMM case `spec` (spec.n > 1) inside a Google Benchmark with
/// manual time (paisparse's CUDA-graph time per call); everything else goes
/// to user counters. Errors (a failed call, a paisparse result that disagrees
/// with cuSPARSE) become state.SkipWithError, never a time.
void run_spmm_case(benchmark::State& state, const case_spec& spec, const bench_options& opt);

}  // namespace paisparse::bench
