// paisparse example 2: load a weight file, get its plans from a plan cache
// (tuned on the first start, loaded on the next), run SpMV and SpMM, check
// both against a float64 CPU reference and time them.
//
//   load_and_run [WEIGHT.{mtx,smtx,npy}] [--cache DIR] [--n N] [--type fp16|bf16|fp32]
//                [--sparsity S] [--seed N] [--budget SECONDS]
//
// Without a weight file it writes a 4096 x 4096 float32 .npy of random
// values to the temporary directory first and magnitude-prunes it to 90%.
// Exit status: 0 both results match the reference, 2 a mismatch, 1 an
// error, 3 --expect-cached and a plan was tuned, 77 no GPU (a test harness
// reports it as skipped).
#include <paisparse/paisparse.cuh>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "example_cli.hpp"

namespace {

struct options {
  std::string weight, cache, type = "fp16";
  std::optional<double> sparsity;
  uint64_t seed = 1;
  int32_t n = 8;
  double budget = 20;
  bool expect_cached = false;
};

const char* const usage_text =
    "load_and_run: load a weight, get SpMV and SpMM plans from a plan cache (tune on the first\n"
    "start, load on the next), run both and check them against a float64 CPU reference.\n"
    "\n"
    "usage: load_and_run [WEIGHT] [options]   WEIGHT: .mtx, .smtx or .npy (default: a random\n"
    "                                         4096 x 4096 .npy written to the temp directory,\n"
    "                                         pruned to --sparsity 0.9)\n"
    "  --cache DIR       plan cache directory (default: <temp>/paisparse-plans)\n"
    "  --n N             SpMM columns (tokens), default 8\n"
    "  --type T          fp16 (default), bf16 or fp32\n"
    "  --sparsity S      .npy: magnitude-prune to this fraction of zeros\n"
    "  --seed N          values of .smtx and pattern .mtx files (default 1)\n"
    "  --budget SECONDS  time budget of each tuning on a cache miss (default 20)\n"
    "  --expect-cached   exit 3 unless both plans came from the cache (a test of the cache)\n";

options parse(int argc, char** argv, bool& help) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      PAISPARSE_EXPECTS(i + 1 < argc, "option " << a << " needs a value (see --help)");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") help = true;
    else if (a == "--cache") o.cache = value();
    else if (a == "--n") o.n = std::stoi(value());
    else if (a == "--type") o.type = value();
    else if (a == "--sparsity") o.sparsity = std::stod(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--budget") o.budget = std::stod(value());
    else if (a == "--expect-cached") o.expect_cached = true;
    else if (a.rfind("-", 0) == 0) PAISPARSE_FAIL("unknown option '" << a << "' (see --help)");
    else o.weight = a;
  }
  PAISPARSE_EXPECTS(o.n >= 1, "--n " << o.n << ": expected >= 1");
  PAISPARSE_EXPECTS(o.type == "fp16" || o.type == "bf16" || o.type == "fp32",
                    "--type " << o.type << ": expected fp16, bf16 or fp32");
  return o;
}

/// The default weight: a random 4096 x 4096 float32 array saved as .npy
/// (values from a fixed seed, so every start writes the same file).
std::string write_default_weight() {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "paisparse-example";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "weight_4096x4096.npy").string();
  const int64_t rows = 4096, cols = 4096;
  std::vector<float> dense(static_cast<std::size_t>(rows * cols));
  std::mt19937_64 rng(42);
  for (auto& v : dense) v = static_cast<float>(static_cast<double>(rng() >> 40) * 0x1p-24 * 2.0 - 1.0) * 0.05f;
  paisparse::write_npy(path, dense.data(), rows, cols);
  return path;
}

void print_lookup(const char* what, const paisparse::plan_lookup& lk, const std::string& config) {
  if (lk.hit)
    std::printf("%s plan: loaded from the cache in %.1f ms: %s\n  %s\n  (tuned %s in %.1f s: %.2f us)\n", what,
                1e3 * lk.seconds, config.c_str(), lk.path.c_str(), lk.record.info.tuned_at.c_str(),
                lk.record.info.tune_seconds, lk.record.info.median_us);
  else
    std::printf("%s plan: tuned (%s) in %.1f s: %s, %.2f us, %lld candidates%s\n  saved to %s\n", what,
                lk.reason.c_str(), lk.seconds, config.c_str(), lk.record.info.median_us,
                static_cast<long long>(lk.record.info.candidates),
                lk.record.info.budget_exhausted ? " (time budget reached)" : "", lk.path.c_str());
}

