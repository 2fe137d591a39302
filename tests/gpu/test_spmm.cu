// GPU tests of SpMM: every configuration of the space on the matrix set (and
// on DLMC when PAISPARSE_DLMC_DIR is set), the epilog, plans and the N rule,
// graph capture, the LLM recipe, the tuner, edge cases and bad input; fp32,
// fp16 and bf16; float64 references; outputs poisoned before each run, and
// the ld padding of C checked untouched.
//
// Coverage of the candidate sweep (SpmmEveryCandidate.MatrixSet), chosen to
// stay well under 3 minutes on an H100:
// - the candidates are the whole space for all four layout pairs (Br, Bt, Bc
//   x Cr, Cc; both index kinds; every cap and order), N not pruned;
// - every candidate runs on every matrix of ptest::matrix_set() in every
//   value type, each time with one N of {1, 2, 3, 8, 17, 32, 64, 128, 256}
//   and one leading-dimension variant (tight; +8, which keeps 16-byte rows;
//   +1, odd, which turns the vector path off), chosen by rotation: candidate
//   i on matrix j in type t gets N number (i + j + 3t) mod 9. So each
//   candidate runs 27 times and meets every N three times, and every
//   (N, layout pair) meets about a ninth of the space on every matrix and type.
// - DLMC (documented subset): every 31st candidate (offset by the file's
//   number, so the files together cover the space), one N per file (rotating
//   through the list), tight leading dimensions.
#include "../expect_error.hpp"
#include "common.cuh"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

using namespace ptest;

namespace {

constexpr int32_t spmm_ns[] = {1, 2, 3, 8, 17, 32, 64, 128, 256};
constexpr int n_spmm_ns = 9;
constexpr int32_t sweep_max_n = 256;

struct layout_pair {
  dense_layout b, c;
};
constexpr layout_pair layout_pairs[] = {{dense_layout::col_major, dense_layout::col_major},
                                        {dense_layout::row_major, dense_layout::row_major},
                                        {dense_layout::col_major, dense_layout::row_major},
                                        {dense_layout::row_major, dense_layout::col_major}};

/// Whether this build and GPU run configuration c (the spmm.wg kernels need
/// sm_90a code; the tuner leaves them out likewise).
bool runs_here(const spmm_config& c) { return c.kernel.access != spmm_b_access::wgmma || detail::wgmma_compiled(); }

/// Every configuration of the space this build and GPU run, all four layout
/// pairs, N not pruned (clusters of 3 for the tensor-core blocks that can
/// add up in one, as the registry says).
template <class T>
std::vector<spmm_config> every_spmm_config(const row_stats& s) {
  std::vector<spmm_config> all;
  for (const auto& lp : layout_pairs)
    for (const auto& c : spmm_space(static_cast<int>(sizeof(T)), s, detail::resident_threads(), 0, lp.b, lp.c,
                                    {index_kind::u16, index_kind::i32},
                                    {item_order::longest_first, item_order::row_order}, {},
                                    detail::spmm_cluster_wave<T>(lp.b)))
      if (runs_here(c)) all.push_back(c);
  return all;
}

/// Leading-dimension variants: 0 tight, 1 padded by 8, 2 padded by 1 (odd).
int64_t ld_variant(int64_t tight, int variant) {
  return std::max<int64_t>(tight, 1) + (variant == 1 ? 8 : variant == 2 ? 1 : 0);
}

template <class T>
bool all_ones(const T& v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (unsigned char c : b)
    if (c != 0xff) return false;
  return true;
}

/// Elements of `after` outside the rows x cols region that differ (bitwise) from `before`.
template <class T>
int64_t changed_outside(const std::vector<T>& after, const std::vector<T>& before, int64_t rows, int64_t cols,
                        int64_t ld, dense_layout l) {
  std::vector<char> inside(after.size(), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) inside[static_cast<std::size_t>(dense_offset(r, c, ld, l))] = 1;
  int64_t changed = 0;
  for (std::size_t i = 0; i < after.size(); ++i)
    if (!inside[i] && std::memcmp(&after[i], &before[i], sizeof(T)) != 0) ++changed;
  return changed;
}

/// One SpMM problem on a weight: N, layouts, leading dimensions, B on host
/// and device, its float64 reference, and a C buffer.
template <class T>
struct spmm_problem {
  int32_t m, k, n;
  dense_layout bl, cl;
  int64_t ldb, ldc;
  std::vector<T> hb;
  device_buffer<T> db, dc;
  reference_result ref;

  spmm_problem(const host_csr<T>& w, int32_t n_, dense_layout bl_, dense_layout cl_, int ld_var, uint64_t seed)
      : m(w.rows()),
        k(w.cols()),
        n(n_),
        bl(bl_),
        cl(cl_),
        ldb(ld_variant(bl_ == dense_layout::row_major ? n_ : w.cols(), ld_var)),
        ldc(ld_variant(cl_ == dense_layout::row_major ? n_ : w.rows(), ld_var)),
        hb(detail::random_vector<T>(static_cast<std::size_t>(std::max<int64_t>(1, dense_extent(k, n, ldb, bl))), seed)),
        db(hb),
        dc(static_cast<std::size_t>(std::max<int64_t>(1, dense_extent(m, n, ldc, cl)))),
        ref(spmm_reference(w, host_dense_ref<T>{&hb, bl, ldb}, n)) {}

  dense_view<const T> b() const { return dense_view<const T>(db.data(), db.size(), ldb, bl); }
  dense_view<T> c() { return dense_view<T>(dc.data(), dc.size(), ldc, cl); }
  std::string describe() const {
    std::ostringstream os;
    os << "N " << n << " B " << to_string(bl) << " ldb " << ldb << " C " << to_string(cl) << " ldc " << ldc;
    return os.str();
  }
  /// Relative error of C (downloaded) against the reference; `holes`: elements
  /// of the ld padding that no longer hold the poison.
  double check(int64_t& holes) const {
    const std::vector<T> hc = dc.to_host();
    const std::vector<T> poison_bits(hc.size(), [] {
      T v;
      std::memset(&v, 0xff, sizeof(T));
      return v;
    }());
    holes = changed_outside(hc, poison_bits, m, n, ldc, cl);
    return relative_error(compact_row_major(hc, m, n, ldc, cl), ref);
  }
};

/// Schedules of one weight, built once per (index kind, vector, cap, order).
template <class T>
class schedule_cache {
 public:
  schedule_cache(const host_csr<T>& w, int32_t max_n) : w_(w), max_n_(max_n) {}
  const spmm_schedule<T>& get(const spmm_config& c) {
    const auto key = spmm_schedule_key(c);
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(key, make_spmm_schedule(w_, c, max_n_)).first;
    return it->second;
  }

