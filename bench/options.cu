// paisparse benchmark: flag parsing and case lists (host code only, no CUDA calls).
#include "options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>

#include <paisparse/error.hpp>

namespace paisparse::bench {

const char* to_string(value_kind v) {
  switch (v) {
    case value_kind::fp16: return "fp16";
    case value_kind::bf16: return "bf16";
    case value_kind::fp32: return "fp32";
  }
  return "?";
}

int value_bytes(value_kind v) { return v == value_kind::fp32 ? 4 : 2; }

const char* to_string(spmm_layout l) { return l == spmm_layout::llm ? "llm" : "row"; }

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  PAISPARSE_EXPECTS(!v.empty() && end && *end == '\0' && std::isfinite(d),
                    "--" << flag << "=" << v << ": '" << v << "' is not a number");
  return d;
}

int64_t parse_int(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long long i = std::strtoll(v.c_str(), &end, 10);
  PAISPARSE_EXPECTS(!v.empty() && end && *end == '\0', "--" << flag << "=" << v << ": '" << v << "' is not an integer");
  return i;
}

value_kind parse_type(const std::string& v) {
  if (v == "fp16" || v == "half" || v == "f16") return value_kind::fp16;
  if (v == "bf16" || v == "bfloat16") return value_kind::bf16;
  if (v == "fp32" || v == "float" || v == "f32") return value_kind::fp32;
  PAISPARSE_FAIL("--types: unknown value type '" << v << "', expected fp16, bf16 or fp32");
}

spmm_layout parse_layout(const std::string& v) {
  if (v == "llm" || v == "col" || v == "col_major") return spmm_layout::llm;
  if (v == "row" || v == "row_major") return spmm_layout::row;
  PAISPARSE_FAIL("--layouts: unknown layout '" << v << "', expected llm (B = X^T, C = Y^T column-major) or row");
}

int parse_spmm_alg(const std::string& v) {
  if (v == "default" || v == "0") return 0;
  if (v == "1" || v == "2" || v == "3") return v[0] - '0';
  PAISPARSE_FAIL("--cusparse_spmm_alg: '" << v << "' is not an algorithm, expected default, 1, 2, 3 or best");
}

row_distribution parse_dist(const std::string& v) {
  if (v == "uniform") return row_distribution::uniform;
  if (v == "lognormal") return row_distribution::lognormal;
  PAISPARSE_FAIL("--dists: unknown row distribution '" << v << "', expected uniform or lognormal");
}

std::string format_sparsity(double s) {
  std::ostringstream os;
  os << s;  // 0.9 -> "0.9", 0.99 -> "0.99"
  return os.str();
}

/// Stable per-pattern seed: the same weight pattern for every value type.
uint64_t pattern_seed(uint64_t base, int64_t rows, int64_t cols, double sparsity, row_distribution d) {
  uint64_t h = base ^ 0x9e3779b97f4a7c15ull;
  auto mix = [&](uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  };
  mix(static_cast<uint64_t>(rows));
  mix(static_cast<uint64_t>(cols));
  mix(static_cast<uint64_t>(std::llround(sparsity * 1e6)));
  mix(static_cast<uint64_t>(d));
  return h;
}

/// One block of a synthetic set: the cartesian product of its lists.
struct set_group {
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<double> sparsities;
  std::vector<row_distribution> dists;
  std::vector<value_kind> types;
  std::vector<int64_t> ns;  // 1: SpMV
};

/// The synthetic sets. issue2 (the default, what scripts/gpu_suite.sh runs)
/// is the issue-2 SpMV set plus a small SpMM subset, so that the default run
/// stays short; spmm is the issue-3 grid.
std::vector<set_group> groups_of(const std::string& set) {
  if (set == "issue2")
    return {{{{4096, 4096}, {11008, 4096}, {4096, 11008}, {12288, 12288}, {28672, 8192}, {49152, 12288}},
             {0.90, 0.99},
             {row_distribution::lognormal},
             {value_kind::fp16, value_kind::fp32},
             {1}},
            {{{12288, 12288}, {4096, 11008}},
             {0.90, 0.99},
             {row_distribution::lognormal},
             {value_kind::fp16},
             {8, 32, 128}}};
  if (set == "spmm")
    return {{{{4096, 4096}, {11008, 4096}, {4096, 11008}, {12288, 12288}, {28672, 8192}},
             {0.80, 0.90, 0.95, 0.99},
             {row_distribution::lognormal},
             {value_kind::fp16, value_kind::bf16},
             {8, 32, 128}}};
  if (set == "llm")
    return {{{{4096, 4096},
              {11008, 4096},
              {4096, 11008},
              {12288, 12288},
              {49152, 12288},
              {12288, 49152},
              {28672, 8192},
              {8192, 28672}},
             {0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99},
             {row_distribution::uniform, row_distribution::lognormal},
             {value_kind::fp16, value_kind::bf16, value_kind::fp32},
             {1, 8, 32, 128}}};
  PAISPARSE_FAIL("--set=" << set << ": unknown set, expected issue2, spmm, llm or none");
}

