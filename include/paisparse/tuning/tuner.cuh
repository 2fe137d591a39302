// paisparse: the exhaustive SpMV tuner.
//
// tune_spmv(w) runs every configuration of the compiled-in space on the
// user's weight: each candidate's output (poisoned beforehand) is checked
// against a float64 CPU reference on fresh random x, then timed with CUDA
// events, warmed up, median of several runs, L2 flushed before each run so
// the weight comes from HBM. A candidate that fails the check can never win.
// Returns the fastest as a plan, with the whole table.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../format/csr.hpp"
#include "../reference.hpp"
#include "config.hpp"
#include "plan.cuh"
#include "registry.cuh"
#include "timing.cuh"

namespace paisparse {

struct tune_options {
  std::vector<index_kind> index_kinds{index_kind::u16, index_kind::i32};
  std::vector<item_order> orders{item_order::longest_first, item_order::row_order};
  std::string filter;          // keep only configurations whose name contains this
  double time_budget_s = 0;    // stop starting new candidates after this many seconds of search (0: no
                               // limit); counted from the first candidate, so the float64 reference
                               // and the setup before it are not part of it
  int warmup = 2;              // untimed runs per candidate
  int reps = 9;                // timed runs per candidate (median reported)
  bool cold_l2 = true;         // flush L2 before every timed run
  bool graph_timing = true;    // time each run inside a CUDA graph (no stream-launch overhead)
  bool overlap = true;         // launch with programmatic dependent launch, as plans run by default; the
                               // L2 flush before each run ends before it starts, so what overlaps is a
                               // staged-B SpMM candidate's staging kernel and its SpMM kernel
  uint64_t seed = 0x5eed;      // for the check's random x
  cudaStream_t stream = nullptr;
  std::function<void(int done, int total, const std::string& name)> on_progress;  // optional
};

enum class candidate_status { ok, wrong, failed, skipped };

inline const char* to_string(candidate_status s) {
  switch (s) {
    case candidate_status::ok: return "ok";
    case candidate_status::wrong: return "WRONG";
    case candidate_status::failed: return "FAILED";
    case candidate_status::skipped: return "skipped";
  }
  return "?";
}

struct candidate_result {
  spmv_config config;
  candidate_status status = candidate_status::skipped;
  double median_us = 0, min_us = 0, max_us = 0;
  double gbps = 0;     // useful bytes (CSR in this index type, x, y) / median time
  double rel_err = 0;  // against the float64 reference
  std::string message;
};

namespace detail {
/// The candidate table both tuners print: `title`, the count and the time,
/// then one row per candidate (all when max_rows is 0), names padded to
/// name_width. Result: candidate_result or spmm_candidate_result.
template <class Result>
void print_candidates(std::ostream& os, const std::string& title, const std::vector<Result>& candidates,
                      std::size_t max_rows, int name_width, double seconds, bool budget_exhausted) {
  const std::ios_base::fmtflags flags = os.flags();
  const std::streamsize precision = os.precision();
  os << title << ", " << candidates.size() << " candidates in " << std::fixed << std::setprecision(2) << seconds
     << " s" << (budget_exhausted ? " (time budget reached: search stopped early)" : "") << "\n";
  os << std::left << std::setw(name_width) << "config" << std::right << std::setw(10) << "median_us" << std::setw(18)
     << "min..max_us" << std::setw(9) << "GB/s" << std::setw(11) << "rel_err" << "  status\n";
  std::size_t shown = 0;
  for (const auto& c : candidates) {
    if (max_rows && shown++ >= max_rows) break;
    os << std::left << std::setw(name_width) << c.config.name() << std::right;
    if (c.status == candidate_status::ok) {
      std::ostringstream mm;
      mm << std::fixed << std::setprecision(2) << c.min_us << ".." << c.max_us;
      os << std::setw(10) << std::setprecision(2) << c.median_us << std::setw(18) << mm.str() << std::setw(9)
         << std::setprecision(0) << c.gbps;
    } else {
      os << std::setw(10) << "-" << std::setw(18) << "-" << std::setw(9) << "-";
    }
    os << std::setw(11) << std::scientific << std::setprecision(1) << c.rel_err << std::fixed << "  "
       << to_string(c.status) << (c.message.empty() ? "" : ": " + c.message) << "\n";
  }
  os.flags(flags);
  os.precision(precision);
}
}  // namespace detail

template <class T>
struct spmv_tune_result {
  spmv_plan<T> plan;
  std::vector<candidate_result> candidates;  // passing ones fastest first, then the rest
  bool budget_exhausted = false;
  double seconds = 0;