 private:
  const host_csr<T>& w_;
  int32_t max_n_;
  std::map<decltype(spmm_schedule_key(spmm_config{})), spmm_schedule<T>> map_;
};

struct sweep_options {
  int rotation = 0;      // shifts the N / ld assignment
  int stride = 1;        // run candidates i with i % stride == offset
  int offset = 0;
  int fixed_n = -1;      // >= 0: this index into spmm_ns for every candidate
  int fixed_ld = -1;     // >= 0: this ld variant for every candidate
};

/// Runs the candidates of the whole space (see the file comment) on w; returns how many ran.
template <class T>
int check_spmm_candidates(const host_csr<float>& w32, const std::string& what, uint64_t seed, const sweep_options& o) {
  const host_csr<T> w = convert_values<T>(w32);
  const auto configs = every_spmm_config<T>(compute_row_stats(w));
  std::map<std::tuple<int, int, int, int>, std::vector<std::size_t>> by_problem;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (static_cast<int>(i % o.stride) != o.offset) continue;
    const int ni = o.fixed_n >= 0 ? o.fixed_n : static_cast<int>((i + o.rotation) % n_spmm_ns);
    const int lv = o.fixed_ld >= 0 ? o.fixed_ld : static_cast<int>((i / n_spmm_ns + o.rotation) % 3);
    by_problem[{static_cast<int>(configs[i].b_layout), static_cast<int>(configs[i].c_layout), ni, lv}].push_back(i);
  }
  // PAISPARSE_SPMM_SWEEP_FILTER=<substring>: run only the matching configurations (diagnosis)
  const char* only = std::getenv("PAISPARSE_SPMM_SWEEP_FILTER");
  schedule_cache<T> cache(w, sweep_max_n);
  device_buffer<T> staged(static_cast<std::size_t>(w.cols()) * detail::spmm_staged_ld<T>(sweep_max_n));
  int ran = 0, failed = 0;
  std::map<std::string, int> failed_by;  // "B/C tag, N" -> failures, for triage
  for (const auto& [key, list] : by_problem) {
    const auto [bl, cl, ni, lv] = key;
    spmm_problem<T> p(w, spmm_ns[ni], static_cast<dense_layout>(bl), static_cast<dense_layout>(cl), lv, seed++);
    for (std::size_t i : list) {
      const spmm_config& c = configs[i];
      if (only && c.name().find(only) == std::string::npos) continue;
      try {
        const spmm_schedule<T>& s = cache.get(c);
        poison(p.dc);
        // half of them with programmatic dependent launch (the staging kernel and the SpMM kernel overlap)
        spmm_execute(c, find_spmm_kernel<T>(c.kernel), s, staged.data(), detail::spmm_staged_ld<T>(sweep_max_n),
                     p.b(), p.c(), p.n, epilog_params<T>{}, nullptr, i % 2 == 0);
        PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
      } catch (const paisparse::error& e) {  // name the culprit, then give up (CUDA errors are sticky)
        std::printf("SWEEP-ERROR %s %s %s %s: %s\n", what.c_str(), value_type_name<T>(), c.name().c_str(),
                    p.describe().c_str(), e.what());
        std::fflush(stdout);
        throw;
      }
      int64_t holes = 0;
      const double err = p.check(holes);
      if (!(err <= relative_tolerance<T>()) || holes != 0) {
        if (++failed <= 10)  // the first few in full; then only counted
          ADD_FAILURE() << what << " " << value_type_name<T>() << " " << c.name() << " " << p.describe()
                        << ": relative error " << err << " (tolerance " << relative_tolerance<T>() << "), " << holes
                        << " elements of C's ld padding written";
        ++failed_by[std::string(c.b_tag()) + (c.c_layout == dense_layout::row_major ? "Cr" : "Cc") + " N" +
                    std::to_string(p.n)];
      }
      ++ran;
    }
  }
  EXPECT_EQ(failed, 0) << what << " " << value_type_name<T>() << ": " << failed << " of " << ran << " runs failed";
  for (const auto& [k, v] : failed_by) std::printf("    failures %s: %d\n", k.c_str(), v);
  return ran;
}

template <class T>
int type_number() {
  if constexpr (std::is_same_v<T, float>) return 0;
  else if constexpr (std::is_same_v<T, __half>) return 1;
  else return 2;
}

}  // namespace

using value_types = ::testing::Types<float, __half, __nv_bfloat16>;

template <class T>
class SpmmEveryCandidate : public ::testing::Test {};
TYPED_TEST_SUITE(SpmmEveryCandidate, value_types);

TYPED_TEST(SpmmEveryCandidate, MatrixSet) {
  using T = TypeParam;
  uint64_t seed = 20000 + 1000 * type_number<T>();
  int j = 0;
  for (const auto& m : matrix_set()) {
    SCOPED_TRACE(m.name);
    sweep_options o;
    o.rotation = j + 3 * type_number<T>();
    // PAISPARSE_SPMM_SWEEP_STRIDE=k: every k-th candidate only, offset by the
    // matrix (the sanitizer steps of scripts/gpu_suite.sh; the full sweep otherwise)
    if (const char* st = std::getenv("PAISPARSE_SPMM_SWEEP_STRIDE"); st && std::atoi(st) > 1) {
      o.stride = std::atoi(st);
      o.offset = j % o.stride;
    }
    const int ran = check_spmm_candidates<T>(m.w, m.name, seed += 100, o);
    if (!std::getenv("PAISPARSE_SPMM_SWEEP_FILTER")) EXPECT_GT(ran, 0);  // a filter may match none of a type
    std::printf("  %-28s %-5s %d spmm candidates checked\n", m.name.c_str(), value_type_name<T>(), ran);
    ++j;
  }
}

TYPED_TEST(SpmmEveryCandidate, Dlmc) {
  using T = TypeParam;
  const auto files = dlmc_files();
  if (files.empty()) GTEST_SKIP() << "PAISPARSE_DLMC_DIR is not set or holds no .smtx files";
  uint64_t seed = 60000 + 1000 * type_number<T>();
  long total = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    SCOPED_TRACE(files[f]);
    sweep_options o;
    o.stride = 31;
    o.offset = static_cast<int>((f + 7 * type_number<T>()) % 31);
    o.fixed_n = static_cast<int>((f + type_number<T>()) % n_spmm_ns);
    o.fixed_ld = 0;
    total += check_spmm_candidates<T>(read_smtx_for_test(files[f], seed), files[f], seed + 1, o);
    seed += 100;
  }
  std::printf("  DLMC %-5s: %zu matrices, %ld spmm candidate runs checked\n", value_type_name<T>(), files.size(), total);
}

namespace {

/// Column bands of 100 with densities 0.6, 0.02, 0.15 in turn: along K a
/// tensor-core block meets dense tiles (more words than its threads load in
/// one round, prolog/tile_prolog.cuh) and sparse ones in every order, each
/// tile's words dealt out over the banks (format/tiled_weight.hpp).
host_csr<float> striped_density(int32_t rows, int32_t cols) {
  constexpr double densities[3] = {0.6, 0.02, 0.15};
  std::vector<host_csr<float>> bands;
  for (int i = 0; i < 3; ++i)
    bands.push_back(random_csr<float>(rows, cols, densities[i], row_distribution::uniform, 0, 110 + i));
  std::vector<int32_t> off{0}, idx;
  std::vector<float> val;
  for (int32_t r = 0; r < rows; ++r) {
    for (int32_t c0 = 0; c0 < cols; c0 += 100) {
      const auto& b = bands[static_cast<std::size_t>(c0 / 100 % 3)];
      for (int32_t j = b.row_offsets()[r]; j < b.row_offsets()[r + 1]; ++j)
        if (b.col_indices()[j] >= c0 && b.col_indices()[j] < c0 + 100)
          idx.push_back(b.col_indices()[j]), val.push_back(b.values()[j]);
    }
    off.push_back(static_cast<int32_t>(idx.size()));
  }
  return host_csr<float>(rows, cols, off, idx, val);
}

}  // namespace

