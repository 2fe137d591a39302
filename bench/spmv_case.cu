// paisparse benchmark: one SpMV case, paisparse (tuned) vs cuSPARSE vs cuBLAS.
//
// Order per case, on one weight and one x:
//   1. cuSPARSE, every requested CSR algorithm: output checked against a
//      float64 CPU reference (the first becomes the reference for the
//      others), then timed. Errors are ||out - ref|| / ||scale|| with the CPU
//      reference's per-row term magnitudes as scale;
//   2. paisparse: tune_spmv, one plan per rotation copy (same configuration),
//      every copy's output checked against cuSPARSE's, then timed;
//   3. dense cuBLAS: densified weight, output checked, then timed.
// Each phase frees its device memory before the next.
#include "spmv_case.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <paisparse/paisparse.cuh>

#include "baselines.hpp"
#include "case_common.hpp"
#include "device.hpp"
#include "smtx.hpp"
#include "summary.hpp"

namespace paisparse::bench {

namespace {

template <class T>
void run_typed(benchmark::State& state, const case_spec& spec, const bench_options& opt) {
  bench_device& dev = bench_device::get();
  const cudaStream_t stream = dev.stream();
  const int vb = static_cast<int>(sizeof(T));
  const double tol = 2 * relative_tolerance<T>();
  const rotation_options ropt{opt.samples, opt.min_launches, opt.timing_cap_s};
  PAISPARSE_EXPECTS(spec.n == 1, spec.name << ": batch n = " << spec.n << " is an SpMM case (run_spmm_case)");

  // ---- the weight and x
  const host_csr<T, int32_t> w = load_case_weight<T>(spec);
  const std::vector<T> x = random_values<T>(static_cast<std::size_t>(w.cols()), spec.seed ^ 0x78787878ull);
  const int64_t rows = w.rows(), cols = w.cols(), nnz = w.nnz();
  const csr_arrays arrays{rows, cols, nnz, w.row_offsets().data(), w.col_indices().data(), w.values().data(),
                          spec.type};

  case_result res = start_case_result(spec, w);

  // float64 CPU reference; its per-row term magnitudes scale every check below
  const reference_result cpu = spmv_reference(w, x);
  auto error_vs = [&](const std::vector<double>& out, const std::vector<double>& ref) {
    return scaled_error(out, ref, cpu.scale);
  };

  // ---- 1. cuSPARSE: the reference output, then timing
  std::vector<double> y_ref;
  std::string ref_name;
  rotation_timing cusparse_best_stream, cusparse_best_graph;
  int best_stream_alg = 0, best_graph_alg = 0;
  {
    const int copies = rotation_copies(cusparse_spmv::bytes_per_copy(rows, cols, nnz, vb), opt.hot_l2,
                                       opt.rotate_factor);
    cusparse_spmv sp(dev.cusparse(), arrays, x.data(), opt.cusparse_algs, copies, stream);
    std::string unavailable;
    for (int i = 0; i < sp.alg_count(); ++i) {
      const std::string alg_name = "cuSPARSE CSR_ALG" + std::to_string(sp.alg_id(i));
      if (!sp.available(i)) {
        unavailable += alg_name + ": " + sp.why_not(i) + "; ";
        std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name << " unavailable: " << sp.why_not(i) << "\n";
        continue;
      }
      sp.run(i, 0, stream);
      const std::vector<double> y = sp.result(0, stream);
      if (y_ref.empty()) {
        const double err = error_vs(y, cpu.value);
        if (!(err <= tol))
          throw case_failure{alg_name + " disagrees with the float64 CPU reference: relative error " + sci(err) +
                             " > " + sci(tol)};
        y_ref = y;
        ref_name = alg_name;
      } else {
        const double err = error_vs(y, y_ref);
        if (!(err <= tol))
          throw case_failure{alg_name + " disagrees with " + ref_name + ": relative error " + sci(err) + " > " +
                             sci(tol)};
      }
      const rotation_timing t =
          time_rotation([&](int copy, cudaStream_t s) { sp.run(i, copy, s); }, sp.copies(), ropt, stream);
      const std::string key = "cusparse_alg" + std::to_string(sp.alg_id(i));
      state.counters[key + "_us"] = t.stream.median;
      if (t.graph_ok) state.counters[key + "_graph_us"] = t.graph.median;
      else std::cerr << "paisparse_bench: " << spec.name << ": " << alg_name << " graph capture failed: " << t.graph_error << "\n";
      if (!best_stream_alg || t.stream.median < cusparse_best_stream.stream.median) {
        cusparse_best_stream = t;
        best_stream_alg = sp.alg_id(i);
      }
      if (t.graph_ok && (!best_graph_alg || t.graph.median < cusparse_best_graph.graph.median)) {
        cusparse_best_graph = t;
        best_graph_alg = sp.alg_id(i);
      }
    }
    if (y_ref.empty()) throw case_failure{"no cuSPARSE algorithm could run: " + unavailable};
    state.counters["cusparse_copies"] = sp.copies();
  }
  state.counters["cusparse_us"] = cusparse_best_stream.stream.median;
  state.counters["cusparse_p10_us"] = cusparse_best_stream.stream.p10;
  state.counters["cusparse_p90_us"] = cusparse_best_stream.stream.p90;
  state.counters["cusparse_alg"] = best_stream_alg;
  if (best_graph_alg) {
    state.counters["cusparse_graph_us"] = cusparse_best_graph.graph.median;
    state.counters["cusparse_graph_p10_us"] = cusparse_best_graph.graph.p10;
    state.counters["cusparse_graph_p90_us"] = cusparse_best_graph.graph.p90;
    state.counters["cusparse_graph_alg"] = best_graph_alg;
  }
  res.cusparse_us = cusparse_best_stream.stream.median;
  res.cusparse_graph_us = best_graph_alg ? cusparse_best_graph.graph.median : NAN;

  // ---- 2. paisparse: tune, check every copy, time
  rotation_timing ps;
  {
    tune_options to;
    to.time_budget_s = opt.tune_budget_s;
    to.cold_l2 = !opt.hot_l2;
    to.stream = stream;
    if (opt.verbose)
      to.on_progress = [&](int done, int total, const std::string& name) {
        std::cerr << "\r  tuning " << spec.name << ": " << done << "/" << total << " " << name << "                "
                  << (done == total ? "\n" : "") << std::flush;
      };
    spmv_tune_result<T> tuned = tune_spmv(w, to);
    if (opt.verbose) tuned.print(std::cerr, 12);
    res.tune_s = tuned.seconds;
    res.config = tuned.plan.name();
    state.counters["tune_s"] = tuned.seconds;
    state.counters["tune_candidates"] = static_cast<double>(tuned.candidates.size());
    state.counters["tune_tried"] = static_cast<double>(std::count_if(
        tuned.candidates.begin(), tuned.candidates.end(),
        [](const candidate_result& c) { return c.status != candidate_status::skipped; }));
    state.counters["plan_MB"] = static_cast<double>(tuned.plan.weight_bytes()) / 1e6;

    const int64_t bytes_per_copy = tuned.plan.weight_bytes() + (rows + cols) * vb;
    const int copies = rotation_copies(bytes_per_copy, opt.hot_l2, opt.rotate_factor);
    std::vector<spmv_plan<T>> plans;
    plans.reserve(static_cast<std::size_t>(copies));
    plans.push_back(std::move(tuned.plan));
    for (int c = 1; c < copies; ++c) plans.emplace_back(w, plans.front().config());
    std::vector<device_buffer<T>> xs, ys;
    for (int c = 0; c < copies; ++c) {
      xs.emplace_back(x);
      ys.emplace_back(static_cast<std::size_t>(rows));
    }
    auto launch = [&](int copy, cudaStream_t s) {
      const auto c = static_cast<std::size_t>(copy);
      plans[c].run(cuda::std::span<const T>(xs[c].data(), xs[c].size()), cuda::std::span<T>(ys[c].data(), ys[c].size()),
                   epilog_params<T>{}, s);
    };
    for (int c = 0; c < copies; ++c) {  // outputs poisoned (NaN), then computed and checked
      PAISPARSE_CUDA_TRY(cudaMemsetAsync(ys[static_cast<std::size_t>(c)].data(), 0xff, static_cast<std::size_t>(rows) * vb, stream));
      launch(c, stream);
      const std::vector<double> y = download_as_double(ys[static_cast<std::size_t>(c)].data(),
                                                       static_cast<std::size_t>(rows), spec.type, stream);
      const double err = error_vs(y, y_ref);
      if (!(err <= tol))
        throw case_failure{"paisparse " + res.config + " (copy " + std::to_string(c) + ") disagrees with " + ref_name +
                           ": relative error " + sci(err) + " > " + sci(tol)};
    }
    ps = time_rotation(launch, copies, ropt, stream);
    if (!ps.graph_ok) std::cerr << "paisparse_bench: " << spec.name << ": paisparse graph capture failed: " << ps.graph_error << "\n";
    state.counters["paisparse_copies"] = copies;
    // The same plans without programmatic dependent launch: kernel against
    // kernel, no overlap of a call's weight fetch with the previous call.
    for (auto& p : plans) p.set_overlap(false);
    const rotation_timing nopdl = time_rotation(launch, copies, ropt, stream);
    for (auto& p : plans) p.set_overlap(true);
    state.counters["paisparse_nopdl_us"] = nopdl.stream.median;
    if (nopdl.graph_ok) state.counters["paisparse_nopdl_graph_us"] = nopdl.graph.median;
  }
  set_timing_counters(state, "paisparse", ps);
  res.paisparse_us = ps.stream.median;
  res.paisparse_graph_us = graph_or_nan(ps);

  // ---- 3. dense cuBLAS
  res.cublas_us = res.cublas_graph_us = NAN;
  if (opt.run_cublas) {
    const int64_t bytes_per_copy = cublas_dense::bytes_per_copy(rows, cols, vb);
    if (bytes_per_copy + (int64_t{1} << 30) > dev.free_bytes()) {
      std::cerr << "paisparse_bench: " << spec.name << ": dense cuBLAS skipped, a " << bytes_per_copy / 1e9
                << " GB dense weight does not fit\n";
    } else {
      const int copies = rotation_copies(bytes_per_copy, opt.hot_l2, opt.rotate_factor);
      cublas_dense cb(dev.cublas(), arrays, x.data(), copies, stream);
      cb.run(0, stream);
      const double err = error_vs(cb.result(0, stream), y_ref);
      if (!(err <= tol))
        throw case_failure{"dense cuBLAS disagrees with " + ref_name + ": relative error " + sci(err) + " > " +
                           sci(tol)};
      const rotation_timing t =
          time_rotation([&](int copy, cudaStream_t s) { cb.run(copy, s); }, cb.copies(), ropt, stream);
      if (!t.graph_ok) std::cerr << "paisparse_bench: " << spec.name << ": cuBLAS graph capture failed: " << t.graph_error << "\n";
      set_timing_counters(state, "cublas", t);
      state.counters["cublas_copies"] = cb.copies();
      res.cublas_us = t.stream.median;
      res.cublas_graph_us = graph_or_nan(t);
    }
  }

  // ---- derived counters
  const double floor_bytes = static_cast<double>(nnz) * (vb + 2) + static_cast<double>(rows + 1) * 4 +
                             static_cast<double>(cols + rows) * vb;
  const double ps_primary = set_derived_counters(state, res, floor_bytes, dev.info().copy_gbps, ps, opt.hot_l2);
  report_case(state, res, ps_primary);
}

}  // namespace

void run_spmv_case(benchmark::State& state, const case_spec& spec, const bench_options& opt) {
  run_case(state, spec, [&](auto zero) { run_typed<decltype(zero)>(state, spec, opt); });
}

}  // namespace paisparse::bench
