// paisparse benchmark: command-line flags and the list of cases they select.
//
// Flags are parsed (and removed from argv) before Google Benchmark sees the
// rest. Building the case list touches no CUDA API, so --help and
// --benchmark_list_tests work on machines without a GPU.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <paisparse/format/random.hpp>

namespace paisparse::bench {

enum class value_kind { fp16, bf16, fp32 };

const char* to_string(value_kind v);
int value_bytes(value_kind v);

/// Memory layout of the dense operands of an SpMM case, C = W B (W: M x K
/// CSR, B: K x N, C: M x N).
///   llm: what an LLM layer has, Y = X W^T with activations X (N tokens x K)
///        and outputs Y (N x M) row-major; in SpMM terms B = X^T and C = Y^T,
///        both column-major (ld K and ld M). The default.
///   row: B and C row-major (ld N).
enum class spmm_layout { llm, row };

const char* to_string(spmm_layout l);

/// One benchmark case: a weight (synthetic or read from a file), a value type
/// and a batch width n (1: SpMV; n > 1: SpMM with the dense operands in `layout`).
struct case_spec {
  std::string name;      // e.g. spmv/fp16/lognormal/12288x12288/s0.99, spmm/fp16/lognormal/12288x12288/s0.99/n32/llm
  std::string set;       // issue2, spmm, llm, dlmc, file
  value_kind type = value_kind::fp16;
  int64_t n = 1;
  spmm_layout layout = spmm_layout::llm;  // n > 1 only

  // synthetic weights (path empty)
  int64_t rows = 0, cols = 0;
  double sparsity = 0;
  row_distribution dist = row_distribution::lognormal;
  double sigma = 0.8;
  uint64_t seed = 0;

  // weights read from a .smtx file
  std::string path;      // absolute or as given
  std::string rel_path;  // relative to the DLMC folder (the case name's tail)

  bool from_file() const { return !path.empty(); }
  bool is_spmm() const { return n > 1; }
};

struct bench_options {
  std::string set;                   // issue2, spmm, llm, none; empty: issue2 unless --dlmc/--matrix are given
  std::string dlmc_dir;
  std::vector<std::string> matrices;
  std::vector<value_kind> types;     // empty: the set's own
  std::vector<double> sparsities;    // empty: the set's own
  std::vector<std::pair<int64_t, int64_t>> shapes;  // empty: the set's own
  std::vector<row_distribution> dists;              // empty: the set's own
  std::vector<int64_t> ns;           // batch widths N (1: SpMV); empty: the set's own
  std::vector<spmm_layout> layouts{spmm_layout::llm};  // layouts of the SpMM cases
  double sigma = 0.8;
  uint64_t seed = 2024;
  std::vector<int> cusparse_algs{1, 2};  // CSR SpMV algorithms timed (best reported)
  std::vector<int> cusparse_spmm_algs{0, 1, 2, 3};  // SpMM: 0 = CUSPARSE_SPMM_ALG_DEFAULT, k = CSR_ALGk
  bool cusparse_both_layouts = true; // SpMM: also time cuSPARSE with the other layout of B and C
  bool run_cublas = true;
  double tune_budget_s = 0;          // 0: no limit
  bool hot_l2 = false;
  double rotate_factor = 2.2;        // cold L2: bytes per rotation >= rotate_factor x L2
  int samples = 15;                  // timed samples per measurement (median, p10, p90)
  int min_launches = 20;             // launches per sample at least (a multiple of the copy count)
  double timing_cap_s = 2;           // per method and case: slow calls get fewer launches / samples (0: off)
  bool verbose = false;
  bool summary_to_stderr = false;    // set when Google Benchmark writes JSON/CSV to stdout
  bool list_only = false;            // --benchmark_list_tests was given
  bool help = false;
};

/// Parses and removes paisparse_bench's own flags from argv (Google
/// Benchmark's flags stay). Throws paisparse::error on a malformed value.
bench_options parse_options(int& argc, char** argv);

/// Prints paisparse_bench's own flags.
void print_usage(std::ostream& os);

/// The cases the options select, in a fixed order. Reads directory listings
/// (for --dlmc) but no matrix and no CUDA API.
std::vector<case_spec> build_cases(const bench_options& opt);

}  // namespace paisparse::bench