// The tensor-core kernels (dense tiles, gathered windows, register-built
// fragments) on every N of
// the list, all four layout pairs and the three ld variants (odd ld: the
// element-by-element staging of B), on the matrix set and a matrix of dense
// and sparse column bands. The sweep above runs each of them on one problem
// per matrix; this runs each on all.
TYPED_TEST(SpmmEveryCandidate, TensorCoreEveryNAndLayout) {
  using T = TypeParam;
  if constexpr (sizeof(T) != 2) {
    GTEST_SKIP() << "the tensor-core kernels take fp16 or bf16 values";
  } else {
    if (!space::spmm_tensor && !space::spmm_window && !space::spmm_fragment)
      GTEST_SKIP() << "built with PAISPARSE_SPMM_TENSOR=0, PAISPARSE_SPMM_WINDOW=0 and PAISPARSE_SPMM_FRAGMENT=0";
    uint64_t seed = 90000 + 1000 * type_number<T>();
    int total = 0, windowed = 0, fragments = 0, warpgroups = 0;
    auto matrices = matrix_set();
    matrices.push_back({"striped_density_300x1100", striped_density(300, 1100)});
    for (const auto& m : matrices) {
      const host_csr<T> w = convert_values<T>(m.w);
      std::vector<spmm_config> configs;
      for (const auto& c : every_spmm_config<T>(compute_row_stats(w)))
        if (c.kernel.tensor_tiled() || c.kernel.access == spmm_b_access::window) configs.push_back(c);
      ASSERT_FALSE(configs.empty());
      schedule_cache<T> cache(w, sweep_max_n);
      const int64_t staged_ld = detail::spmm_staged_ld<T>(sweep_max_n);
      device_buffer<T> staged(static_cast<std::size_t>(std::max(1, w.cols())) * staged_ld);
      int variant = 0;
      for (const auto& lp : layout_pairs)
        for (int32_t n : spmm_ns) {
          spmm_problem<T> p(w, n, lp.b, lp.c, variant++ % 3, seed++);
          for (const auto& c : configs) {
            if (c.b_layout != lp.b || c.c_layout != lp.c) continue;
            poison(p.dc);
            spmm_execute(c, find_spmm_kernel<T>(c.kernel), cache.get(c), staged.data(), staged_ld, p.b(), p.c(),
                         p.n, epilog_params<T>{}, nullptr, total % 2 == 0);
            PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
            int64_t holes = 0;
            const double err = p.check(holes);
            EXPECT_LE(err, relative_tolerance<T>()) << m.name << " " << c.name() << " " << p.describe();
            EXPECT_EQ(holes, 0) << m.name << " " << c.name() << " " << p.describe() << ": C's ld padding written";
            ++total;
            windowed += c.kernel.access == spmm_b_access::window;
            fragments += c.kernel.access == spmm_b_access::fragment;
            warpgroups += c.kernel.access == spmm_b_access::wgmma;
          }
        }
    }
    std::printf("  tensor-core kernels %-5s: %d runs checked (%d of them gathered, %d register-built, %d warpgroup%s)\n",
                value_type_name<T>(), total, windowed, fragments, warpgroups,
                detail::wgmma_compiled() ? "" : "; spmm.wg not run: no sm_90a code for this GPU");
    if (space::spmm_window) EXPECT_GT(windowed, 0);
    if (space::spmm_fragment) EXPECT_GT(fragments, 0);
    if (space::spmm_wgmma && detail::wgmma_compiled()) EXPECT_GT(warpgroups, 0);
  }
}

template <class T>
class SpmmApi : public ::testing::Test {};
TYPED_TEST_SUITE(SpmmApi, value_types);

TYPED_TEST(SpmmApi, EpilogAlphaBetaBiasActivation) {
  using T = TypeParam;
  // each B path, both C layouts, split rows (caps 32 / 64 / 128), both index kinds
  std::vector<std::string> configs{
      "spmm.b128.g8.l1.n4.v16.u1.u16.c0.lf.Bc.Cc", "spmm.b128.g4.l2.n8.v16.u1.i32.c64.ro.Bt.Cr",
      "spmm.b128.g2.l4.n8.v16.u1.u16.c32.lf.Br.Cc", "spmm.b128.g1.l8.n16.v16.u1.i32.c0.ro.Br.Cr",
      "spmm.b128.g32.l1.n4.v16.u1.u16.c128.lf.Bt.Cc"};
  // the tensor-core kernels' epilog, both B and C layouts: through the staged tile, and from registers
  // (the 128 x 128 k32 block, whose operands' space cannot hold the tile), with and without k splits
  if (sizeof(T) == 2 && space::spmm_tensor)
    configs.insert(configs.end(), {"spmm.tc.m64.n32.k64.w2x2.s1.Bc.Cc", "spmm.tc.m128.n64.k64.w4x2.s3.Br.Cr",
                                   "spmm.tc.m128.n64.k64.w4x1x2.s3.Bc.Cr", "spmm.tc.m128.n128.k32.w2x2.s2.Bc.Cr"});
  if (sizeof(T) == 2 && space::spmm_window)  // the gathered kernels' epilog, both B and C layouts
    configs.insert(configs.end(), {"spmm.tw.w8.n32.Bt.Cc", "spmm.tw.w4.n16.Br.Cr"});
  if (sizeof(T) == 2 && space::spmm_fragment)  // the register-built kernels' epilog, both layouts, k splits
    configs.insert(configs.end(), {"spmm.tf.m128.n32.k64.w8x1.s1.Bc.Cc", "spmm.tf.m64.n64.k64.w4x1.s3.Br.Cr",
                                   "spmm.tf.m64.n16.k64.w2x1x2.s1.Bc.Cr"});
  // the warpgroup kernels' epilog, staged through shared memory: one k split (both C layouts, the
  // largest and a k256 block), the last block of a split tile (both C layouts), and the blocks of a
  // cluster, each on its share of the tile (both C layouts; three warpgroups over 192 rows)
  if (sizeof(T) == 2 && space::spmm_wgmma && detail::wgmma_compiled())
    configs.insert(configs.end(), {"spmm.wg.m128.n128.k64.w8x1.s1.Bc.Cc", "spmm.wg.m128.n128.k64.w8x1.s1.Bc.Cr",
                                   "spmm.wg.m64.n16.k256.w4x1.s1.Bc.Cr", "spmm.wg.m64.n32.k128.w4x1.s2.Bc.Cc",
                                   "spmm.wg.m128.n128.k64.w8x1.s4.Bc.Cr", "spmm.wg.m128.n128.k64.w8x1.c4.Bc.Cr",
                                   "spmm.wg.m64.n32.k128.w4x1.c3.Bc.Cc", "spmm.wg.m192.n128.k64.w12x1.c2.Bc.Cr"});
  uint64_t seed = 777;
  for (const auto& m : matrix_set()) {
    const host_csr<T> w = convert_values<T>(m.w);
    device_buffer<T> dbias(static_cast<std::size_t>(std::max(1, w.rows())));
    for (const auto& name : configs) {
      spmm_plan<T> plan(w, name, 64);
      const spmm_config& cfg = plan.config();
      int variant = 0;
      for (activation act : {activation::none, activation::relu, activation::gelu, activation::silu}) {
        for (float beta : {0.f, 0.75f}) {
          const int32_t n = (variant++ % 2) ? 3 : 40;
          const int64_t ldb = ld_variant(cfg.b_layout == dense_layout::row_major ? n : w.cols(), variant % 3);
          const int64_t ldc = ld_variant(cfg.c_layout == dense_layout::row_major ? n : w.rows(), (variant + 1) % 3);
          const auto hb = detail::random_vector<T>(
              static_cast<std::size_t>(std::max<int64_t>(1, dense_extent(w.cols(), n, ldb, cfg.b_layout))), seed++);
          auto c0 = detail::random_vector<T>(
              static_cast<std::size_t>(std::max<int64_t>(1, dense_extent(w.rows(), n, ldc, cfg.c_layout))), seed++);
          if (beta == 0.f)  // poisoned: must be ignored
            for (auto& v : c0) std::memset(&v, 0xff, sizeof(T));
          const auto bias = detail::random_vector<T>(static_cast<std::size_t>(std::max(1, w.rows())), seed++);
          device_buffer<T> db(hb), dc(c0);
          upload(dbias, bias);
          const float alpha = -1.5f;
          plan.run(dense_view<const T>(db.data(), db.size(), ldb, cfg.b_layout),
                   dense_view<T>(dc.data(), dc.size(), ldc, cfg.c_layout), n,
                   epilog_params<T>{alpha, beta, dbias.data(), act});
          const auto out = dc.to_host();
          const host_dense_ref<T> c0ref{&c0, cfg.c_layout, ldc};
          const auto ref = spmm_reference(w, host_dense_ref<T>{&hb, cfg.b_layout, ldb}, n, alpha, beta, &c0ref, &bias,
                                          act);
          EXPECT_LE(relative_error(compact_row_major(out, w.rows(), n, ldc, cfg.c_layout), ref),
                    relative_tolerance<T>())
              << m.name << " " << name << " act " << to_string(act) << " beta " << beta << " N " << n;
          EXPECT_EQ(changed_outside(out, c0, w.rows(), n, ldc, cfg.c_layout), 0)
              << m.name << " " << name << ": C's ld padding was written";
        }
      }
    }
  }
}