/// The name's tail of an SpMM case ("/n32/llm"); empty for SpMV.
std::string batch_suffix(int64_t n, spmm_layout l) {
  if (n <= 1) return "";
  return "/n" + std::to_string(n) + "/" + to_string(l);
}

std::string generic_path(const std::filesystem::path& p) { return p.generic_string(); }

std::string strip_smtx(std::string s) {
  const std::string ext = ".smtx";
  if (s.size() > ext.size() && s.compare(s.size() - ext.size(), ext.size(), ext) == 0) s.resize(s.size() - ext.size());
  return s;
}

}  // namespace

void print_usage(std::ostream& os) {
  os << "paisparse_bench: SpMV and SpMM of pruned weights, paisparse (tuned) vs cuSPARSE CSR vs dense cuBLAS\n"
        "\n"
        "Problem sets:\n"
        "  --set=issue2|spmm|llm|none  synthetic weights (default issue2 unless --dlmc/--matrix is given)\n"
        "                          issue2: SpMV (N = 1) on 4096x4096 11008x4096 4096x11008 12288x12288\n"
        "                                  28672x8192 49152x12288, sparsity 0.9 0.99, lognormal rows, fp16 fp32;\n"
        "                                  SpMM on 12288x12288 4096x11008, sparsity 0.9 0.99, fp16, N = 8 32 128\n"
        "                          spmm (or issue3): SpMM on 4096x4096 11008x4096 4096x11008 12288x12288\n"
        "                                  28672x8192, sparsity 0.8 0.9 0.95 0.99, lognormal rows, fp16 bf16,\n"
        "                                  N = 8 32 128\n"
        "                          llm: + 49152x12288 12288x49152 8192x28672, sparsity 0.5 0.7 0.8 0.9 0.95\n"
        "                               0.98 0.99, uniform and lognormal rows, fp16 bf16 fp32, N = 1 8 32 128\n"
        "  --dlmc=DIR              every .smtx file under DIR (recursively), fp16, values uniform in [-1, 1],\n"
        "                          N = 1 and 32\n"
        "  --matrix=FILE.smtx      one .smtx file (repeatable), N = 1 unless --n is given\n"
        "  --types=fp16,bf16,fp32  value types (replaces the set's; DLMC and --matrix default to fp16)\n"
        "  --sparsity=0.9,0.99     sparsities of the synthetic sets (replaces the set's)\n"
        "  --shapes=RxC,...        shapes of the synthetic sets, rows x cols (replaces the set's)\n"
        "  --dists=uniform,lognormal  row-length distributions of the synthetic sets (replaces the set's)\n"
        "  --n=1,8,32,128          batch widths N (replaces the set's): 1 is SpMV, N > 1 SpMM\n"
        "  --layouts=llm,row       layouts of B (K x N) and C (M x N) in the SpMM cases (default llm):\n"
        "                          llm: Y = X W^T with row-major activations X (N x K) and outputs Y (N x M),\n"
        "                               i.e. B = X^T and C = Y^T column-major; row: B and C row-major\n"
        "  --sigma=0.8             lognormal sigma of the row densities\n"
        "  --seed=2024             base seed of the synthetic weights, x and B\n"
        "Baselines and tuning:\n"
        "  --cusparse_alg=1|2|best cuSPARSE CSR SpMV algorithm timed (best: both, the faster is reported)\n"
        "  --cusparse_spmm_alg=default,1,2,3|best  cuSPARSE SpMM algorithms timed (CUSPARSE_SPMM_ALG_DEFAULT,\n"
        "                          CSR_ALG1..3; best: all, the fastest is reported)\n"
        "  --cusparse_layouts=both|same  SpMM: time cuSPARSE also with the other layout of B and C (both,\n"
        "                          default) or only with the case's (same memory as paisparse)\n"
        "  --no_cublas             skip the dense cuBLAS baseline\n"
        "  --tune_budget=SECONDS   stop the tuner starting new candidates after this long (default: no limit)\n"
        "Timing:\n"
        "  --hot_l2                do not rotate over copies (the weight may stay in L2)\n"
        "  --rotate_factor=2.2     cold L2: rotate over copies touching at least this many times the L2 size\n"
        "  --samples=15            timed samples per measurement (median, p10 and p90 reported)\n"
        "  --min_launches=20       launches per sample at least (rounded up to whole rotations)\n"
        "  --timing_cap=2          seconds one method's timing may take in a case: slower calls (cuSPARSE's\n"
        "                          slowest SpMM algorithms) get one rotation per sample and >= 5 samples (0: off)\n"
        "  --verbose               print the tuner's candidate table and progress to stderr\n"
        "\n"
        "Each case reports, in microseconds per call, stream launches and CUDA-graph replay for each method;\n"
        "the benchmark's own (manual) time is paisparse's graph time. The summary table and geomeans follow\n"
        "the run (on stderr when --benchmark_format=json|csv writes to stdout).\n"
        "\n"
        "Google Benchmark flags:\n";
}

