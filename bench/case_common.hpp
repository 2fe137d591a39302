// paisparse benchmark: helpers shared by the SpMV and SpMM cases.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <paisparse/types.hpp>

#include "device.hpp"

namespace paisparse::bench {

/// Thrown to stop a case with a message for state.SkipWithError.
struct case_failure {
  std::string message;
};

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

}  // namespace paisparse::bench