TYPED_TEST(SpmmApi, GraphReplayRepeatedRunsSplitRowsAndSmallerN) {
  using T = TypeParam;
  const host_csr<T> w =
      convert_values<T>(random_csr<float>(3000, 4000, 0.02, row_distribution::lognormal, 1.5, 9));
  for (const char* name : {"spmm.b128.g8.l2.n8.v16.u1.u16.c64.lf.Bt.Cc", "spmm.b128.g4.l1.n4.v16.u1.i32.c32.ro.Bc.Cr",
                           "spmm.b128.g4.l4.n8.v16.u1.u16.c64.lf.Br.Cc"}) {
    SCOPED_TRACE(name);
    spmm_plan<T> plan(w, name, 64);
    ASSERT_GT(plan.schedule().split_rows(), 0);
    const spmm_config& cfg = plan.config();
    const int32_t max_n = plan.max_n();
    const int64_t ldb = cfg.b_layout == dense_layout::row_major ? max_n : w.cols();
    const int64_t ldc = cfg.c_layout == dense_layout::row_major ? max_n : w.rows();
    device_buffer<T> db(static_cast<std::size_t>(dense_extent(w.cols(), max_n, ldb, cfg.b_layout)));
    device_buffer<T> dc(static_cast<std::size_t>(dense_extent(w.rows(), max_n, ldc, cfg.c_layout)));
    const dense_view<const T> bv(db.data(), db.size(), ldb, cfg.b_layout);
    const dense_view<T> cv(dc.data(), dc.size(), ldc, cfg.c_layout);
    cudaStream_t s;
    PAISPARSE_CUDA_TRY(cudaStreamCreate(&s));
    cudaGraph_t g;
    cudaGraphExec_t ge;
    PAISPARSE_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    plan.run(bv, cv, max_n, {}, s);
    PAISPARSE_CUDA_TRY(cudaStreamEndCapture(s, &g));
    PAISPARSE_CUDA_TRY(cudaGraphInstantiate(&ge, g, 0));
    for (int it = 0; it < 6; ++it) {  // fresh B each time; the workspace must reset between launches
      const auto hb = detail::random_vector<T>(db.size(), 300 + it);
      upload(db, hb);
      poison(dc);
      // odd: graph replay (N = max_n); even: direct runs, also with smaller N (any N <= max_n)
      const int32_t n = it % 2 ? max_n : (it == 2 ? 5 : it == 4 ? 1 : max_n);
      if (it % 2) PAISPARSE_CUDA_TRY(cudaGraphLaunch(ge, s));
      else plan.run(bv, cv, n, {}, s);
      PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
      const auto ref = spmm_reference(w, host_dense_ref<T>{&hb, cfg.b_layout, ldb}, n);
      const auto out = dc.to_host();
      EXPECT_LE(relative_error(compact_row_major(out, w.rows(), n, ldc, cfg.c_layout), ref), relative_tolerance<T>())
          << "iteration " << it << " N " << n;
      // columns n..max_n stay poisoned
      std::vector<T> poisoned(out.size());
      std::memset(poisoned.data(), 0xff, poisoned.size() * sizeof(T));
      EXPECT_EQ(changed_outside(out, poisoned, w.rows(), n, ldc, cfg.c_layout), 0) << "iteration " << it;
    }
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaStreamDestroy(s);
  }
}

TYPED_TEST(SpmmApi, ChainedLayersWithProgrammaticDependentLaunch) {
  // Plans launch with programmatic dependent launch by default: each kernel
  // may start while the one before it in the stream runs (a staging kernel
  // lets its SpMM kernel start at once) and must wait for it before reading
  // B (its output) and writing C (which it may still read).
  // A chain of three layers, each reading the previous layer's output, runs
  // twice back to back on one stream with no synchronisation, the second
  // time on another input; afterwards every layer's output must be its
  // weight times the previous layer's final output. A kernel that read B
  // before its producer ended would have read the poison (first pass) or the
  // first pass's values (second pass). One configuration of each kernel
  // family, staging and split the space offers for this weight.
  using T = TypeParam;
  constexpr int32_t dim = 1024, n = 32, layers = 3;
  std::vector<host_csr<T>> ws;
  for (int l = 0; l < layers; ++l)
    ws.push_back(convert_values<T>(random_csr<float>(dim, dim, 0.2, row_distribution::lognormal, 1.0, 60 + l)));
  std::map<std::tuple<int, bool, bool, bool>, spmm_config> picks;
  for (const auto& c : spmm_space(sizeof(T), compute_row_stats(ws[0]), detail::resident_threads(), n,
                                  dense_layout::col_major, dense_layout::col_major, {index_kind::u16, index_kind::i32},
                                  {item_order::longest_first, item_order::row_order}, {},
                                  detail::spmm_cluster_wave<T>(dense_layout::col_major)))
    if (runs_here(c))
      picks.emplace(std::tuple{static_cast<int>(c.kernel.access), c.stages_b(), c.k_splits > 1, c.segment_cap > 0}, c);
  ASSERT_GE(picks.size(), 4u);
  const epilog_params<T> ep{0.125f};  // alpha: keeps the chain's magnitudes near the input's
  std::vector<device_buffer<T>> y;    // y[0]: the input, y[l + 1]: layer l's output
  for (int l = 0; l <= layers; ++l) y.emplace_back(static_cast<std::size_t>(dim) * n);
  const std::vector<T> x1 = detail::random_vector<T>(y[0].size(), 71), x2 = detail::random_vector<T>(y[0].size(), 72);
  device_buffer<T> dx1(x1), dx2(x2);
  cudaStream_t st;
  PAISPARSE_CUDA_TRY(cudaStreamCreate(&st));
  int families = 0;
  for (const auto& [key, cfg] : picks) {
    SCOPED_TRACE(cfg.name());
    std::vector<spmm_plan<T>> plans;
    for (const auto& w : ws) plans.emplace_back(w, cfg, n);
    ASSERT_TRUE(plans[0].overlap());
    for (auto& d : y) poison(d);
    for (const device_buffer<T>* x : {&dx1, &dx2}) {
      PAISPARSE_CUDA_TRY(cudaMemcpyAsync(y[0].data(), x->data(), x->size() * sizeof(T), cudaMemcpyDeviceToDevice, st));
      for (int l = 0; l < layers; ++l)
        plans[static_cast<std::size_t>(l)].run(col_major_view<const T>(y[l].data(), y[l].size(), dim),
                                               col_major_view<T>(y[l + 1].data(), y[l + 1].size(), dim), n, ep, st);
    }
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(st));
    std::vector<T> in = x2;
    for (int l = 0; l < layers; ++l) {
      const std::vector<T> out = y[static_cast<std::size_t>(l) + 1].to_host();
      const auto ref = spmm_reference(ws[static_cast<std::size_t>(l)],
                                      host_dense_ref<T>{&in, dense_layout::col_major, dim}, n, ep.alpha);
      EXPECT_LE(relative_error(compact_row_major(out, dim, n, dim, dense_layout::col_major), ref),
                relative_tolerance<T>())
          << "layer " << l;
      in = out;
    }
    ++families;
  }
  cudaStreamDestroy(st);
  std::printf("  chained layers %-5s: %d configurations (one per family, staging and split)\n", value_type_name<T>(),
              families);
}

