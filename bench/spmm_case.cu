// paisparse benchmark: one SpMM case, C = W B (W: M x K CSR, B: K x N, C: M x N),
// paisparse (tuned) vs cuSPARSE vs cuBLAS.
//
// Order per case, on one weight and one B (values uniform in [-1, 1]):
//   0. a float64 CPU reference of C with the magnitude of each element's
//      terms (the scale of every check below);
//   1. cuSPARSE cusparseSpMM, every requested algorithm, with B and C in the
//      case's layout (the same memory paisparse gets) and, unless
//      --cusparse_layouts=same, in the other layout: each output checked
//      against the CPU reference (one that disagrees is reported and not
//      timed), then timed. The first correct output in the case's layout is
//      the reference for paisparse and cuBLAS;
//   2. paisparse: tune_spmm for (W, N, layout), one plan per rotation copy
//      (same configuration), every copy's output (poisoned first) checked
//      against cuSPARSE's, then timed;
//   3. dense cuBLAS GemmEx on the densified weight computing the same
//      product in the same layout: output checked, then timed.
// Each phase frees its device memory before the next.
#include "spmm_case.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <paisparse/paisparse.cuh>

#include "baselines.hpp"
#include "case_common.hpp"
#include "device.hpp"
#include "smtx.hpp"
#include "summary.hpp"

