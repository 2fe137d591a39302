// paisparse-tune: tunes SpMV (N = 1) and SpMM (N > 1) plans for a weight
// file, prints each candidate table next to cuSPARSE and the byte floor,
// and writes the plans (a plan cache directory, or files).
//
//   paisparse-tune WEIGHT.{mtx,smtx,npy} [--type fp16|bf16|fp32] [--n 1,8,32]
//                  [--budget S] [--cache DIR | --out FILE] [--layout col,col] ...
//   paisparse-tune --random 12288x12288 --sparsity 0.99 ...
//   paisparse-tune --help        (needs no GPU)
#include <paisparse/paisparse.cuh>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cusparse_baseline.cuh"
#include "example_cli.hpp"

namespace {

const char* const usage_text =
    "paisparse-tune: find the fastest SpMV / SpMM kernel configuration for one weight, print\n"
    "every candidate (time, GB/s, fraction of the byte floor, speedup over cuSPARSE) and\n"
    "save the plan, so programs load it instead of tuning (see the README, \"Plan files\").\n"
    "\n"
    "usage: paisparse-tune WEIGHT [options]        WEIGHT: .mtx, .smtx or .npy (docs/IO.md)\n"
    "       paisparse-tune --random RxC [options]  a synthetic weight instead\n"
    "\n"
    "  --type T          value type: fp16 (default), bf16 or fp32\n"
    "  --n LIST          comma-separated N (default 1): N = 1 tunes SpMV, N > 1 tunes an\n"
    "                    SpMM plan that runs any N up to it\n"
    "  --layout B,C      SpMM layouts of B (K x N) and C (M x N): col or row each\n"
    "                    (default col,col: the LLM layer Y = X W^T, see tuning/spmm_plan.cuh)\n"
    "  --budget SECONDS  stop each search after this long (the best so far wins)\n"
    "  --cache DIR       save each plan into the plan cache directory DIR (plan_cache)\n"
    "  --out FILE        save the plan to FILE; with several N, FILE.n<N>.json each\n"
    "  --sparsity S      .npy: prune by magnitude to this fraction of zeros (default: keep\n"
    "                    the nonzeros); --random: fraction of zeros (default 0.99)\n"
    "  --seed N          seed of the values of .smtx and pattern .mtx files, and of --random\n"
    "                    (default 1)\n"
    "  --random RxC      synthetic weight of R rows and C columns (random_csr)\n"
    "  --dist D          --random row lengths: lognormal (default) or uniform\n"
    "  --sigma X         --random lognormal log-standard-deviation (default 0.8)\n"
    "  --top N           table rows to print (default 20; 0 = all)\n"
    "  --filter SUBSTR   only configurations whose name contains SUBSTR\n"
    "  --index K         column index types tried: u16, i32 or both (default)\n"
    "  --reps N          timed runs per candidate (default 9)\n"
    "  --no-cusparse     do not time cuSPARSE\n"
    "  --help            this text\n"
    "\n"
    "examples:\n"
    "  paisparse-tune data/transformer/magnitude_pruning/0.9/body_decoder_layer_0_ffn_1.smtx \\\n"
    "      --n 1,8,32 --budget 20 --cache plans\n"
    "  paisparse-tune layer0.npy --sparsity 0.95 --type bf16 --out layer0.plan.json\n";

struct cli {
  std::string weight, random, dist = "lognormal", type = "fp16", index = "both", cache, out, filter;
  std::vector<int32_t> ns{1};
  paisparse::spmm_layouts layouts;
  std::optional<double> sparsity;
  double sigma = 0.8, budget = 0;
  uint64_t seed = 1;
  std::size_t top = 20;
  int reps = 9;
  bool cusparse = true;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, sep)) out.push_back(cur);
  return out;
}

double parse_double(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  PAISPARSE_EXPECTS(!v.empty() && end && *end == '\0', opt << " " << v << ": expected a number");
  return d;
}

int64_t parse_int(const std::string& opt, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  PAISPARSE_EXPECTS(!v.empty() && end && *end == '\0' && x >= lo && x <= hi,
                    opt << " " << v << ": expected an integer in " << lo << ".." << hi);
  return x;
}