TYPED_TEST(SpmmApi, DeviceErrorCheckMatchesTheHost) {
  // the tuner's check on the GPU (tuning/device_check.cuh) against
  // relative_error() on the host: both layouts, ld padding holding NaN (never
  // read), a NaN inside (+inf), an all-zero scale (absolute error)
  using T = TypeParam;
  const T nan = from_float<T>(std::numeric_limits<float>::quiet_NaN());
  uint64_t seed = 31000 + 100 * type_number<T>();
  for (dense_layout layout : {dense_layout::row_major, dense_layout::col_major})
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {37, 5}, {1000, 130}}) {
      const int64_t line = layout == dense_layout::row_major ? cols : rows;
      const int64_t ld = line + 3;
      const int64_t extent = dense_extent(rows, cols, ld, layout);
      std::vector<T> out = detail::random_vector<T>(static_cast<std::size_t>(extent), seed++);
      for (int64_t i = 0; i < extent; ++i)
        if (i % ld >= line) out[static_cast<std::size_t>(i)] = nan;
      const std::vector<T> compact = compact_row_major(out, rows, cols, ld, layout);
      const std::vector<float> noise = detail::random_vector<float>(compact.size(), seed++);
      reference_result ref;
      for (std::size_t i = 0; i < compact.size(); ++i) {
        ref.value.push_back(to_float(compact[i]) + 0.01 * noise[i]);
        ref.scale.push_back(std::abs(ref.value.back()) + 0.5);
      }
      const std::string what = std::string(to_string(layout)) + " " + std::to_string(rows) + " x " +
                               std::to_string(cols);
      device_buffer<T> d(out);
      const double host = relative_error(compact, ref);
      ASSERT_GT(host, 0) << what;
      EXPECT_NEAR(device_error_check<T>(ref, rows, cols, ld, layout)(d.data(), 0), host, 1e-9 * host) << what;
      reference_result unscaled = ref;
      std::fill(unscaled.scale.begin(), unscaled.scale.end(), 0.0);
      const double absolute = relative_error(compact, unscaled);
      EXPECT_NEAR(device_error_check<T>(unscaled, rows, cols, ld, layout)(d.data(), 0), absolute, 1e-9 * absolute)
          << what;
      // a NaN at the last element
      out[static_cast<std::size_t>(layout == dense_layout::row_major ? (rows - 1) * ld + cols - 1
                                                                      : (cols - 1) * ld + rows - 1)] = nan;
      device_buffer<T> bad(out);
      EXPECT_TRUE(std::isinf(device_error_check<T>(ref, rows, cols, ld, layout)(bad.data(), 0))) << what;
    }
  reference_result small;
  small.value.assign(6, 1.0);
  small.scale.assign(6, 1.0);
  expect_error([&] { device_error_check<T>(small, 2, 4, 4, dense_layout::row_major); }, {"expected 2 x 4"});
  expect_error([&] { device_error_check<T>(small, 2, 3, 2, dense_layout::row_major); }, {"ld 2 is shorter"});
}

TYPED_TEST(SpmmApi, LlmLayerRecipe) {
  // Y = X W^T + bias with row-major X (tokens x K) and Y (tokens x M), as the
  // header of tuning/spmm_plan.cuh describes, checked by a direct host loop.
  using T = TypeParam;
  const int32_t tokens = 19;
  const host_csr<T> w = convert_values<T>(random_csr<float>(300, 500, 0.05, row_distribution::lognormal, 0.8, 31));
  const int32_t M = w.rows(), K = w.cols();
  const auto x = detail::random_vector<T>(static_cast<std::size_t>(tokens) * K, 32);
  const auto bias = detail::random_vector<T>(static_cast<std::size_t>(M), 33);
  device_buffer<T> dx(x), dbias(bias), dy(static_cast<std::size_t>(tokens) * M);
  for (const char* name : {"spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc", "spmm.b128.g8.l1.n8.v16.u1.u16.c0.lf.Bc.Cc"}) {
    spmm_plan<T> plan(w, name, tokens);
    poison(dy);
    plan.run(col_major_view<const T>(dx.data(), dx.size(), K), col_major_view<T>(dy.data(), dy.size(), M), tokens,
             {1.f, 0.f, dbias.data()});
    const auto y = dy.to_host();
    reference_result ref;
    for (int32_t t = 0; t < tokens; ++t)
      for (int32_t m = 0; m < M; ++m) {
        double acc = to_float(bias[m]), mag = std::fabs(to_float(bias[m]));
        for (int32_t q = w.row_offsets()[m]; q < w.row_offsets()[m + 1]; ++q) {
          const double term = static_cast<double>(to_float(w.values()[q])) *
                              to_float(x[static_cast<std::size_t>(t) * K + w.col_indices()[q]]);
          acc += term;
          mag += std::fabs(term);
        }
        ref.value.push_back(acc);
        ref.scale.push_back(mag);
      }
    EXPECT_LE(relative_error(y, ref), relative_tolerance<T>()) << name;  // y is row-major tokens x M
  }
}

template <class T>
class SpmmTuner : public ::testing::Test {};
TYPED_TEST_SUITE(SpmmTuner, value_types);