template <class T>
int run(const options& o, const paisparse::host_csr<float>& w32) {
  using namespace paisparse;
  const host_csr<T> w = convert_values<T>(w32);
  const std::string cache_dir =
      o.cache.empty() ? (std::filesystem::temp_directory_path() / "paisparse-plans").string() : o.cache;
  std::printf("weight %d x %d, nnz %d (%.1f%% zeros), %s; plan cache %s\n", w.rows(), w.cols(), w.nnz(),
              100 * (1 - w.density()), value_type_name<T>(), cache_dir.c_str());

  plan_cache cache(cache_dir);
  tune_options opt;
  opt.time_budget_s = o.budget;
  l2_flusher flusher;
  bool ok = true;

  // SpMV: y = W x
  const spmv_plan<T> spmv = cache.spmv(w, opt);
  print_lookup("SpMV", cache.last(), spmv.name());
  bool all_hits = cache.last().hit;
  {
    const std::vector<T> x = detail::random_vector<T>(static_cast<std::size_t>(w.cols()), 7);
    device_buffer<T> dx(x), dy(static_cast<std::size_t>(w.rows()));
    PAISPARSE_CUDA_TRY(cudaMemset(dy.data(), 0xff, dy.size() * sizeof(T)));  // poisoned: NaN in every type
    spmv.run({dx.data(), dx.size()}, {dy.data(), dy.size()});
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    const double err = relative_error(dy.to_host(), spmv_reference(w, x));
    const bool pass = err <= relative_tolerance<T>();
    ok &= pass;
    const timing_stats t = time_launches_in_graph(
        [&](cudaStream_t s) { spmv.run({dx.data(), dx.size()}, {dy.data(), dy.size()}, {}, s); }, nullptr, 3, 25,
        &flusher);
    std::printf("  SpMV: rel_err %.1e vs float64 (%s), %.2f us (median, cold L2), weight %.2f MB\n", err,
                pass ? "ok" : "MISMATCH", t.median, spmv.weight_bytes() / 1e6);
  }

  // SpMM: C = W B for N tokens, B (K x N) and C (M x N) column-major: Y = X W^T
  const int32_t n = o.n;
  const spmm_plan<T> spmm = cache.spmm(w, n, {}, opt);
  print_lookup("SpMM", cache.last(), spmm.name());
  all_hits &= cache.last().hit;
  {
    const int64_t K = w.cols(), M = w.rows();
    const std::vector<T> b = detail::random_vector<T>(static_cast<std::size_t>(K * n), 8);
    device_buffer<T> db(b), dc(static_cast<std::size_t>(M * n));
    PAISPARSE_CUDA_TRY(cudaMemset(dc.data(), 0xff, dc.size() * sizeof(T)));
    const auto bv = col_major_view<const T>(db.data(), db.size(), K);
    const auto cv = col_major_view<T>(dc.data(), dc.size(), M);
    spmm.run(bv, cv, n);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
    const reference_result ref = spmm_reference(w, host_dense_ref<T>{&b, dense_layout::col_major, K}, n);
    const double err = relative_error(compact_row_major(dc.to_host(), M, n, M, dense_layout::col_major), ref);
    const bool pass = err <= relative_tolerance<T>();
    ok &= pass;
    const timing_stats t =
        time_launches_in_graph([&](cudaStream_t s) { spmm.run(bv, cv, n, {}, s); }, nullptr, 3, 25, &flusher);
    std::printf("  SpMM N=%d: rel_err %.1e vs float64 (%s), %.2f us (median, cold L2), %.2f us per token\n", n, err,
                pass ? "ok" : "MISMATCH", t.median, t.median / n);
  }
  std::printf("%s\n", ok ? "both results match the float64 reference" : "MISMATCH against the float64 reference");
  if (!ok) return 2;
  if (o.expect_cached && !all_hits) {
    std::printf("--expect-cached: a plan was tuned, not loaded from the cache\n");
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  bool help = false;
  const options o = parse(argc, argv, help);
  if (help) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (const char* why = paisparse::examples::missing_gpu()) {
    std::printf("load_and_run SKIPPED: no CUDA GPU (%s); it tunes and runs kernels on the GPU.\n", why);
    return 77;
  }
  paisparse::weight_read_options ro;
  ro.seed = o.seed;
  ro.sparsity = o.sparsity;
  std::string path = o.weight;
  if (path.empty()) {
    path = write_default_weight();
    if (!ro.sparsity) ro.sparsity = 0.9;
    std::printf("no weight file given: wrote %s (random 4096 x 4096 float32), pruning to %.0f%%\n", path.c_str(),
                100 * *ro.sparsity);
  }
  const paisparse::host_csr<float> w = paisparse::read_weight(path, ro);
  return paisparse::examples::with_value_type(o.type, [&](auto zero) { return run<decltype(zero)>(o, w); });
} catch (const std::exception& e) {
  std::fprintf(stderr, "load_and_run: %s\n", e.what());
  return 1;
}