cli parse_args(int argc, char** argv, bool& help) {
  cli c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    const std::size_t eq = a.find('=');
    const bool has_eq = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_eq) v = a.substr(eq + 1), a = a.substr(0, eq);
    auto value = [&]() -> std::string {
      if (has_eq) return v;
      PAISPARSE_EXPECTS(i + 1 < argc, "option " << a << " needs a value (see --help)");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      help = true;
      return c;
    } else if (a == "--type") {
      c.type = value();
      PAISPARSE_EXPECTS(c.type == "fp16" || c.type == "bf16" || c.type == "fp32",
                        "--type " << c.type << ": expected fp16, bf16 or fp32");
    } else if (a == "--n") {
      c.ns.clear();
      const std::string list = value();
      for (const std::string& s : split(list, ',')) c.ns.push_back(static_cast<int32_t>(parse_int("--n", s, 1, 1 << 20)));
      PAISPARSE_EXPECTS(!c.ns.empty(), "--n " << list << ": expected a list such as 1,8,32");
    } else if (a == "--layout") {
      const std::string l = value();
      const auto f = split(l, ',');
      auto layout = [&](const std::string& s) {
        PAISPARSE_EXPECTS(s == "col" || s == "row", "--layout " << l << ": expected B,C with each col or row, e.g. col,col");
        return s == "col" ? paisparse::dense_layout::col_major : paisparse::dense_layout::row_major;
      };
      PAISPARSE_EXPECTS(f.size() == 2, "--layout " << l << ": expected B,C with each col or row, e.g. col,col");
      c.layouts.b = layout(f[0]);
      c.layouts.c = layout(f[1]);
    } else if (a == "--budget") {
      c.budget = parse_double(a, value());
      PAISPARSE_EXPECTS(c.budget >= 0, "--budget: expected seconds >= 0");
    } else if (a == "--cache") {
      c.cache = value();
    } else if (a == "--out") {
      c.out = value();
    } else if (a == "--sparsity") {
      c.sparsity = parse_double(a, value());
      PAISPARSE_EXPECTS(*c.sparsity >= 0 && *c.sparsity <= 1, "--sparsity " << *c.sparsity << ": expected 0..1");
    } else if (a == "--seed") {
      c.seed = static_cast<uint64_t>(parse_int(a, value(), 0, INT64_MAX));
    } else if (a == "--random") {
      c.random = value();
    } else if (a == "--dist") {
      c.dist = value();
      PAISPARSE_EXPECTS(c.dist == "lognormal" || c.dist == "uniform", "--dist " << c.dist << ": expected lognormal or uniform");
    } else if (a == "--sigma") {
      c.sigma = parse_double(a, value());
    } else if (a == "--top") {
      c.top = static_cast<std::size_t>(parse_int(a, value(), 0, INT32_MAX));
    } else if (a == "--filter") {
      c.filter = value();
    } else if (a == "--index") {
      c.index = value();
      PAISPARSE_EXPECTS(c.index == "u16" || c.index == "i32" || c.index == "both",
                        "--index " << c.index << ": expected u16, i32 or both");
    } else if (a == "--reps") {
      c.reps = static_cast<int>(parse_int(a, value(), 1, 100000));
    } else if (a == "--no-cusparse") {
      c.cusparse = false;
    } else if (a.rfind("-", 0) == 0) {
      PAISPARSE_FAIL("unknown option '" << a << "' (see --help)");
    } else {
      PAISPARSE_EXPECTS(c.weight.empty(), "two weight files given ('" << c.weight << "' and '" << a
                                                                       << "'); tune one weight per run");
      c.weight = a;
    }
  }
  PAISPARSE_EXPECTS(c.weight.empty() != c.random.empty(),
                    (c.weight.empty() ? "no weight: give a .mtx, .smtx or .npy file, or --random RxC (see --help)"
                                      : "give a weight file or --random, not both"));
  PAISPARSE_EXPECTS(c.cache.empty() || c.out.empty(), "give --cache DIR or --out FILE, not both");
  if (!c.weight.empty()) paisparse::weight_format_of(c.weight);  // an unsupported extension fails now
  return c;
}

/// A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise.
class progress_bar {
 public:
  explicit progress_bar(std::string what) : what_(std::move(what)), tty_(isatty(2) != 0) {}
  void operator()(int done, int total, const std::string& name) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (tty_) {
      const int width = 30, fill = total > 0 ? width * done / total : width;
      std::fprintf(stderr, "\r%s [%s%s] %d/%d %5.1f s  %-46s", what_.c_str(), std::string(fill, '#').c_str(),
                   std::string(width - fill, '.').c_str(), done, total, s, name.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    } else {
      const int decile = total > 0 ? 10 * done / total : 10;
      if (decile > last_decile_ || done == total) {
        last_decile_ = decile;
        std::fprintf(stderr, "%s: %3d%% (%d/%d candidates, %.1f s)\n", what_.c_str(), total ? 100 * done / total : 100,
                     done, total, s);
      }
    }
    std::fflush(stderr);
  }