TYPED_TEST(SpmmTuner, ReturnsACheckedPlanAndTheWholeTable) {
  using T = TypeParam;
  const host_csr<T> w =
      convert_values<T>(random_csr<float>(2048, 2048, 0.01, row_distribution::lognormal, 0.8, 12));
  const int32_t n = 17;
  tune_options opt;
  opt.reps = 3;
  opt.warmup = 1;
  int progress_calls = 0;
  opt.on_progress = [&](int, int, const std::string&) { ++progress_calls; };
  auto res = tune_spmm(w, n, {}, opt);
  const auto space = spmm_space(sizeof(T), compute_row_stats(w), detail::resident_threads(), n,
                                dense_layout::col_major, dense_layout::col_major, {index_kind::u16, index_kind::i32},
                                {item_order::longest_first, item_order::row_order},
                                detail::spmm_tensor_wave<T>(dense_layout::col_major),
                                detail::spmm_cluster_wave<T>(dense_layout::col_major));
  EXPECT_EQ(res.candidates.size(), space.size());
  EXPECT_GT(progress_calls, 0);
  EXPECT_FALSE(res.budget_exhausted);
  EXPECT_EQ(res.candidates[0].config, res.plan.config());
  EXPECT_EQ(res.candidates[0].status, candidate_status::ok);
  EXPECT_EQ(res.plan.max_n(), n);
  for (std::size_t i = 1; i < res.candidates.size(); ++i) {
    EXPECT_EQ(res.candidates[i].status, candidate_status::ok)
        << res.candidates[i].config.name() << ": " << res.candidates[i].message;
    if (res.candidates[i].status == candidate_status::ok)
      EXPECT_GE(res.candidates[i].median_us, res.candidates[0].median_us);
  }
  std::ostringstream table;
  res.print(table, 5);
  EXPECT_NE(table.str().find(res.plan.name()), std::string::npos);
  std::printf("%s", table.str().c_str());
  // the plan runs N = n and any smaller N
  for (int32_t nn : {n, 4}) {
    const auto hb = detail::random_vector<T>(static_cast<std::size_t>(w.cols()) * nn, 4242 + nn);
    device_buffer<T> db(hb), dc(static_cast<std::size_t>(w.rows()) * nn);
    poison(dc);
    res.plan.run(col_major_view<const T>(db.data(), db.size(), w.cols()), col_major_view<T>(dc.data(), dc.size(), w.rows()),
                 nn);
    const auto ref = spmm_reference(w, host_dense_ref<T>{&hb, dense_layout::col_major, w.cols()}, nn);
    EXPECT_LE(relative_error(compact_row_major(dc.to_host(), w.rows(), nn, w.rows(), dense_layout::col_major), ref),
              relative_tolerance<T>());
  }
}

TEST(SpmmTunerOptions, TimeBudgetStopsEarlyAndSaysSo) {
  const auto w = random_csr<float>(1024, 1024, 0.01, row_distribution::lognormal, 0.8, 13);
  tune_options opt;
  opt.time_budget_s = 1e-6;
  auto res = tune_spmm(w, 8, {}, opt);
  EXPECT_TRUE(res.budget_exhausted);
  int skipped = 0;
  for (const auto& c : res.candidates) skipped += c.status == candidate_status::skipped;
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(res.candidates[0].status, candidate_status::ok);  // one winner always
  std::ostringstream table;
  res.print(table);
  EXPECT_NE(table.str().find("time budget reached"), std::string::npos);
}

/// The tuner's split-K tests: a 256 x 3000 fp16 weight at 20% (47 k steps
/// of 64, 4 row tiles of 64), N = 32, B and C on the device (column-major),
/// and the float64 reference of W B.
struct split_k_case {
  static constexpr int32_t n = 32;
  host_csr<__half> w;
  std::vector<__half> hb;
  reference_result ref;
  device_buffer<__half> db, dc;
  explicit split_k_case(uint64_t seed)
      : w(convert_values<__half>(random_csr<float>(256, 3000, 0.2, row_distribution::lognormal, 0.8, seed))),
        hb(detail::random_vector<__half>(static_cast<std::size_t>(w.cols()) * n, seed + 763)),
        ref(spmm_reference(w, host_dense_ref<__half>{&hb, dense_layout::col_major, w.cols()}, n)),
        db(hb),
        dc(static_cast<std::size_t>(w.rows()) * n) {}
  dense_view<const __half> b() const { return col_major_view<const __half>(db.data(), db.size(), w.cols()); }
  dense_view<__half> c() { return col_major_view<__half>(dc.data(), dc.size(), w.rows()); }
  /// Runs `plan` on poisoned C and returns its relative error.
  double error_of(const spmm_plan<__half>& plan) {
    poison(dc);
    plan.run(b(), c(), n);
    return relative_error(compact_row_major(dc.to_host(), w.rows(), n, w.rows(), dense_layout::col_major), ref);
  }
  /// Launches `config` on `plan`'s schedule (the launcher's own checks).
  void execute(const spmm_config& config, const spmm_plan<__half>& plan) {
    spmm_execute(config, find_spmm_kernel<__half>(config.kernel), plan.schedule(), static_cast<__half*>(nullptr), 0,
                 b(), c(), n, epilog_params<__half>{}, nullptr, false);
  }
};

TEST(SpmmTunerOptions, TensorCorePlansKeepSplitTablesOnlyWhenTheySplit) {
  // the tuner builds each tile shape's schedule once, with split-K tables
  // for the most splits of any candidate; a winner that does not split K
  // drops them, one that splits keeps a workspace slice per split (dense
  // tiles and register-built fragments alike)
  if (!space::spmm_tensor && !space::spmm_fragment)
    GTEST_SKIP() << "built with PAISPARSE_SPMM_TENSOR=0 and PAISPARSE_SPMM_FRAGMENT=0";
  using T = __half;
  split_k_case t(14);
  for (const auto& [family, block] : {std::pair{spmm_b_access::tensor, ".tc.m64.n32.k64.w2x2.s"},
                                      std::pair{spmm_b_access::fragment, ".tf.m64.n32.k64.w4x1.s"}})
  for (bool split : {false, true}) {
    if (family == spmm_b_access::tensor ? !space::spmm_tensor : !space::spmm_fragment) continue;
    tune_options opt;
    opt.reps = 2;
    opt.warmup = 0;
    opt.filter = block;  // one block shape, every split the space offers
    if (!split) opt.filter += "1.";
    auto res = tune_spmm(t.w, t.n, {}, opt);
    ASSERT_EQ(res.plan.config().kernel.access, family);
    auto slices = [](const auto& plan) { return plan.config().k_splits > 1 ? plan.config().k_splits : 0; };
    EXPECT_EQ(res.plan.schedule().tile_split_slices(), slices(res.plan)) << res.plan.name();
    if (split) {  // keep only the candidates that split, so one of them wins
      std::vector<std::string> names;
      for (const auto& c : res.candidates)
        if (c.config.k_splits > 1) names.push_back(c.config.name());
      ASSERT_FALSE(names.empty());
      opt.filter = names[0];
      res = tune_spmm(t.w, t.n, {}, opt);
      ASSERT_GT(res.plan.config().k_splits, 1);
    }
    EXPECT_EQ(res.plan.schedule().tile_workspace() != nullptr, split) << res.plan.name();
    EXPECT_EQ(res.plan.schedule().tile_split_slices(), slices(res.plan)) << res.plan.name();
    EXPECT_LE(t.error_of(res.plan), relative_tolerance<T>()) << res.plan.name();
    // more splits than the schedule has workspace slices for: refused before any launch
    spmm_config more = res.plan.config();
    more.k_splits = std::max(2, slices(res.plan) + 1);
    expect_error([&] { t.execute(more, res.plan); },
                 {"k splits need a weight built with split-K tables for", "built for"});
  }
}