  /// Prints the candidate table (all rows when max_rows is 0).
  void print(std::ostream& os, std::size_t max_rows = 0) const {
    std::ostringstream title;
    title << "tuned " << plan.rows() << " x " << plan.cols() << ", nnz " << plan.nnz() << ", " << value_type_name<T>()
          << ": best " << plan.name();
    detail::print_candidates(os, title.str(), candidates, max_rows, 34, seconds, budget_exhausted);
  }
};

namespace detail {

template <class T>
std::vector<T> random_vector(std::size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<T> v(n);
  for (auto& e : v) e = from_float<T>(d(rng));
  return v;
}

/// SMs of the current device.
inline int64_t multiprocessors() {
  int dev = 0, sms = 0;
  PAISPARSE_CUDA_TRY(cudaGetDevice(&dev));
  PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  return sms;
}

/// Threads the current device holds at once (SMs x threads per SM).
inline int64_t resident_threads() {
  int dev = 0, per_sm = 0;
  PAISPARSE_CUDA_TRY(cudaGetDevice(&dev));
  PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, dev));
  return multiprocessors() * per_sm;
}

/// The search both tuners run over their space, in its order. For each
/// configuration: once the budget is spent (a winner exists by then) the
/// rest are skipped; its schedule is built when `key` differs from the
/// previous configuration's (build(config) -> Schedule); runner(config,
/// schedule) gives the launch, a callable on a stream (it may throw:
/// cannot implement, no such kernel); error_of(run) poisons the output,
/// runs it once and returns the relative error against the float64
/// reference; a candidate within `tolerance` is timed (cold L2 and graph
/// replay as `opt` says) and its GB/s taken from bytes(config). A throwing
/// candidate is marked failed, never fatal. Fills `candidates` (one per
/// configuration, in order) and moves the winner's schedule into `best`;
/// returns the winner's index, -1 when none passed.
template <class Config, class Result, class Schedule, class Key, class Build, class Runner, class ErrorOf,
          class Bytes>
int search_space(const std::vector<Config>& space, std::vector<Result>& candidates, bool& budget_exhausted,
                 Schedule& best, const tune_options& opt, double tolerance, Key key, Build build, Runner runner,
                 ErrorOf error_of, Bytes bytes) {
  l2_flusher flusher;
  candidates.resize(space.size());
  Schedule current;
  int winner = -1;
  bool current_holds_best = false;
  // the budget counts the search only, not the reference and setup before it
  const auto start = std::chrono::steady_clock::now();
  auto searching = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (std::size_t i = 0; i < space.size(); ++i) {
    Result& r = candidates[i];
    r.config = space[i];
    if (opt.time_budget_s > 0 && winner >= 0 && searching() > opt.time_budget_s) {
      budget_exhausted = true;
      r.status = candidate_status::skipped;
      r.message = "time budget reached";
      continue;
    }
    if (opt.on_progress) opt.on_progress(static_cast<int>(i), static_cast<int>(space.size()), r.config.name());
    try {
      if (i == 0 || key(space[i]) != key(space[i - 1])) {
        if (current_holds_best) best = std::move(current);
        current_holds_best = false;
        current = build(r.config);
      }
      const auto run = runner(r.config, current);
      r.rel_err = error_of(run);
      if (!(r.rel_err <= tolerance)) {
        r.status = candidate_status::wrong;
        std::ostringstream os;
        os << "relative error above " << tolerance;
        r.message = os.str();
        continue;
      }
      l2_flusher* flush = opt.cold_l2 ? &flusher : nullptr;
      const timing_stats ts = opt.graph_timing ? time_launches_in_graph(run, opt.stream, opt.warmup, opt.reps, flush)
                                               : time_launches(run, opt.stream, opt.warmup, opt.reps, flush);
      r.median_us = ts.median;
      r.min_us = ts.min;
      r.max_us = ts.max;
      r.gbps = r.median_us > 0 ? static_cast<double>(bytes(r.config)) / (r.median_us * 1e3) : 0;
      r.status = candidate_status::ok;
      if (winner < 0 || r.median_us < candidates[static_cast<std::size_t>(winner)].median_us) {
        winner = static_cast<int>(i);
        current_holds_best = true;
      }
    } catch (const error& e) {
      r.status = candidate_status::failed;
      r.message = e.what();
      cudaGetLastError();  // clear a non-sticky launch error before the next candidate
    }
  }
  if (current_holds_best) best = std::move(current);
  if (opt.on_progress) opt.on_progress(static_cast<int>(space.size()), static_cast<int>(space.size()), "");
  return winner;
}

