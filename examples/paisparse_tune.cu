// paisparse-tune: tunes SpMV for one weight and prints the candidate table.
//
//   paisparse-tune --random 12288x12288 --sparsity 0.99 [--dist lognormal|uniform] [--sigma 0.8]
//   paisparse-tune --smtx FILE.smtx
//   common: [--type fp16|bf16|fp32] [--top N] [--filter SUBSTR] [--budget SECONDS]
//           [--index u16|i32|both] [--reps N] [--seed N]
#include <paisparse/paisparse.cuh>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

namespace {

void usage() {
  std::puts(
      "paisparse-tune: find the fastest SpMV configuration for a weight and print every candidate\n"
      "  --random RxC        synthetic weight of R rows and C columns (default 4096x4096)\n"
      "  --sparsity S        fraction of zeros for --random (default 0.99)\n"
      "  --dist D            lognormal (default) or uniform row densities\n"
      "  --sigma X           lognormal log-standard-deviation (default 0.8)\n"
      "  --smtx FILE         DLMC .smtx pattern instead (values uniform in [-1, 1], seeded)\n"
      "  --type T            fp16 (default), bf16 or fp32\n"
      "  --index K           u16, i32 or both (default)\n"
      "  --top N             print the N fastest candidates (default 20; 0 = all)\n"
      "  --filter SUBSTR     only configurations whose name contains SUBSTR\n"
      "  --budget SECONDS    stop the search after this long\n"
      "  --reps N            timed runs per candidate (default 9)\n"
      "  --seed N            seed of the synthetic weight (default 1)\n"
      "  --help              this text");
}

paisparse::host_csr<float> read_smtx(const std::string& path, uint64_t seed) {
  std::ifstream f(path);
  PAISPARSE_EXPECTS(f.good(), "--smtx: cannot open '" << path << "'");
  int64_t rows, cols, nnz;
  char c1, c2;
  f >> rows >> c1 >> cols >> c2 >> nnz;
  PAISPARSE_EXPECTS(f && c1 == ',' && c2 == ',', path << ": line 1 should be 'rows, cols, nnz'");
  std::vector<int32_t> off(static_cast<std::size_t>(rows) + 1), idx(static_cast<std::size_t>(nnz));
  for (auto& o : off) f >> o;
  for (auto& c : idx) f >> c;
  PAISPARSE_EXPECTS(f, path << ": truncated (expected " << rows + 1 << " offsets and " << nnz << " indices)");
  return paisparse::host_csr<float>(rows, cols, std::move(off), std::move(idx),
                                    paisparse::detail::random_vector<float>(static_cast<std::size_t>(nnz), seed));
}

template <class T>
int run(const paisparse::host_csr<float>& w32, const paisparse::tune_options& opt, std::size_t top) {
  const auto w = paisparse::convert_values<T>(w32);
  const auto st = paisparse::compute_row_stats(w);
  std::printf("weight %d x %d, nnz %d (density %.4f), rows: mean %.1f, cv %.2f, max %d, empty %d\n", w.rows(), w.cols(),
              w.nnz(), w.density(), st.mean, st.cv, st.max_row, st.empty_rows);
  auto res = paisparse::tune_spmv(w, opt);
  std::fprintf(stderr, "\n");
  res.print(std::cout, top);
  const double floor_bytes = static_cast<double>(paisparse::spmv_min_bytes(w.rows(), w.cols(), w.nnz(), sizeof(T), 2));
  std::printf("byte floor (16-bit indices) at 3.0 TB/s: %.2f us; best %.2f us\n", floor_bytes / 3.0e6,
              res.candidates[0].median_us);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string random = "4096x4096", smtx, type = "fp16", dist = "lognormal", index = "both";
  double sparsity = 0.99, sigma = 0.8;
  std::size_t top = 20;
  uint64_t seed = 1;
  paisparse::tune_options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      PAISPARSE_EXPECTS(i + 1 < argc, "option " << a << " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return usage(), 0;
    else if (a == "--random") random = next();
    else if (a == "--sparsity") sparsity = std::stod(next());
    else if (a == "--dist") dist = next();
    else if (a == "--sigma") sigma = std::stod(next());
    else if (a == "--smtx") smtx = next();
    else if (a == "--type") type = next();
    else if (a == "--index") index = next();
    else if (a == "--top") top = std::stoul(next());
    else if (a == "--filter") opt.filter = next();
    else if (a == "--budget") opt.time_budget_s = std::stod(next());
    else if (a == "--reps") opt.reps = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else PAISPARSE_FAIL("unknown option '" << a << "' (see --help)");
  }
  if (index == "u16") opt.index_kinds = {paisparse::index_kind::u16};
  else if (index == "i32") opt.index_kinds = {paisparse::index_kind::i32};
  else PAISPARSE_EXPECTS(index == "both", "--index " << index << ": expected u16, i32 or both");
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::fprintf(stderr, "paisparse-tune: no CUDA GPU found\n");
    return 1;
  }
  opt.on_progress = [](int done, int total, const std::string&) {
    if (done % 16 == 0 || done == total) std::fprintf(stderr, "\rtuning %d/%d", done, total);
  };
  paisparse::host_csr<float> w;
  if (!smtx.empty()) {
    w = read_smtx(smtx, seed);
  } else {
    const auto x = random.find('x');
    PAISPARSE_EXPECTS(x != std::string::npos, "--random " << random << ": expected RxC");
    PAISPARSE_EXPECTS(dist == "lognormal" || dist == "uniform", "--dist " << dist << ": expected lognormal or uniform");
    w = paisparse::random_csr<float>(std::stoll(random.substr(0, x)), std::stoll(random.substr(x + 1)), 1.0 - sparsity,
                                     dist == "uniform" ? paisparse::row_distribution::uniform
                                                       : paisparse::row_distribution::lognormal,
                                     sigma, seed);
  }
  if (type == "fp16") return run<__half>(w, opt, top);
  if (type == "bf16") return run<__nv_bfloat16>(w, opt, top);
  if (type == "fp32") return run<float>(w, opt, top);
  PAISPARSE_FAIL("--type " << type << ": expected fp16, bf16 or fp32");
} catch (const std::exception& e) {
  std::fprintf(stderr, "paisparse-tune: %s\n", e.what());
  return 1;
}