namespace paisparse::bench {

namespace {

/// C = W B in float64 with each element's term magnitude, compact row-major
/// M x N; B is compact row-major K x N. Rows are shared out over the host's
/// threads (large layers at N = 128 are billions of terms).
template <class T>
void reference_spmm(const host_csr<T, int32_t>& w, const std::vector<T>& b, int64_t n, std::vector<double>& value,
                    std::vector<double>& scale) {
  const int64_t rows = w.rows(), cols = w.cols();
  std::vector<double> bd(static_cast<std::size_t>(cols * n));
  for (std::size_t i = 0; i < bd.size(); ++i) bd[i] = to_float(b[i]);
  value.assign(static_cast<std::size_t>(rows * n), 0.0);
  scale.assign(static_cast<std::size_t>(rows * n), 0.0);
  const int32_t* offsets = w.row_offsets().data();
  const int32_t* indices = w.col_indices().data();
  const T* values = w.values().data();
  constexpr int64_t rows_per_task = 32;
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t r0; (r0 = next.fetch_add(rows_per_task)) < rows;) {
      for (int64_t r = r0; r < std::min(rows, r0 + rows_per_task); ++r) {
        double* acc = value.data() + r * n;
        double* mag = scale.data() + r * n;
        for (int32_t q = offsets[r]; q < offsets[r + 1]; ++q) {
          const double v = to_float(values[q]);
          const double* br = bd.data() + static_cast<int64_t>(indices[q]) * n;
          for (int64_t j = 0; j < n; ++j) {
            const double t = v * br[j];
            acc[j] += t;
            mag[j] += std::fabs(t);
          }
        }
      }
    }
  };
  const unsigned threads = std::max(1u, std::min(32u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

dense_layout dense_of(spmm_layout l) {
  return l == spmm_layout::llm ? dense_layout::col_major : dense_layout::row_major;
}

const char* layout_word(dense_layout l) { return l == dense_layout::col_major ? "col" : "row"; }

std::string alg_key(int id) { return id == 0 ? "default" : "alg" + std::to_string(id); }

/// The best time of one mode over several measured methods.
struct best_of {
  double us = NAN;
  double p10 = NAN, p90 = NAN;
  int alg = -1;
  dense_layout layout = dense_layout::col_major;
  void offer(const spread& s, int id, dense_layout l) {
    if (!(s.median > 0)) return;
    if (alg < 0 || s.median < us) us = s.median, p10 = s.p10, p90 = s.p90, alg = id, layout = l;
  }
};

template <class T>
void run_typed(benchmark::State& state, const case_spec& spec, const bench_options& opt) {
  bench_device& dev = bench_device::get();
  const cudaStream_t stream = dev.stream();
  const int vb = static_cast<int>(sizeof(T));
  const double tol = 2 * relative_tolerance<T>();
  const rotation_options ropt{opt.samples, opt.min_launches, opt.timing_cap_s};
  PAISPARSE_EXPECTS(spec.n > 1 && spec.n <= INT32_MAX, spec.name << ": SpMM case with N = " << spec.n);
  const int32_t n = static_cast<int32_t>(spec.n);
  const dense_layout layout = dense_of(spec.layout);

  // ---- the weight and B (compact row-major K x N on the host)
  const host_csr<T, int32_t> w = load_case_weight<T>(spec);
  const int64_t rows = w.rows(), cols = w.cols(), nnz = w.nnz();
  const std::vector<T> b = random_values<T>(static_cast<std::size_t>(cols * n), spec.seed ^ 0x4242424242ull);
  const csr_arrays arrays{rows, cols, nnz, w.row_offsets().data(), w.col_indices().data(), w.values().data(),
                          spec.type};

  case_result res = start_case_result(spec, w);
  res.layout = to_string(spec.layout);

  // ---- 0. float64 CPU reference
  std::vector<double> ref_value, ref_scale;
  reference_spmm(w, b, n, ref_value, ref_scale);
  auto error_vs = [&](const std::vector<double>& out, const std::vector<double>& ref) {
    return scaled_error(out, ref, ref_scale);
  };

  // ---- 1. cuSPARSE: every algorithm, the case's layout first
  std::vector<double> c_ref;  // the reference output for paisparse and cuBLAS (compact row-major)
  std::string ref_name;
  best_of same_stream, same_graph, any_stream, any_graph;
  {
    std::vector<dense_layout> layouts{layout};
    if (opt.cusparse_both_layouts)
      layouts.push_back(layout == dense_layout::col_major ? dense_layout::row_major : dense_layout::col_major);
    std::string unavailable;
    for (dense_layout l : layouts) {
      const int copies = rotation_copies(cusparse_spmm::bytes_per_copy(rows, cols, nnz, n, vb), opt.hot_l2,
                                         opt.rotate_factor);
      cusparse_spmm sp(dev.cusparse(), arrays, b.data(), n, l, opt.cusparse_spmm_algs, copies, stream);
      for (int i = 0; i < sp.alg_count(); ++i) {
        const std::string alg_name = std::string("cuSPARSE ") + cusparse_spmm::alg_name(sp.alg_id(i)) + " (" +
                                     layout_word(l) + "-major B, C)";
        const std::string key = std::string("cusparse_") + alg_key(sp.alg_id(i)) + "_" + layout_word(l);
        if (!sp.available(i)) {
          unavailable += alg_name + ": " + sp.why_not(i) + "; ";
          std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name << " unavailable: " << sp.why_not(i)
                    << "\n";
          continue;
        }
        try {
          sp.run(i, 0, stream);
          PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
        } catch (const paisparse::error& e) {
          unavailable += alg_name + ": " + e.what() + "; ";
          std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name << " failed: " << e.what() << "\n";
          cudaGetLastError();
          continue;
        }
        const std::vector<double> c = sp.result(0, stream);
        const double err = error_vs(c, ref_value);
        if (!(err <= tol)) {
          // cuSPARSE's own mismatch: reported and left out, the case goes on with the others
          std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name
                    << " disagrees with the float64 CPU reference: relative error " << sci(err) << " > " << sci(tol)
                    << "; not timed\n";
          state.counters[key + "_wrong"] = 1;
          continue;
        }
        if (c_ref.empty() && l == layout) {
          c_ref = c;
          ref_name = alg_name;
        }
        const rotation_timing t =
            time_rotation([&](int copy, cudaStream_t s) { sp.run(i, copy, s); }, sp.copies(), ropt, stream);
        state.counters[key + "_us"] = t.stream.median;
        if (t.capped) {  // --timing_cap: fewer launches per sample and / or samples than asked
          state.counters[key + "_samples"] = t.stream.n;
          state.counters[key + "_launches"] = t.launches;
        }
        if (t.graph_ok) state.counters[key + "_graph_us"] = t.graph.median;
        else
          std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name
                    << " graph capture failed: " << t.graph_error << "\n";
        if (l == layout) {
          same_stream.offer(t.stream, sp.alg_id(i), l);
          if (t.graph_ok) same_graph.offer(t.graph, sp.alg_id(i), l);
        }
        any_stream.offer(t.stream, sp.alg_id(i), l);
        if (t.graph_ok) any_graph.offer(t.graph, sp.alg_id(i), l);
      }
      if (l == layout) state.counters["cusparse_copies"] = sp.copies();
    }
    if (c_ref.empty())
      throw case_failure{std::string("no cuSPARSE algorithm gave a checked result with ") + layout_word(layout) +
                         "-major B and C: " + unavailable};
  }
  state.counters["cusparse_us"] = same_stream.us;
  state.counters["cusparse_p10_us"] = same_stream.p10;
  state.counters["cusparse_p90_us"] = same_stream.p90;
  state.counters["cusparse_alg"] = same_stream.alg;
  if (same_graph.alg >= 0) {
    state.counters["cusparse_graph_us"] = same_graph.us;
    state.counters["cusparse_graph_p10_us"] = same_graph.p10;
    state.counters["cusparse_graph_p90_us"] = same_graph.p90;
    state.counters["cusparse_graph_alg"] = same_graph.alg;
  }
  state.counters["cusparse_any_us"] = any_stream.us;
  state.counters["cusparse_any_row_major"] = any_stream.layout == dense_layout::row_major ? 1 : 0;
  if (any_graph.alg >= 0) {
    state.counters["cusparse_any_graph_us"] = any_graph.us;
    state.counters["cusparse_any_graph_alg"] = any_graph.alg;
    state.counters["cusparse_any_graph_row_major"] = any_graph.layout == dense_layout::row_major ? 1 : 0;
  }
  res.cusparse_us = same_stream.us;
  res.cusparse_graph_us = same_graph.alg >= 0 ? same_graph.us : NAN;

  // ---- 2. paisparse: tune, check every copy, time
  rotation_timing ps;
  {
    tune_options to;
    to.time_budget_s = opt.tune_budget_s;
    to.cold_l2 = !opt.hot_l2;
    to.stream = stream;
    // The budget counts tune_spmm's search only; its float64 reference
    // (single-threaded, 10-30 s on a large layer at N = 128) comes before the
    // first progress call, which is how long it took is measured here.
    const auto tune_start = std::chrono::steady_clock::now();
    double reference_s = -1;
    to.on_progress = [&](int done, int total, const std::string& name) {
      if (reference_s < 0)
        reference_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - tune_start).count();
      if (opt.verbose)
        std::cerr << "\r  tuning " << spec.name << ": " << done << "/" << total << " " << name << "                "
                  << (done == total ? "\n" : "") << std::flush;
    };
    spmm_tune_result<T> tuned = tune_spmm(w, n, spmm_layouts{layout, layout}, to);
    state.counters["tune_reference_s"] = reference_s;
    if (opt.verbose) tuned.print(std::cerr, 12);
    res.tune_s = tuned.seconds;
    res.config = tuned.plan.name();
    auto count = [&](candidate_status s) {
      return static_cast<double>(std::count_if(tuned.candidates.begin(), tuned.candidates.end(),
                                               [&](const spmm_candidate_result& c) { return c.status == s; }));
    };
    state.counters["tune_s"] = tuned.seconds;
    state.counters["tune_candidates"] = static_cast<double>(tuned.candidates.size());
    state.counters["tune_tried"] = static_cast<double>(tuned.candidates.size()) - count(candidate_status::skipped);
    state.counters["tune_wrong"] = count(candidate_status::wrong);
    state.counters["tune_failed"] = count(candidate_status::failed);
    state.counters["plan_MB"] = static_cast<double>(tuned.plan.weight_bytes()) / 1e6;
    if (count(candidate_status::wrong) > 0)
      std::cerr << "paisparse_bench: " << spec.name << ": " << count(candidate_status::wrong)
                << " tuner candidate(s) failed the tuner's check (they cannot win)\n";

    const spmm_config config = tuned.plan.config();
    const int64_t staged = config.stages_b() ? cols * ::paisparse::detail::spmm_staged_ld<T>(n) * vb : 0;
    const int64_t bytes_per_copy = tuned.plan.weight_bytes() + (rows + cols) * n * vb + staged;
    const int copies = rotation_copies(bytes_per_copy, opt.hot_l2, opt.rotate_factor);
    std::vector<spmm_plan<T>> plans;
    plans.reserve(static_cast<std::size_t>(copies));
    plans.push_back(std::move(tuned.plan));
    for (int c = 1; c < copies; ++c) plans.emplace_back(w, config, n);
    const std::vector<unsigned char> b_bytes = to_layout(b.data(), cols, n, vb, layout);
    std::vector<T> b_laid(b.size());
    std::memcpy(b_laid.data(), b_bytes.data(), b_bytes.size());
    const int64_t ldb = layout == dense_layout::col_major ? cols : n;
    const int64_t ldc = layout == dense_layout::col_major ? rows : n;
    std::vector<device_buffer<T>> bs, cs;
    for (int c = 0; c < copies; ++c) {
      bs.emplace_back(b_laid);
      cs.emplace_back(static_cast<std::size_t>(rows * n));
    }
    auto launch = [&](int copy, cudaStream_t s) {
      const auto c = static_cast<std::size_t>(copy);
      plans[c].run(dense_view<const T>(bs[c].data(), bs[c].size(), ldb, layout),
                   dense_view<T>(cs[c].data(), cs[c].size(), ldc, layout), n, epilog_params<T>{}, s);
    };
    for (int c = 0; c < copies; ++c) {  // outputs poisoned (NaN), then computed and checked
      const auto ci = static_cast<std::size_t>(c);
      PAISPARSE_CUDA_TRY(cudaMemsetAsync(cs[ci].data(), 0xff, cs[ci].size() * sizeof(T), stream));
      launch(c, stream);
      const std::vector<double> out = download_matrix(cs[ci].data(), rows, n, layout, spec.type, stream);
      const double err = error_vs(out, c_ref);
      if (!(err <= tol))
        throw case_failure{"paisparse " + res.config + " (copy " + std::to_string(c) + ") disagrees with " +
                           ref_name + ": relative error " + sci(err) + " > " + sci(tol)};
    }
    ps = time_rotation(launch, copies, ropt, stream);
    if (!ps.graph_ok)
      std::cerr << "paisparse_bench: " << spec.name << ": paisparse graph capture failed: " << ps.graph_error << "\n";
    state.counters["paisparse_copies"] = copies;
    // The same plans without programmatic dependent launch: kernel against
    // kernel, no overlap of a call's kernels with each other or with the call before.
    for (auto& p : plans) p.set_overlap(false);
    const rotation_timing nopdl = time_rotation(launch, copies, ropt, stream);
    for (auto& p : plans) p.set_overlap(true);
    state.counters["paisparse_nopdl_us"] = nopdl.stream.median;
    if (nopdl.graph_ok) state.counters["paisparse_nopdl_graph_us"] = nopdl.graph.median;
  }
  set_timing_counters(state, "paisparse", ps);
  res.paisparse_us = ps.stream.median;
  res.paisparse_graph_us = graph_or_nan(ps);

  // ---- 3. dense cuBLAS, same product, same layout
  res.cublas_us = res.cublas_graph_us = NAN;
  if (opt.run_cublas) {
    const int64_t bytes_per_copy = cublas_dense::bytes_per_copy(rows, cols, vb, n);
    if (bytes_per_copy + (int64_t{1} << 30) > dev.free_bytes()) {
      std::cerr << "paisparse_bench: " << spec.name << ": dense cuBLAS skipped, a " << bytes_per_copy / 1e9
                << " GB dense weight does not fit\n";
    } else {
      const int copies = rotation_copies(bytes_per_copy, opt.hot_l2, opt.rotate_factor);
      cublas_dense cb(dev.cublas(), arrays, b.data(), n, layout, copies, stream);
      cb.run(0, stream);
      const double err = error_vs(cb.result(0, stream), c_ref);
      if (!(err <= tol))
        throw case_failure{"dense cuBLAS disagrees with " + ref_name + ": relative error " + sci(err) + " > " +
                           sci(tol)};
      const rotation_timing t =
          time_rotation([&](int copy, cudaStream_t s) { cb.run(copy, s); }, cb.copies(), ropt, stream);
      if (!t.graph_ok)
        std::cerr << "paisparse_bench: " << spec.name << ": cuBLAS graph capture failed: " << t.graph_error << "\n";
      set_timing_counters(state, "cublas", t);
      state.counters["cublas_copies"] = cb.copies();
      res.cublas_us = t.stream.median;
      res.cublas_graph_us = graph_or_nan(t);
    }
  }

  // ---- derived counters: the floor is values + 16-bit indices + row offsets + B + C
  const double floor_bytes = static_cast<double>(spmm_min_bytes(rows, cols, nnz, n, vb, 2));
  const double ps_primary = set_derived_counters(state, res, floor_bytes, dev.info().copy_gbps, ps, opt.hot_l2);
  set_ratio(state, "speedup_vs_cusparse_any", any_graph.alg >= 0 ? any_graph.us : NAN, res.paisparse_graph_us);
  state.counters["row_major"] = layout == dense_layout::row_major ? 1 : 0;
  report_case(state, res, ps_primary);
}

}  // namespace

void run_spmm_case(benchmark::State& state, const case_spec& spec, const bench_options& opt) {
  run_case(state, spec, [&](auto zero) { run_typed<decltype(zero)>(state, spec, opt); });
}

}  // namespace paisparse::bench
