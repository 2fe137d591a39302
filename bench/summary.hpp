// paisparse benchmark: the end-of-run table and geomean speedups.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "options.hpp"

namespace paisparse::bench {

/// What one case measured (microseconds per call; NaN where not measured).
struct case_result {
  std::string name;
  value_kind type = value_kind::fp16;
  std::string set;
  double sparsity = 0;  // nominal for synthetic sets, measured for files
  int64_t rows = 0, cols = 0, nnz = 0, n = 1;
  std::string layout;   // SpMM: llm or row; empty for SpMV
  std::string dist;     // uniform, lognormal; empty for files
  std::string shape;    // "RxC" of synthetic weights; empty for files
  double paisparse_us = 0, paisparse_graph_us = 0;
  double cusparse_us = 0, cusparse_graph_us = 0;  // best cuSPARSE algorithm, same memory layout as paisparse
  double cublas_us = 0, cublas_graph_us = 0;
  double floor_us = 0;
  double tune_s = 0;
  std::string config;
};

/// Appends a finished case (the benchmarks call it).
void record_result(const case_result& r);

/// Prints one line per recorded case, geomean speedups per (type, sparsity,
/// N), and per (type, N, layout, row distribution) of the synthetic sets the
/// sparsity from which paisparse beats dense cuBLAS on every shape.
void print_summary(std::ostream& os, double copy_gbps);

}  // namespace paisparse::bench
