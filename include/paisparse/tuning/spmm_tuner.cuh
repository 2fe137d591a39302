// paisparse: the exhaustive SpMM tuner.
//
// tune_spmm(w, n, layouts) runs every configuration of the compiled-in SpMM
// space that suits n columns and the layouts on the user's weight: each
// candidate's output (poisoned beforehand) is checked against a float64 CPU
// reference on fresh random B (the relative error computed on the GPU
// against that reference, uploaded once: device_check.cuh), then timed like
// tune_spmv (CUDA events, warm-up, median of several runs, L2 flushed before
// each run so the weight comes from HBM; a staged-B candidate's time
// includes its staging kernel).
// A candidate that fails the check can never win. Returns the fastest as a
// plan for N up to n, with the whole table.
//
// Order (detail::spmm_search_rank): candidates sharing a schedule run
// together (each schedule is built once), the family likelier to win
// first, so that a time budget cuts the others:
//   - for N >= 32 at densities of 8% and more (90%-sparse layers included,
//     whose density may land just under 10%), and for N >= 64 at 4% and
//     more (95%-sparse layers), the tensor-core kernels first: the
//     warpgroup ones (spmm.wg, where this build has sm_90a code), then the
//     dense-tile ones (spmm.tc); on the H100 they won there and lost
//     elsewhere (docs/PERFORMANCE.md); then the CUDA-core kernels;
//   - elsewhere the CUDA-core kernels first, then spmm.tc, then spmm.wg;
//   - the gathered tensor-core kernels (spmm.tw) after the CUDA-core
//     kernels everywhere: the one case they won on the H100 (95%, N = 128)
//     went to spmm.wg once it was timed there;
//   - the register-built tensor-core kernels (spmm.tf, which won no case)
//     and the panel kernels (B staged in shared memory, which won no
//     LLM-shaped layer) last, so that a budget cuts them first.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../format/csr.hpp"
#include "../format/dense.hpp"
#include "../spmm_reference.hpp"
#include "device_check.cuh"
#include "spmm_config.hpp"
#include "spmm_plan.cuh"
#include "spmm_registry.cuh"
#include "timing.cuh"
#include "tuner.cuh"  // tune_options, candidate_status, detail::random_vector, detail::resident_threads

namespace paisparse {

/// The layouts an SpMM is tuned for. The default is the LLM layer
/// Y = X W^T (see tuning/spmm_plan.cuh): both column-major.
struct spmm_layouts {
  dense_layout b = dense_layout::col_major;
  dense_layout c = dense_layout::col_major;
};

struct spmm_candidate_result {
  spmm_config config;
  candidate_status status = candidate_status::skipped;
  double median_us = 0, min_us = 0, max_us = 0;
  double gbps = 0;     // useful bytes (CSR in this index type, B, C) / median time
  double rel_err = 0;  // against the float64 reference
  std::string message;
};

/// Bytes an SpMM must move at least: CSR with `index_bytes` indices, B (K x N) and C (M x N).
inline int64_t spmm_min_bytes(int64_t rows, int64_t cols, int64_t nnz, int64_t n, int value_bytes, int index_bytes) {
  return nnz * (value_bytes + index_bytes) + (rows + 1) * 4 + (cols + rows) * n * value_bytes;
}

template <class T>
struct spmm_tune_result {
  spmm_plan<T> plan;
  std::vector<spmm_candidate_result> candidates;  // passing ones fastest first, then the rest
  int32_t n = 0;
  bool budget_exhausted = false;
  double seconds = 0;

  /// Prints the candidate table (all rows when max_rows is 0).
  void print(std::ostream& os, std::size_t max_rows = 0) const {
    std::ostringstream title;
    title << "tuned spmm " << plan.rows() << " x " << plan.cols() << ", nnz " << plan.nnz() << ", N " << n << ", "
          << value_type_name<T>() << ": best " << plan.name();
    detail::print_candidates(os, title.str(), candidates, max_rows, 46, seconds, budget_exhausted);
  }
};

namespace detail {
/// For spmm_space: blocks of a tensor-core kernel the GPU holds at once with
/// B in layout `b`, from the occupancy API (their shared memory and
/// registers, not only their threads), so that the k splits tried fill
/// whole waves.
template <class T>
std::function<int64_t(const spmm_kernel_key&)> spmm_tensor_wave(dense_layout b) {
  const int64_t sms = multiprocessors();
  return [sms, b](const spmm_kernel_key& k) -> int64_t {  // spmm_space asks only for tensor-core keys
    const auto blocks = find_spmm_entry<T>(k).resident_blocks;
    PAISPARSE_EXPECTS(blocks != nullptr, "spmm kernel " << spmm_config{k}.name() << " has no occupancy query");
    return sms * blocks(b == dense_layout::row_major);
  };
}

/// Whether the current GPU launches thread block clusters (sm_90 and later).
inline bool cluster_launch_supported() {
  int device = 0, yes = 0;
  PAISPARSE_CUDA_TRY(cudaGetDevice(&device));
  PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&yes, cudaDevAttrClusterLaunch, device));
  return yes != 0;
}

