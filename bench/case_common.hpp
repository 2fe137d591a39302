// paisparse benchmark: helpers shared by the SpMV and SpMM cases.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <paisparse/format/csr.hpp>
#include <paisparse/format/random.hpp>
#include <paisparse/types.hpp>

#include "device.hpp"
#include "options.hpp"
#include "smtx.hpp"
#include "summary.hpp"

namespace paisparse::bench {

/// Thrown to stop a case with a message for state.SkipWithError.
struct case_failure {
  std::string message;
};

/// The case's weight: its .smtx pattern with random values, or a synthetic
/// one. Throws case_failure when it has no nonzero (nothing to time).
template <class T>
host_csr<T, int32_t> load_case_weight(const case_spec& spec) {
  host_csr<T, int32_t> w =
      spec.from_file() ? with_random_values<T>(read_smtx(spec.path), spec.seed)
                       : random_csr<T>(spec.rows, spec.cols, 1.0 - spec.sparsity, spec.dist, spec.sigma, spec.seed);
  if (w.nnz() == 0) throw case_failure{"nnz = 0: nothing to multiply (" + std::to_string(w.rows()) + " x " +
                                       std::to_string(w.cols()) + " weight with no nonzero)"};
  return w;
}

/// A result holding the case's identity and its weight's shape.
template <class T>
case_result start_case_result(const case_spec& spec, const host_csr<T, int32_t>& w) {
  case_result res;
  res.name = spec.name;
  res.type = spec.type;
  res.set = spec.set;
  res.rows = w.rows();
  res.cols = w.cols();
  res.nnz = w.nnz();
  res.n = spec.n;
  res.sparsity = spec.from_file() ? 1.0 - w.density() : spec.sparsity;
  if (!spec.from_file()) {
    res.dist = paisparse::to_string(spec.dist);
    res.shape = std::to_string(w.rows()) + "x" + std::to_string(w.cols());
  }
  return res;
}

/// n values drawn uniformly from [-1, 1] (fixed seed).
template <class T>
std::vector<T> random_values(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<T> v(n);
  for (auto& e : v) e = from_float<T>(d(rng));
  return v;
}

/// 1.23e-04
inline std::string sci(double v) {
  std::ostringstream os;
  os << std::scientific << std::setprecision(2) << v;
  return os.str();
}

/// <prefix>_us, _p10_us, _p90_us (stream) and <prefix>_graph_us, ... (graph, when captured).
inline void set_timing_counters(benchmark::State& state, const std::string& prefix, const rotation_timing& t) {
  state.counters[prefix + "_us"] = t.stream.median;
  state.counters[prefix + "_p10_us"] = t.stream.p10;
  state.counters[prefix + "_p90_us"] = t.stream.p90;
  if (t.graph_ok) {
    state.counters[prefix + "_graph_us"] = t.graph.median;
    state.counters[prefix + "_graph_p10_us"] = t.graph.p10;
    state.counters[prefix + "_graph_p90_us"] = t.graph.p90;
  }
}

inline double graph_or_nan(const rotation_timing& t) { return t.graph_ok ? t.graph.median : NAN; }

/// state.counters[key] = num / den when both are finite and den > 0.
inline void set_ratio(benchmark::State& state, const char* key, double num, double den) {
  if (std::isfinite(num) && std::isfinite(den) && den > 0) state.counters[key] = num / den;
}

/// The counters every case derives from its result: speedups over cuSPARSE
/// and cuBLAS, the byte floor (floor_bytes at the device's copy rate, also
/// kept in res.floor_us) and the fraction of it reached, GB/s, the shape.
/// Returns paisparse's time in microseconds (graph replay when captured,
/// else stream), the case's reported time.
inline double set_derived_counters(benchmark::State& state, case_result& res, double floor_bytes, double copy_gbps,
                                   const rotation_timing& ps, bool hot_l2) {
  res.floor_us = floor_bytes / (copy_gbps * 1e3);
  const double ps_primary = ps.graph_ok ? ps.graph.median : ps.stream.median;
  set_ratio(state, "speedup_vs_cusparse", res.cusparse_graph_us, res.paisparse_graph_us);
  set_ratio(state, "speedup_vs_cusparse_stream", res.cusparse_us, res.paisparse_us);
  set_ratio(state, "speedup_vs_cublas", res.cublas_graph_us, res.paisparse_graph_us);
  set_ratio(state, "speedup_vs_cublas_stream", res.cublas_us, res.paisparse_us);
  state.counters["floor_us"] = res.floor_us;
  set_ratio(state, "floor_fraction", res.floor_us, ps_primary);
  set_ratio(state, "GB/s", floor_bytes / 1e3, ps_primary);  // floor bytes per paisparse call
  state.counters["copy_GBps"] = copy_gbps;
  state.counters["nnz"] = static_cast<double>(res.nnz);
  state.counters["rows"] = static_cast<double>(res.rows);
  state.counters["cols"] = static_cast<double>(res.cols);
  state.counters["N"] = static_cast<double>(res.n);
  state.counters["sparsity"] = res.sparsity;
  state.counters["hot_l2"] = hot_l2 ? 1 : 0;
  return ps_primary;
}

/// Ends a case: labels it with paisparse's configuration, reports
/// paisparse_us as the time of every iteration and records the result.
inline void report_case(benchmark::State& state, const case_result& res, double paisparse_us) {
  state.SetLabel(res.config);
  for (auto _ : state) state.SetIterationTime(paisparse_us * 1e-6);
  record_result(res);
}

/// Runs run_typed(T{}) with T the case's value type. A failure (case_failure
/// or any other exception) is printed and skips the case with its message.
template <class RunTyped>
void run_case(benchmark::State& state, const case_spec& spec, RunTyped run_typed) {
  std::string failure;
  try {
    switch (spec.type) {
      case value_kind::fp16: run_typed(__half{}); break;
      case value_kind::bf16: run_typed(__nv_bfloat16{}); break;
      case value_kind::fp32: run_typed(float{}); break;
    }
    return;
  } catch (const case_failure& f) {
    failure = f.message;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  cudaGetLastError();  // clear a non-sticky error before the next case
  std::cerr << "paisparse_bench: " << spec.name << ": " << failure << "\n";
  state.SkipWithError(failure.c_str());
}

}  // namespace paisparse::bench