TEST(SpmmTunerOptions, ClusterSplitPlansNeedNoWorkspace) {
  // k splits whose blocks add up in a cluster (spmm.wg, and spmm.tc and
  // spmm.tf where the block stages its sums): the plan keeps no split-K
  // tables, and runs right; a block that cannot stage its sums is refused
  if (!detail::cluster_launch_supported())
    GTEST_SKIP() << "this GPU launches no thread block clusters (sm_90 and later)";
  using T = __half;
  split_k_case t(15);
  int families = 0;
  // 4 tiles of C and 47 k steps: every cluster size fits at once, 8 is offered
  for (const auto& [on, block] : {std::pair{space::spmm_wgmma && detail::wgmma_compiled(), ".wg.m64.n32.k64.w4x1.c"},
                                  std::pair{space::spmm_tensor, ".tc.m64.n32.k64.w2x2.c"},
                                  std::pair{space::spmm_fragment, ".tf.m64.n32.k64.w4x1.c"}}) {
    if (!on) continue;
    ++families;
    tune_options opt;
    opt.reps = 2;
    opt.warmup = 0;
    opt.filter = block;
    auto res = tune_spmm(t.w, t.n, {}, opt);
    ASSERT_TRUE(res.plan.config().k_cluster) << res.plan.name();
    EXPECT_TRUE(std::any_of(res.candidates.begin(), res.candidates.end(),
                            [](const auto& c) { return c.config.k_splits == max_cluster_splits; }))
        << block;
    EXPECT_EQ(res.plan.schedule().tile_workspace(), nullptr);
    EXPECT_EQ(res.plan.schedule().tile_split_slices(), 0);
    for (const auto& c : res.candidates)
      EXPECT_EQ(c.status, candidate_status::ok) << c.config.name() << ": " << c.message;
    for (int rep = 0; rep < 2; ++rep)  // twice: no state is left behind between launches
      EXPECT_LE(t.error_of(res.plan), relative_tolerance<T>()) << res.plan.name();
    spmm_config more = res.plan.config();
    more.k_splits = max_cluster_splits + 1;
    expect_error([&] { t.execute(more, res.plan); }, {"9 k splits in a cluster, expected 2..8"});
    if (space::spmm_tensor && res.plan.config().kernel.access == spmm_b_access::tensor) {
      // the 128 x 128 k32 block's operands cannot hold its 128 x 128 fp32
      // sums: no clusters offered for it, and its launch refuses one
      const spmm_config big = spmm_config::parse("spmm.tc.m128.n128.k32.w2x2.c2.Bc.Cc");
      const auto& entry = find_spmm_entry<T>(big.kernel);
      ASSERT_NE(entry.resident_clusters, nullptr);
      EXPECT_EQ(entry.resident_clusters(false, 2), 0);
      EXPECT_EQ(entry.resident_clusters(true, 2), 0);
      EXPECT_GT(find_spmm_entry<T>(res.plan.config().kernel).resident_clusters(false, 2), 0);
      expect_error([&] { t.execute(big, res.plan); },
                   {"k splits in a cluster need a block whose shared memory holds its staged sums", "128 x 128",
                    "column-major B"});
      EXPECT_FALSE(entry.cluster_ok(false));
      EXPECT_TRUE(find_spmm_entry<T>(res.plan.config().kernel).cluster_ok(false));
      // a plan is refused such a configuration when it is made, not when it first runs
      expect_error([&] { spmm_plan<T>(t.w, big, t.n); },
                   {"spmm config spmm.tc.m128.n128.k32.w2x2.c2.Bc.Cc", "cannot add up k splits in a cluster"});
    }
    if (space::spmm_fragment && res.plan.config().kernel.access == spmm_b_access::fragment) {
      // the 128 x 16 register-built block stages its sums with row-major B
      // only (the column-major B tile leaves too little room): the B layout
      // decides
      const auto& entry = find_spmm_entry<T>(spmm_config::parse("spmm.tf.m128.n16.k64.w8x1.c2.Br.Cc").kernel);
      ASSERT_NE(entry.cluster_ok, nullptr);
      EXPECT_TRUE(entry.cluster_ok(true));
      EXPECT_FALSE(entry.cluster_ok(false));
      EXPECT_GT(entry.resident_clusters(true, 2), 0);
      EXPECT_EQ(entry.resident_clusters(false, 2), 0);
      expect_error([&] { spmm_plan<T>(t.w, "spmm.tf.m128.n16.k64.w8x1.c2.Bc.Cc", t.n); },
                   {"cannot add up k splits in a cluster"});
      const spmm_plan<T> row_b(t.w, "spmm.tf.m128.n16.k64.w8x1.c2.Br.Cc", t.n);  // accepted
      EXPECT_TRUE(row_b.config().k_cluster);
    }
  }
  if (families == 0) GTEST_SKIP() << "no tensor-core kernels in this build";
}

TEST(SpmmTunerOptions, FilterLayoutsAndIndexKinds) {
  const auto w = random_csr<__half>(1024, 1024, 0.05, row_distribution::uniform, 0, 14);
  tune_options opt;
  opt.index_kinds = {index_kind::i32};
  opt.filter = ".g8.";
  opt.reps = 2;
  auto res = tune_spmm(w, 32, {dense_layout::row_major, dense_layout::row_major}, opt);
  EXPECT_FALSE(res.candidates.empty());
  for (const auto& c : res.candidates) {
    EXPECT_EQ(c.config.kernel.index, index_kind::i32);
    EXPECT_EQ(c.config.kernel.nz_lanes, 8);
    EXPECT_EQ(c.config.b_layout, dense_layout::row_major);
    EXPECT_EQ(c.config.c_layout, dense_layout::row_major);
  }
  EXPECT_EQ(res.plan.config().b_layout, dense_layout::row_major);
  opt.filter = "no-such-config";
  expect_error([&] { tune_spmm(w, 32, {}, opt); }, {"no configuration matches"});
  expect_error([&] { tune_spmm(w, 0, {}, tune_options{}); }, {"n = 0"});
}