/// After search_space: throws when no candidate passed (`who`: the tuner's
/// name), else sorts the table, passing candidates fastest first.
template <class Result>
void finish_table(std::vector<Result>& candidates, int winner, bool budget_exhausted, const char* who) {
  PAISPARSE_EXPECTS(winner >= 0, who << ": no candidate passed the check (" << candidates.size() << " tried"
                                     << (budget_exhausted ? ", time budget reached" : "") << "); first failure: "
                                     << (candidates.empty() ? "" : candidates[0].message));
  std::stable_sort(candidates.begin(), candidates.end(), [](const Result& a, const Result& b) {
    const bool ao = a.status == candidate_status::ok, bo = b.status == candidate_status::ok;
    if (ao != bo) return ao;
    return ao && a.median_us < b.median_us;
  });
}

}  // namespace detail

/// Bytes an SpMV must move at least: CSR with `index_bytes` indices, x and y.
inline int64_t spmv_min_bytes(int64_t rows, int64_t cols, int64_t nnz, int value_bytes, int index_bytes) {
  return nnz * (value_bytes + index_bytes) + (rows + 1) * 4 + (cols + rows) * value_bytes;
}

/// Tunes SpMV for `w` on the current device. Blocking. Throws if no candidate passes.
template <class T>
spmv_tune_result<T> tune_spmv(const host_csr<T, int32_t>& w, const tune_options& opt = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  PAISPARSE_EXPECTS(opt.reps >= 1, "tune_options::reps = " << opt.reps << ", expected >= 1");
  PAISPARSE_EXPECTS(opt.warmup >= 0, "tune_options::warmup = " << opt.warmup << ", expected >= 0");

  const row_stats stats = compute_row_stats(w);
  std::vector<spmv_config> space =
      spmv_space(static_cast<int>(sizeof(T)), stats, detail::resident_threads(), opt.index_kinds, opt.orders);
  if (!opt.filter.empty())
    space.erase(std::remove_if(space.begin(), space.end(),
                               [&](const spmv_config& c) { return c.name().find(opt.filter) == std::string::npos; }),
                space.end());
  PAISPARSE_EXPECTS(!space.empty(), "tune_spmv: no configuration matches the options (filter '" << opt.filter << "')");
  // Group candidates sharing a schedule so each schedule is built once.
  auto sched_key = [](const spmv_config& c) {
    return std::make_tuple(static_cast<int>(c.kernel.index), c.kernel.vec_bytes, c.segment_cap, static_cast<int>(c.order));
  };
  std::stable_sort(space.begin(), space.end(),
                   [&](const spmv_config& a, const spmv_config& b) { return sched_key(a) < sched_key(b); });

  const std::vector<T> x = detail::random_vector<T>(static_cast<std::size_t>(w.cols()), opt.seed);
  const reference_result ref = spmv_reference(w, x);
  device_buffer<T> dx(x);
  device_buffer<T> dy(static_cast<std::size_t>(w.rows()));
  std::vector<T> hy(static_cast<std::size_t>(w.rows()));
  spmv_tune_result<T> result;
  device_schedule<T> best_schedule;
  auto build = [&](const spmv_config& c) {
    const schedule_params p{c.kernel.vec_bytes / static_cast<int>(sizeof(T)), c.segment_cap, c.order};
    return c.kernel.index == index_kind::u16 ? device_schedule<T>(build_schedule<uint16_t>(w, p))
                                             : device_schedule<T>(build_schedule<int32_t>(w, p));
  };
  auto runner = [&](const spmv_config& c, const device_schedule<T>& sched) {
    const spmv_launch_fn<T> launch = find_spmv_kernel<T>(c.kernel);
    const spmv_bins bins = spmv_bins_for(c, sched);
    return [&, launch, bins](cudaStream_t s) {
      launch(sched, bins, dx.data(), dy.data(), epilog_params<T>{}, s, opt.overlap);
    };
  };
  auto error_of = [&](const auto& run) {  // poisoned output (all-ones bits: NaN in every value type), alpha 1, beta 0
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(dy.data(), 0xff, dy.size() * sizeof(T), opt.stream));
    run(opt.stream);
    PAISPARSE_CUDA_TRY(cudaMemcpyAsync(hy.data(), dy.data(), hy.size() * sizeof(T), cudaMemcpyDeviceToHost, opt.stream));
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(opt.stream));
    return relative_error(hy, ref);
  };
  auto bytes = [&](const spmv_config& c) {
    return spmv_min_bytes(w.rows(), w.cols(), w.nnz(), sizeof(T), c.kernel.index == index_kind::u16 ? 2 : 4);
  };
  const int best = detail::search_space(space, result.candidates, result.budget_exhausted, best_schedule, opt,
                                        relative_tolerance<T>(), sched_key, build, runner, error_of, bytes);
  const spmv_config winner = best >= 0 ? result.candidates[static_cast<std::size_t>(best)].config : spmv_config{};
  detail::finish_table(result.candidates, best, result.budget_exhausted, "tune_spmv");
  result.plan = spmv_plan<T>(winner, std::move(best_schedule), w.rows(), w.cols());
  result.seconds = elapsed();
  return result;
}

}  // namespace paisparse