 private:
  std::string what_;
  bool tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

/// One row of the printed table, for SpMV and SpMM candidates alike.
struct table_row {
  std::string name;
  paisparse::candidate_status status;
  double median_us, gbps, rel_err;
  std::string message;
};

void print_table(const std::vector<table_row>& rows, std::size_t top, double floor_us,
                 const paisparse::examples::baseline_result& cs) {
  std::size_t width = 8;
  for (const auto& r : rows) width = std::max(width, r.name.size());
  std::printf("  %4s  %-*s %10s %8s %7s %11s %9s  %s\n", "rank", static_cast<int>(width), "config", "median_us", "GB/s",
              "floor", "vs_cuSPARSE", "rel_err", "status");
  std::size_t shown = 0;
  for (const auto& r : rows) {
    if (top && shown >= top) break;
    ++shown;
    if (r.status == paisparse::candidate_status::ok) {
      char speed[32] = "-";
      if (cs.available && r.median_us > 0) std::snprintf(speed, sizeof speed, "%.2fx", cs.median_us / r.median_us);
      std::printf("  %4zu  %-*s %10.2f %8.0f %6.0f%% %11s %9.1e  ok\n", shown, static_cast<int>(width), r.name.c_str(),
                  r.median_us, r.gbps, r.median_us > 0 ? 100 * floor_us / r.median_us : 0.0, speed, r.rel_err);
    } else {
      std::printf("  %4zu  %-*s %10s %8s %7s %11s %9.1e  %s%s%s\n", shown, static_cast<int>(width), r.name.c_str(), "-",
                  "-", "-", "-", r.rel_err, paisparse::to_string(r.status), r.message.empty() ? "" : ": ",
                  r.message.c_str());
    }
  }
  if (rows.size() > shown) std::printf("  ... %zu more (--top 0 prints all)\n", rows.size() - shown);
}

std::string out_path(const cli& c, int32_t n) {
  if (c.ns.size() == 1) return c.out;
  const std::size_t dot = c.out.rfind('.');
  const std::size_t slash = c.out.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  const std::string stem = has_ext ? c.out.substr(0, dot) : c.out;
  return stem + ".n" + std::to_string(n) + (has_ext ? c.out.substr(dot) : std::string(".json"));
}

template <class T>
int run(const cli& c, const paisparse::host_csr<float>& w32) {
  using namespace paisparse;
  const host_csr<T> w = convert_values<T>(w32);
  const row_stats st = compute_row_stats(w);
  const gpu_identity gpu = current_gpu_identity();
  std::printf("weight %s: %d x %d, nnz %d (%.2f%% zeros), %s; rows: mean %.1f, cv %.2f, max %d, empty %d\n",
              c.weight.empty() ? ("random " + c.random).c_str() : c.weight.c_str(), w.rows(), w.cols(), w.nnz(),
              100 * (1 - w.density()), value_type_name<T>(), st.mean, st.cv, st.max_row, st.empty_rows);
  const double copy_gbps = examples::copy_bandwidth_gbps();
  std::printf("GPU %s (sm_%d%d), device copy bandwidth %.0f GB/s (prices the byte floor)\n", gpu.name.c_str(),
              gpu.cc_major, gpu.cc_minor, copy_gbps);

  tune_options opt;
  opt.filter = c.filter;
  opt.time_budget_s = c.budget;
  opt.reps = c.reps;
  if (c.index == "u16") opt.index_kinds = {index_kind::u16};
  else if (c.index == "i32") opt.index_kinds = {index_kind::i32};
  std::optional<plan_cache> cache;
  if (!c.cache.empty()) cache.emplace(c.cache);

  for (const int32_t n : c.ns) {
    std::printf("\n== %s, N = %d%s\n", n == 1 ? "SpMV" : "SpMM", n,
                n == 1 ? ""
                       : (std::string(", B ") + to_string(c.layouts.b) + ", C " + to_string(c.layouts.c)).c_str());
    std::fflush(stdout);  // what was printed so far comes before the progress lines
    progress_bar bar(n == 1 ? "tuning spmv" : "tuning spmm n=" + std::to_string(n));
    opt.on_progress = [&bar](int done, int total, const std::string& name) { bar(done, total, name); };
    std::vector<table_row> rows;
    std::string best_name, saved;
    double seconds = 0, floor_bytes = 0;
    bool budget_hit = false;
    examples::baseline_result cs;
    if (n == 1) {
      spmv_tune_result<T> r = tune_spmv(w, opt);
      for (const auto& k : r.candidates)
        rows.push_back({k.config.name(), k.status, k.median_us, k.gbps, k.rel_err, k.message});
      best_name = r.plan.name();
      seconds = r.seconds;
      budget_hit = r.budget_exhausted;
      floor_bytes = static_cast<double>(spmv_min_bytes(w.rows(), w.cols(), w.nnz(), sizeof(T), 2));
      if (c.cusparse) cs = examples::time_cusparse_spmv(w, opt.warmup, opt.reps);
      if (cache) saved = cache->store(w, r);
      else if (!c.out.empty()) save_spmv_plan(saved = out_path(c, n), w, r);
    } else {
      spmm_tune_result<T> r = tune_spmm(w, n, c.layouts, opt);
      for (const auto& k : r.candidates)
        rows.push_back({k.config.name(), k.status, k.median_us, k.gbps, k.rel_err, k.message});
      best_name = r.plan.name();
      seconds = r.seconds;
      budget_hit = r.budget_exhausted;
      floor_bytes = static_cast<double>(spmm_min_bytes(w.rows(), w.cols(), w.nnz(), n, sizeof(T), 2));
      if (c.cusparse) cs = examples::time_cusparse_spmm(w, n, c.layouts.b, c.layouts.c, opt.warmup, opt.reps);
      if (cache) saved = cache->store(w, r);
      else if (!c.out.empty()) save_spmm_plan(saved = out_path(c, n), w, r);
    }
    const double floor_us = copy_gbps > 0 ? floor_bytes / (copy_gbps * 1e3) : 0;
    const std::size_t ok = static_cast<std::size_t>(std::count_if(
        rows.begin(), rows.end(), [](const table_row& r) { return r.status == candidate_status::ok; }));
    std::printf("%zu candidates (%zu passed the check) in %.1f s%s\n", rows.size(), ok, seconds,
                budget_hit ? ", time budget reached: search stopped early" : "");
    std::printf("byte floor (16-bit indices, %.0f GB/s): %.2f us; ", copy_gbps, floor_us);
    if (!c.cusparse) std::printf("cuSPARSE not timed (--no-cusparse)\n");
    else if (cs.available)
      std::printf("cuSPARSE CSR %s (default algorithm): %.2f us, rel_err %.1e\n", n == 1 ? "SpMV" : "SpMM",
                  cs.median_us, cs.rel_err);
    else std::printf("cuSPARSE: not available: %s\n", cs.why_not.c_str());
    print_table(rows, c.top, floor_us, cs);
    const table_row& best = rows.front();
    std::printf("best: %s, %.2f us, %.0f GB/s, %.0f%% of the byte floor", best_name.c_str(), best.median_us, best.gbps,
                best.median_us > 0 ? 100 * floor_us / best.median_us : 0.0);
    if (cs.available && best.median_us > 0) std::printf(", %.2fx cuSPARSE", cs.median_us / best.median_us);
    std::printf("\n");
    if (!saved.empty()) std::printf("plan saved: %s\n", saved.c_str());
    else std::printf("plan not saved (give --cache DIR or --out FILE)\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  bool help = false;
  const cli c = parse_args(argc, argv, help);
  if (help) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (const char* why = paisparse::examples::missing_gpu()) {
    std::fprintf(stderr, "paisparse-tune: no CUDA GPU found (%s); tuning measures kernels on the GPU that will run them\n",
                 why);
    return 1;
  }
  paisparse::host_csr<float> w;
  if (!c.weight.empty()) {
    paisparse::weight_read_options ro;
    ro.seed = c.seed;
    ro.sparsity = c.sparsity;
    w = paisparse::read_weight(c.weight, ro);
  } else {
    const auto x = c.random.find('x');
    PAISPARSE_EXPECTS(x != std::string::npos, "--random " << c.random << ": expected RxC, e.g. 4096x4096");
    const int64_t rows = parse_int("--random", c.random.substr(0, x), 1, INT32_MAX);
    const int64_t cols = parse_int("--random", c.random.substr(x + 1), 1, INT32_MAX);
    w = paisparse::random_csr<float>(rows, cols, 1.0 - c.sparsity.value_or(0.99),
                                     c.dist == "uniform" ? paisparse::row_distribution::uniform
                                                         : paisparse::row_distribution::lognormal,
                                     c.sigma, c.seed);
  }
  return paisparse::examples::with_value_type(c.type, [&](auto zero) { return run<decltype(zero)>(c, w); });
} catch (const std::exception& e) {
  std::fprintf(stderr, "paisparse-tune: %s\n", e.what());
  return 1;
}