/// For spmm_space: clusters of c blocks of a tensor-core kernel the GPU
/// holds at once with B in layout b (occupancy API; 0 where the block
/// cannot add up in a cluster, or the GPU has no clusters), so that the
/// splits tried in a cluster run in one wave.
template <class T>
std::function<int64_t(const spmm_kernel_key&, int32_t)> spmm_cluster_wave(dense_layout b) {
  const bool clusters_here = cluster_launch_supported();
  return [clusters_here, b](const spmm_kernel_key& k, int32_t size) -> int64_t {
    if (!clusters_here) return 0;
    if (k.access == spmm_b_access::wgmma && !wgmma_compiled()) return 0;  // the tuner leaves them out
    const auto clusters = find_spmm_entry<T>(k).resident_clusters;
    PAISPARSE_EXPECTS(clusters != nullptr, "spmm kernel " << spmm_config{k}.name() << " has no cluster occupancy query");
    return clusters(b == dense_layout::row_major, size);
  };
}
}  // namespace detail

/// Tunes SpMM for `w` and n columns (the plan then runs any N up to n) with
/// the given layouts, on the current device. Blocking. Throws if no candidate
/// passes. B and C use tight leading dimensions (K or N for B, M or N for C).
template <class T>
spmm_tune_result<T> tune_spmm(const host_csr<T, int32_t>& w, int32_t n, spmm_layouts layouts = {},
                              const tune_options& opt = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  PAISPARSE_EXPECTS(n >= 1, "tune_spmm: n = " << n << ", expected >= 1");
  PAISPARSE_EXPECTS(opt.reps >= 1, "tune_options::reps = " << opt.reps << ", expected >= 1");
  PAISPARSE_EXPECTS(opt.warmup >= 0, "tune_options::warmup = " << opt.warmup << ", expected >= 0");

  const row_stats stats = compute_row_stats(w);
  // the occupancy API loads a kernel's module: asked only for the keys the
  // filter may keep (worked out once per key, for blocks and clusters alike)
  std::vector<std::pair<spmm_kernel_key, bool>> kept;
  auto may_keep = [&](const spmm_kernel_key& k) {
    for (const auto& [key, yes] : kept)
      if (key == k) return yes;
    kept.emplace_back(k, spmm_filter_may_keep(k, layouts.b, layouts.c, w.cols(), opt.filter));
    return kept.back().second;
  };
  auto tensor_wave = [&, wave = detail::spmm_tensor_wave<T>(layouts.b)](const spmm_kernel_key& k) -> int64_t {
    return may_keep(k) ? wave(k) : 1;
  };
  auto cluster_wave = [&, wave = detail::spmm_cluster_wave<T>(layouts.b)](const spmm_kernel_key& k,
                                                                          int32_t size) -> int64_t {
    return may_keep(k) ? wave(k, size) : 1;
  };
  std::vector<spmm_config> space = spmm_space(static_cast<int>(sizeof(T)), stats, detail::resident_threads(), n,
                                              layouts.b, layouts.c, opt.index_kinds, opt.orders, tensor_wave,
                                              cluster_wave);
  space.erase(std::remove_if(space.begin(), space.end(),
                             [&](const spmm_config& c) {
                               return (!opt.filter.empty() && c.name().find(opt.filter) == std::string::npos) ||
                                      (c.kernel.access == spmm_b_access::wgmma && !detail::wgmma_compiled());
                             }),
              space.end());
  PAISPARSE_EXPECTS(!space.empty(), "tune_spmm: no configuration matches the options (filter '" << opt.filter << "')");
  // Group candidates sharing a schedule so each schedule is built once; the
  // panel kernels last (see the header comment).
  // A tensor-core schedule is built once per tile shape, with the split-K
  // tables, for the candidates that split K and those that do not (tiling a
  // large weight is the costliest step of the search): each candidate's
  // schedule is built, and keyed, as if it split K as much as any
  // candidate does (a workspace slice per split). The plan keeps the
  // tables its kernel needs.
  int32_t most_splits = 2;
  for (const spmm_config& c : space) most_splits = std::max(most_splits, c.workspace_slices());
  auto build_config = [most_splits](spmm_config c) {
    if (c.kernel.tensor_tiled()) {
      c.k_splits = most_splits;
      c.k_cluster = false;
    }
    return c;
  };
  auto sched_key = [&](const spmm_config& c) { return spmm_schedule_key(build_config(c)); };
  const double density = w.density();
  {  // each candidate's (rank, schedule key) computed once, then a stable sort on it
    using order_key = std::pair<int, decltype(sched_key(space.front()))>;
    std::vector<std::pair<order_key, spmm_config>> keyed;
    keyed.reserve(space.size());
    for (const spmm_config& c : space)
      keyed.emplace_back(order_key{detail::spmm_search_rank(c, n, density), sched_key(c)}, c);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < keyed.size(); ++i) space[i] = keyed[i].second;
  }

  const int32_t rows = w.rows(), cols = w.cols();
  const int64_t ldb = std::max<int64_t>(1, layouts.b == dense_layout::row_major ? n : cols);
  const int64_t ldc = std::max<int64_t>(1, layouts.c == dense_layout::row_major ? n : rows);
  const int64_t b_elems = dense_extent(cols, n, ldb, layouts.b);
  const int64_t c_elems = dense_extent(rows, n, ldc, layouts.c);
  const std::vector<T> hb = detail::random_vector<T>(static_cast<std::size_t>(b_elems), opt.seed);
  const reference_result ref = spmm_reference(w, host_dense_ref<T>{&hb, layouts.b, ldb}, n);
  device_buffer<T> db(hb);
  device_buffer<T> dc(static_cast<std::size_t>(c_elems));
  device_buffer<T> staged(static_cast<std::size_t>(cols) * detail::spmm_staged_ld<T>(n));
  const int64_t staged_ld = detail::spmm_staged_ld<T>(n);
  device_error_check<T> check(ref, rows, n, ldc, layouts.c);
  const dense_view<const T> bview(db.data(), db.size(), ldb, layouts.b);
  const dense_view<T> cview(dc.data(), dc.size(), ldc, layouts.c);
  spmm_tune_result<T> result;
  result.n = n;
  spmm_schedule<T> best_schedule;
  auto build = [&](const spmm_config& c) { return make_spmm_schedule(w, build_config(c), n); };
  auto runner = [&](const spmm_config& c, const spmm_schedule<T>& sched) {
    const std::string why = spmm_cannot_implement(c, static_cast<int>(sizeof(T)));
    PAISPARSE_EXPECTS(why.empty(), why);
    const spmm_launch_fn<T> launch = find_spmm_kernel<T>(c.kernel);
    return [&, c, launch](cudaStream_t s) {
      spmm_execute(c, launch, sched, staged.data(), staged_ld, bview, cview, n, epilog_params<T>{}, s, opt.overlap);
    };
  };
  auto error_of = [&](const auto& run) {  // poisoned output (all-ones bits: NaN in every value type), alpha 1, beta 0
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(dc.data(), 0xff, dc.size() * sizeof(T), opt.stream));
    run(opt.stream);
    return check(dc.data(), opt.stream);
  };
  auto bytes = [&](const spmm_config& c) {
    return spmm_min_bytes(rows, cols, w.nnz(), n, sizeof(T), c.kernel.index == index_kind::u16 ? 2 : 4);
  };
  const int best = detail::search_space(space, result.candidates, result.budget_exhausted, best_schedule, opt,
                                        relative_tolerance<T>(), sched_key, build, runner, error_of, bytes);
  const spmm_config winner = best >= 0 ? result.candidates[static_cast<std::size_t>(best)].config : spmm_config{};
  detail::finish_table(result.candidates, best, result.budget_exhausted, "tune_spmm");
  if (winner.kernel.tensor_tiled()) best_schedule.resize_tile_split_tables(winner.workspace_slices());
  result.plan = spmm_plan<T>(winner, std::move(best_schedule));
  result.seconds = elapsed();
  return result;
}

}  // namespace paisparse