bench_options parse_options(int& argc, char** argv) {
  bench_options opt;
  bool types_given = false;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value_of = [&](const char* name, std::string& v) {
      const std::string prefix = std::string("--") + name + "=";
      if (arg.compare(0, prefix.size(), prefix) == 0) {
        v = arg.substr(prefix.size());
        return true;
      }
      return false;
    };
    std::string v;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      opt.help = true;
      argv[out++] = const_cast<char*>("--help");  // Google Benchmark prints its part and exits
    } else if (value_of("set", v)) {
      PAISPARSE_EXPECTS(v == "issue2" || v == "spmm" || v == "issue3" || v == "llm" || v == "none",
                        "--set=" << v << ": expected issue2, spmm (issue3), llm or none");
      opt.set = v == "issue3" ? "spmm" : v;
    } else if (value_of("dlmc", v)) {
      PAISPARSE_EXPECTS(!v.empty(), "--dlmc= needs a folder");
      opt.dlmc_dir = v;
    } else if (value_of("matrix", v)) {
      PAISPARSE_EXPECTS(!v.empty(), "--matrix= needs a file");
      opt.matrices.push_back(v);
    } else if (value_of("types", v)) {
      opt.types.clear();
      for (const auto& t : split(v, ',')) opt.types.push_back(parse_type(t));
      PAISPARSE_EXPECTS(!opt.types.empty(), "--types= is empty");
      types_given = true;
    } else if (value_of("sparsity", v)) {
      opt.sparsities.clear();
      for (const auto& s : split(v, ',')) {
        const double d = parse_double("sparsity", s);
        PAISPARSE_EXPECTS(d >= 0 && d < 1, "--sparsity: " << s << " is outside [0, 1)");
        opt.sparsities.push_back(d);
      }
      PAISPARSE_EXPECTS(!opt.sparsities.empty(), "--sparsity= is empty");
    } else if (value_of("shapes", v)) {
      opt.shapes.clear();
      for (const auto& s : split(v, ',')) {
        const auto x = s.find_first_of("xX");
        PAISPARSE_EXPECTS(x != std::string::npos, "--shapes: '" << s << "' should be ROWSxCOLS, e.g. 4096x11008");
        const int64_t r = parse_int("shapes", s.substr(0, x)), c = parse_int("shapes", s.substr(x + 1));
        PAISPARSE_EXPECTS(r > 0 && c > 0 && r < (int64_t{1} << 31) && c < (int64_t{1} << 31),
                          "--shapes: '" << s << "' needs 0 < rows, cols < 2^31");
        opt.shapes.emplace_back(r, c);
      }
      PAISPARSE_EXPECTS(!opt.shapes.empty(), "--shapes= is empty");
    } else if (value_of("dists", v)) {
      opt.dists.clear();
      for (const auto& d : split(v, ',')) opt.dists.push_back(parse_dist(d));
      PAISPARSE_EXPECTS(!opt.dists.empty(), "--dists= is empty");
    } else if (value_of("n", v)) {
      opt.ns.clear();
      for (const auto& s : split(v, ',')) {
        const int64_t n = parse_int("n", s);
        PAISPARSE_EXPECTS(n >= 1 && n <= 65536, "--n: " << s << " is outside 1..65536");
        if (std::find(opt.ns.begin(), opt.ns.end(), n) == opt.ns.end()) opt.ns.push_back(n);
      }
      PAISPARSE_EXPECTS(!opt.ns.empty(), "--n= is empty");
    } else if (value_of("layouts", v)) {
      opt.layouts.clear();
      for (const auto& l : split(v, ',')) {
        const spmm_layout x = parse_layout(l);
        if (std::find(opt.layouts.begin(), opt.layouts.end(), x) == opt.layouts.end()) opt.layouts.push_back(x);
      }
      PAISPARSE_EXPECTS(!opt.layouts.empty(), "--layouts= is empty");
    } else if (value_of("cusparse_spmm_alg", v)) {
      opt.cusparse_spmm_algs.clear();
      if (v == "best" || v == "all") {
        opt.cusparse_spmm_algs = {0, 1, 2, 3};
      } else {
        for (const auto& a : split(v, ',')) {
          const int id = parse_spmm_alg(a);
          if (std::find(opt.cusparse_spmm_algs.begin(), opt.cusparse_spmm_algs.end(), id) ==
              opt.cusparse_spmm_algs.end())
            opt.cusparse_spmm_algs.push_back(id);
        }
      }
      PAISPARSE_EXPECTS(!opt.cusparse_spmm_algs.empty(), "--cusparse_spmm_alg= is empty");
    } else if (value_of("cusparse_layouts", v)) {
      PAISPARSE_EXPECTS(v == "both" || v == "same", "--cusparse_layouts=" << v << ": expected both or same");
      opt.cusparse_both_layouts = v == "both";
    } else if (value_of("sigma", v)) {
      opt.sigma = parse_double("sigma", v);
      PAISPARSE_EXPECTS(opt.sigma >= 0, "--sigma=" << v << ": expected >= 0");
    } else if (value_of("seed", v)) {
      opt.seed = static_cast<uint64_t>(parse_int("seed", v));
    } else if (value_of("cusparse_alg", v)) {
      if (v == "1") opt.cusparse_algs = {1};
      else if (v == "2") opt.cusparse_algs = {2};
      else if (v == "best" || v == "all") opt.cusparse_algs = {1, 2};
      else PAISPARSE_FAIL("--cusparse_alg=" << v << ": expected 1, 2 or best");
    } else if (arg == "--no_cublas") {
      opt.run_cublas = false;
    } else if (value_of("tune_budget", v)) {
      opt.tune_budget_s = parse_double("tune_budget", v);
      PAISPARSE_EXPECTS(opt.tune_budget_s >= 0, "--tune_budget=" << v << ": expected >= 0 seconds");
    } else if (arg == "--hot_l2" || arg == "--hot_l2=true" || arg == "--hot_l2=1") {
      opt.hot_l2 = true;
    } else if (arg == "--hot_l2=false" || arg == "--hot_l2=0") {
      opt.hot_l2 = false;
    } else if (value_of("rotate_factor", v)) {
      opt.rotate_factor = parse_double("rotate_factor", v);
      PAISPARSE_EXPECTS(opt.rotate_factor > 0, "--rotate_factor=" << v << ": expected > 0");
    } else if (value_of("samples", v)) {
      opt.samples = static_cast<int>(parse_int("samples", v));
      PAISPARSE_EXPECTS(opt.samples >= 1 && opt.samples <= 100000, "--samples=" << v << ": expected 1..100000");
    } else if (value_of("min_launches", v)) {
      opt.min_launches = static_cast<int>(parse_int("min_launches", v));
      PAISPARSE_EXPECTS(opt.min_launches >= 1 && opt.min_launches <= 1000000,
                        "--min_launches=" << v << ": expected 1..1000000");
    } else if (value_of("timing_cap", v)) {
      opt.timing_cap_s = parse_double("timing_cap", v);
      PAISPARSE_EXPECTS(opt.timing_cap_s >= 0, "--timing_cap=" << v << ": expected >= 0 seconds");
    } else if (arg == "--verbose" || arg == "-v") {
      opt.verbose = true;
    } else {
      // Google Benchmark's flag (or an unknown one it will report): keep it.
      if (arg == "--benchmark_list_tests" || arg == "--benchmark_list_tests=true" ||
          arg == "--benchmark_list_tests=1")
        opt.list_only = true;
      if (arg == "--benchmark_list_tests=false" || arg == "--benchmark_list_tests=0") opt.list_only = false;
      if (arg == "--benchmark_format=json" || arg == "--benchmark_format=csv") opt.summary_to_stderr = true;
      if (arg == "--benchmark_format=console") opt.summary_to_stderr = false;
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  if (!types_given) opt.types.clear();
  return opt;
}