TEST(SpmmBadInput, RunArgumentsAreChecked) {
  const auto w = random_csr<float>(100, 80, 0.1, row_distribution::uniform, 0, 15);
  spmm_plan<float> plan(w, "spmm.b128.g8.l1.n8.v16.u1.u16.c0.lf.Br.Cr", 32);
  device_buffer<float> b(80 * 32), c(100 * 32), big(80 * 32 + 100 * 32);
  auto bv = [&](std::size_t size, int64_t ld) { return row_major_view<const float>(b.data(), size, ld); };
  auto cv = [&](std::size_t size, int64_t ld) { return row_major_view<float>(c.data(), size, ld); };
  EXPECT_NO_THROW(plan.run(bv(80 * 32, 32), cv(100 * 32, 32), 32));
  expect_error([&] { plan.run(bv(80 * 32, 32), cv(100 * 32, 32), 33); },
               {"N = 33 is outside 0..32", "build or tune a plan for N = 33"});
  expect_error([&] { plan.run(bv(80 * 32, 32), cv(100 * 32, 32), -1); }, {"N = -1"});
  expect_error([&] { plan.run(col_major_view<const float>(b.data(), 80 * 32, 80), cv(100 * 32, 32), 32); },
               {"B is col_major", "built for row_major B"});
  expect_error([&] { plan.run(bv(80 * 32, 32), col_major_view<float>(c.data(), 100 * 32, 100), 32); },
               {"C is col_major", "built for row_major C"});
  expect_error([&] { plan.run(bv(80 * 32, 31), cv(100 * 32, 32), 32); },
               {"B's ld = 31 is below 32", "row-major B is K x N: ld >= N"});
  expect_error([&] { plan.run(bv(80 * 32, 32), cv(100 * 32, 30), 32); },
               {"C's ld = 30 is below 32", "row-major C is M x N: ld >= N"});
  expect_error([&] { plan.run(bv(80 * 32 - 1, 32), cv(100 * 32, 32), 32); }, {"B has 2559 elements", "spans 2560"});
  expect_error([&] { plan.run(bv(80 * 32, 32), cv(100 * 32 - 5, 32), 32); }, {"C has 3195 elements", "spans 3200"});
  expect_error([&] { plan.run(row_major_view<const float>(nullptr, 80 * 32, 32), cv(100 * 32, 32), 32); },
               {"B is null"});
  expect_error([&] { plan.run(bv(80 * 32, 32), row_major_view<float>(nullptr, 100 * 32, 32), 32); }, {"C is null"});
  expect_error([&] {
    plan.run(row_major_view<const float>(big.data(), big.size(), 32), row_major_view<float>(big.data() + 1000, 3200, 32),
             32);
  },
               {"overlap"});
  spmm_plan<float> empty;
  expect_error([&] { empty.run(bv(80 * 32, 32), cv(100 * 32, 32), 8); }, {"plan is empty"});

  spmm_plan<float> cm(w, "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc", 32);
  expect_error([&] {
    cm.run(col_major_view<const float>(b.data(), b.size(), 79), col_major_view<float>(c.data(), c.size(), 100), 8);
  },
               {"B's ld = 79 is below 80", "column-major B is K x N: ld >= K"});
  expect_error([&] {
    cm.run(col_major_view<const float>(b.data(), b.size(), 80), col_major_view<float>(c.data(), c.size(), 99), 8);
  },
               {"C's ld = 99 is below 100", "column-major C is M x N: ld >= M"});
}

TEST(SpmmBadInput, PlanConstructionAndConfigNames) {
  const auto w = random_csr<float>(100, 80, 0.1, row_distribution::uniform, 0, 16);
  expect_error([&] { spmm_plan<float>(w, "spmm.b128.g8.l1.n8.v16.u1.u16.c0.lf.Br.Cr", 0); }, {"max_n = 0"});
  expect_error([&] { spmm_plan<float>(w, "spmm.b128.g8.l1.n8.v16.u1.u16.c0.lf.Br", 8); },
               {"expected 12 dot-separated fields"});
  expect_error([&] { spmm_plan<float>(w, "spmm.b128.g64.l1.n8.v16.u1.u16.c0.lf.Br.Cr", 8); },
               {"power of two of at most 32"});
  expect_error([&] { spmm_plan<float>(w, "spmm.b128.g8.l1.n16.v16.u1.u16.c0.lf.Bc.Cr", 8); }, {"not compiled in"});
  spmm_plan<float> plan(w, "spmm.b128.g8.l1.n8.v16.u1.i32.c0.lf.Br.Cr", 8);
  expect_error([&] { plan.rebind(random_csr<float>(100, 81, 0.1, row_distribution::uniform, 0, 17)); },
               {"built for a 100 x 80 weight", "got 100 x 81"});
  EXPECT_NO_THROW(plan.rebind(random_csr<float>(100, 80, 0.2, row_distribution::uniform, 0, 18)));
}

TEST(SpmmEdge, ZeroRowsZeroColumnsAndZeroN) {
  host_csr<float> w0(0, 10, {0}, {}, {});
  spmm_plan<float> p0(w0, "spmm.b128.g8.l1.n8.v16.u1.u16.c0.lf.Br.Cr", 8);
  device_buffer<float> b(10 * 8);
  EXPECT_NO_THROW(p0.run(row_major_view<const float>(b.data(), b.size(), 8), row_major_view<float>(nullptr, 0, 8), 8));

  host_csr<float> wk(5, 0, {0, 0, 0, 0, 0, 0}, {}, {});  // K = 0: C = act(bias)
  device_buffer<float> bias(5), c(5 * 3);
  upload(bias, std::vector<float>{1, -2, 3, -4, 5});
  for (const char* name : {"spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc", "spmm.b128.g4.l1.n4.v16.u1.i32.c0.ro.Bc.Cc"}) {
    spmm_plan<float> pk(wk, name, 8);
    poison(c);
    pk.run(col_major_view<const float>(nullptr, 0, 1), col_major_view<float>(c.data(), c.size(), 5), 3,
           {1.f, 0.f, bias.data(), activation::relu});
    EXPECT_EQ(c.to_host(), (std::vector<float>{1, 0, 3, 0, 5, 1, 0, 3, 0, 5, 1, 0, 3, 0, 5})) << name;
  }
  // N = 0: nothing is read or written
  const auto w = random_csr<float>(50, 40, 0.1, row_distribution::uniform, 0, 19);
  spmm_plan<float> p(w, "spmm.b128.g4.l2.n4.v16.u1.u16.c0.lf.Br.Cc", 8);
  device_buffer<float> cc(50);
  poison(cc);
  EXPECT_NO_THROW(p.run(row_major_view<const float>(nullptr, 0, 1), col_major_view<float>(cc.data(), cc.size(), 50), 0));
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  for (float v : cc.to_host()) EXPECT_TRUE(all_ones(v));
}

// Timing of the LLM layers of ANCHORS.md (fp16, 12288 x 12288, 99% and 90%,
// N = 8, 32, 128, column-major and row-major B and C). Disabled: run with
//   --gtest_also_run_disabled_tests --gtest_filter='DISABLED_SpmmTiming*'
// PAISPARSE_SPMM_TIMING_BUDGET (seconds per tuning, default 15) bounds it;
// PAISPARSE_SPMM_TIMING_SPARSITY=99 or 90 runs one sparsity only.
TEST(DISABLED_SpmmTiming, LlmLayers) {
  const char* env = std::getenv("PAISPARSE_SPMM_TIMING_BUDGET");
  const double budget = env ? std::atof(env) : 15.0;
  const char* which = std::getenv("PAISPARSE_SPMM_TIMING_SPARSITY");  // "99", "90" or unset: both
  std::vector<std::string> summary;
  for (double density : {0.01, 0.10}) {
    if (which && std::atoi(which) != static_cast<int>(std::lround(100 * (1 - density)))) continue;
    const auto w = random_csr<__half>(12288, 12288, density, row_distribution::lognormal, 0.8, 2026);
    for (const auto& lp : {layout_pair{dense_layout::col_major, dense_layout::col_major},
                           layout_pair{dense_layout::row_major, dense_layout::row_major}}) {
      for (int32_t n : {8, 32, 128}) {
        tune_options opt;
        opt.index_kinds = {index_kind::u16};
        opt.reps = 7;
        opt.time_budget_s = budget;
        const auto res = tune_spmm(w, n, {lp.b, lp.c}, opt);
        res.print(std::cout, 6);
        std::ostringstream os;
        os << "SPMM-TIMING 12288x12288 " << (1 - density) * 100 << "% N=" << n << " B " << to_string(lp.b) << " C "
           << to_string(lp.c) << ": " << std::fixed << std::setprecision(1) << res.candidates[0].median_us << " us "
           << res.plan.name() << " (" << res.candidates.size() << " candidates, " << res.seconds << " s"
           << (res.budget_exhausted ? ", budget reached" : "") << ")";
        summary.push_back(os.str());
        std::printf("%s\n", os.str().c_str());
      }
    }
  }
  for (const auto& s : summary) std::printf("%s\n", s.c_str());
}