std::vector<case_spec> build_cases(const bench_options& opt) {
  std::vector<case_spec> cases;
  const bool files = !opt.dlmc_dir.empty() || !opt.matrices.empty();
  const std::string set = opt.set.empty() ? (files ? "none" : "issue2") : opt.set;

  std::set<std::string> names;  // a case selected twice (overlapping groups after overrides) runs once
  auto add = [&](case_spec&& k) {
    if (names.insert(k.name).second) cases.push_back(std::move(k));
  };

  if (set != "none") {
    for (const set_group& d : groups_of(set)) {
      const auto& shapes = opt.shapes.empty() ? d.shapes : opt.shapes;
      const auto& sparsities = opt.sparsities.empty() ? d.sparsities : opt.sparsities;
      const auto& dists = opt.dists.empty() ? d.dists : opt.dists;
      const auto& types = opt.types.empty() ? d.types : opt.types;
      const auto& ns = opt.ns.empty() ? d.ns : opt.ns;
      for (value_kind t : types)
        for (row_distribution dist : dists)
          for (const auto& [r, c] : shapes)
            for (double s : sparsities)
              for (int64_t n : ns)
                for (spmm_layout l : opt.layouts) {
                  if (n == 1 && l != opt.layouts.front()) continue;  // SpMV has no layout
                  case_spec k;
                  k.set = set;
                  k.type = t;
                  k.n = n;
                  k.layout = l;
                  k.rows = r;
                  k.cols = c;
                  k.sparsity = s;
                  k.dist = dist;
                  k.sigma = opt.sigma;
                  k.seed = pattern_seed(opt.seed, r, c, s, dist);
                  std::ostringstream name;
                  name << (n > 1 ? "spmm/" : "spmv/") << to_string(t) << '/' << paisparse::to_string(dist) << '/'
                       << r << 'x' << c << "/s" << format_sparsity(s) << batch_suffix(n, l);
                  k.name = name.str();
                  add(std::move(k));
                }
    }
  }

  const std::vector<value_kind> file_types = opt.types.empty() ? std::vector<value_kind>{value_kind::fp16} : opt.types;
  // One case per (file, type, N, layout); SpMV (N = 1) has no layout.
  auto add_file_cases = [&](const case_spec& base, const std::string& kind, const std::vector<int64_t>& ns) {
    for (int64_t n : ns)
      for (spmm_layout l : opt.layouts) {
        if (n == 1 && l != opt.layouts.front()) continue;
        case_spec k = base;
        k.n = n;
        k.layout = l;
        k.name = std::string(n > 1 ? "spmm/" : "spmv/") + to_string(k.type) + "/" + kind + "/" +
                 strip_smtx(k.rel_path) + batch_suffix(n, l);
        add(std::move(k));
      }
  };
  if (!opt.dlmc_dir.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path root(opt.dlmc_dir);
    PAISPARSE_EXPECTS(fs::is_directory(root, ec), "--dlmc=" << opt.dlmc_dir << ": not a folder");
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().extension() == ".smtx") found.push_back(it->path());
    }
    PAISPARSE_EXPECTS(!ec, "--dlmc=" << opt.dlmc_dir << ": cannot list: " << ec.message());
    PAISPARSE_EXPECTS(!found.empty(), "--dlmc=" << opt.dlmc_dir << ": no .smtx file found");
    std::sort(found.begin(), found.end());
    // N = 1 for every matrix first, then N = 32 (issue 4): a run cut short still has the SpMV set.
    const std::vector<int64_t> dlmc_ns = opt.ns.empty() ? std::vector<int64_t>{1, 32} : opt.ns;
    for (int64_t n : dlmc_ns)
      for (value_kind t : file_types)
        for (const auto& p : found) {
          case_spec k;
          k.set = "dlmc";
          k.type = t;
          k.path = p.string();
          k.rel_path = generic_path(p.lexically_relative(root));
          k.seed = opt.seed;
          add_file_cases(k, "dlmc", {n});
        }
  }
  const std::vector<int64_t> file_ns = opt.ns.empty() ? std::vector<int64_t>{1} : opt.ns;
  for (const auto& m : opt.matrices) {
    for (value_kind t : file_types) {
      case_spec k;
      k.set = "file";
      k.type = t;
      k.path = m;
      k.rel_path = std::filesystem::path(m).filename().generic_string();
      k.seed = opt.seed;
      add_file_cases(k, "file", file_ns);
    }
  }
  return cases;
}

}  // namespace paisparse::bench
