// paisparse: an SpMM plan, the chosen configuration plus the weight
// re-encoded for it, ready to run C = act(alpha * W B + beta * C + bias).
//
// W is M x K (the plan's weight), B is K x N and C is M x N, each dense,
// row- or column-major with a leading dimension (format/dense.hpp).
//
// The rule for N: a plan is built (or tuned) for a largest N, max_n; run()
// accepts any N from 0 to max_n (the kernels predicate columns, and the
// split-row workspace and the staging copy of B are sized for max_n). The
// configuration is the fastest for the N it was tuned for; a very different
// N (say 8 against 256) may deserve a plan of its own.
//
// The layouts are part of the configuration (its B and C fields); run()
// throws if the views' layouts differ.
//
// An LLM layer, Y = X W^T + bias with X the N tokens x K features
// activations (row-major, N x K) and Y the N x M outputs (row-major):
// B = X^T is K x N column-major with ld = K, C = Y^T is M x N column-major
// with ld = M. So, with a plan tuned for layouts {col_major, col_major}:
//
//     auto tuned = paisparse::tune_spmm(w, n_tokens);          // B and C column-major by default
//     tuned.plan.run(paisparse::col_major_view<const T>(x, n_tokens * K, K),
//                    paisparse::col_major_view<T>(y, n_tokens * M, M),
//                    n_tokens, {1.f, 0.f, bias});
//
// Column-major B can be read three ways (the tuner measures all): Bt stages
// B into a row-major copy owned by the plan (a second, small kernel; then
// 16-byte loads along the tokens), Bc gathers X[n][k] in place, and the
// panel kernels (Pc) stage panels of B in shared memory, reading X along K.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "../format/csr.hpp"
#include "../format/dense.hpp"
#include "../format/schedule.hpp"
#include "../format/spmm_schedule.cuh"
#include "../kernels/spmm_kernel.cuh"
#include "spmm_config.hpp"
#include "spmm_registry.cuh"

namespace paisparse {

namespace detail {
inline bool spmm_ranges_overlap(const void* a, int64_t na_bytes, const void* b, int64_t nb_bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return na_bytes > 0 && nb_bytes > 0 && pa < pb + static_cast<uintptr_t>(nb_bytes) &&
         pb < pa + static_cast<uintptr_t>(na_bytes);
}

/// Leading dimension of the row-major staging copy of B: max_n rounded up
/// to 16 bytes, so every row starts aligned for the vector path.
template <class T>
int64_t spmm_staged_ld(int32_t max_n) {
  constexpr int64_t per16 = 16 / static_cast<int64_t>(sizeof(T));
  return (std::max<int64_t>(max_n, 1) + per16 - 1) / per16 * per16;
}
}  // namespace detail

/// The weight re-encoded for a configuration, with split-row tables for up
/// to max_n columns and, for the panel kernels, the item groups (blocking).
template <class T>
spmm_schedule<T> make_spmm_schedule(const host_csr<T, int32_t>& w, const spmm_config& config, int32_t max_n) {
  if (config.kernel.access == spmm_b_access::tensor || config.kernel.access == spmm_b_access::wgmma) {
    if constexpr (sizeof(T) == 2) {
      const bool wg = config.kernel.access == spmm_b_access::wgmma;
      PAISPARSE_EXPECTS(!wg || detail::wgmma_compiled(),
                        "spmm config " << config.name()
                                       << ": the spmm.wg kernels need code compiled for sm_90a "
                                          "(CMAKE_CUDA_ARCHITECTURES=90a) and a GPU that runs it (H100/H200); "
                                          "this build or GPU has none");
      return spmm_schedule<T>(build_tiled_weight(w, config.kernel.tile.m, config.kernel.tile.k, 0,
                                                 wg ? tile_layout::core_matrices : tile_layout::padded_rows),
                              max_n, config.workspace_slices());
    } else {
      PAISPARSE_FAIL("spmm config " << config.name() << ": the tensor-core kernels take fp16 or bf16 values");
      return spmm_schedule<T>();
    }
  }
  if (config.kernel.access == spmm_b_access::fragment) {
    if constexpr (sizeof(T) == 2) {
      return spmm_schedule<T>(build_fragment_weight(w), max_n, config.workspace_slices());
    } else {
      PAISPARSE_FAIL("spmm config " << config.name() << ": the tensor-core kernels take fp16 or bf16 values");
      return spmm_schedule<T>();
    }
  }
  if (config.kernel.access == spmm_b_access::window) {
    if constexpr (sizeof(T) == 2) {
      return spmm_schedule<T>(build_window_weight(w), max_n);
    } else {
      PAISPARSE_FAIL("spmm config " << config.name() << ": the tensor-core kernels take fp16 or bf16 values");
      return spmm_schedule<T>();
    }
  }
  const schedule_params p = spmm_schedule_params(config, static_cast<int>(sizeof(T)));
  if (config.kernel.index == index_kind::u16)
    return spmm_schedule<T>(build_schedule<uint16_t>(w, p), max_n, config.group_items);
  return spmm_schedule<T>(build_schedule<int32_t>(w, p), max_n, config.group_items);
}

/// What distinguishes the schedules of configurations: candidates with the
/// same key can share one (the tuner and the tests build each once).
inline auto spmm_schedule_key(const spmm_config& c) {
  const bool tiled = c.kernel.access == spmm_b_access::tensor || c.kernel.access == spmm_b_access::wgmma;
  return std::make_tuple(c.kernel.access == spmm_b_access::window, c.kernel.access == spmm_b_access::fragment,
                         c.kernel.access == spmm_b_access::wgmma,  // tiles in core matrices
                         static_cast<int>(c.kernel.index),
                         c.kernel.vec_bytes, c.segment_cap,
                         static_cast<int>(c.order), c.panel_rows, c.group_items,
                         tiled ? c.kernel.tile.m : 0, tiled ? c.kernel.tile.k : 0,
                         c.workspace_slices());
}

/// One SpMM call with an already resolved kernel: stages B when the
/// configuration says so (into `staged_b`, cols x staged_ld elements), then
/// launches the kernel. Asynchronous; does not check its arguments (the
/// plan's run() does). The common path of spmm_plan, the tuner and the tests.
/// overlap: launch both kernels with programmatic dependent launch (each
/// starts during the kernel before it, see spmm_plan::set_overlap).
template <class T>
void spmm_execute(const spmm_config& config, spmm_launch_fn<T> launch, const spmm_schedule<T>& w, T* staged_b,
                  int64_t staged_ld, dense_view<const T> b, dense_view<T> c, int32_t n, const epilog_params<T>& ep,
                  cudaStream_t stream, bool overlap = false) {
  if (n <= 0 || w.rows() == 0) return;
  spmm_launch_args<T> a;
  a.weight = &w;
  a.overlap = overlap;
  if (config.stages_b()) {
    if (w.cols() > 0)
      PAISPARSE_CUDA_TRY(detail::launch_kernel(&spmm_stage_rows_kernel<T>, spmm_stage_rows_grid(w.cols(), n), 256, 0,
                                               stream, overlap, b.data, b.ld, staged_b, staged_ld, w.cols(), n));
    a.b = staged_b;
    a.ldb = staged_ld;
  } else {
    a.b = b.data;
    a.ldb = b.ld;
    a.b_row_major = b.layout == dense_layout::row_major;
  }
  a.panel_rows = config.panel_rows;
  a.k_splits = config.k_splits;
  a.k_cluster = config.k_cluster;
  a.c = c.data;
  a.c_row_stride = c.layout == dense_layout::row_major ? c.ld : 1;
  a.c_col_stride = c.layout == dense_layout::row_major ? 1 : c.ld;
  a.n = n;
  a.ep = ep;
  launch(a, stream);
}

template <class T>
class spmm_plan {
  static_assert(is_value_type_v<T>, "spmm_plan: T must be float, __half or __nv_bfloat16");

 public:
  using value_type = T;

  spmm_plan() = default;

  /// Re-encodes `w` for `config` and N up to max_n, and uploads it (blocking).
  /// Throws if the configuration cannot run this value type or its kernel is
  /// not compiled in.
  spmm_plan(const host_csr<T, int32_t>& w, const spmm_config& config, int32_t max_n)
      : config_(config), launch_(resolve(config)), max_n_(max_n) {
    PAISPARSE_EXPECTS(max_n >= 1, "spmm_plan: max_n = " << max_n << ", expected >= 1 (the largest N to run)");
    upload(w);
  }
  /// Same, with the configuration given by name (e.g. "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc").
  spmm_plan(const host_csr<T, int32_t>& w, std::string_view config_name, int32_t max_n)
      : spmm_plan(w, spmm_config::parse(config_name), max_n) {}

  /// Adopts an already re-encoded weight (the tuner's path); max_n is the schedule's.
  spmm_plan(const spmm_config& config, spmm_schedule<T>&& schedule)
      : config_(config), launch_(resolve(config)), schedule_(std::move(schedule)), rows_(schedule_.rows()),
        cols_(schedule_.cols()), max_n_(schedule_.max_n()) {
    allocate_staging();
  }

  /// Replaces the weight by another of the same shape, keeping configuration
  /// and max_n (e.g. new values after fine-tuning). Blocking. Throws if the shape differs.
  void rebind(const host_csr<T, int32_t>& w) {
    PAISPARSE_EXPECTS(launch_ != nullptr, "spmm_plan::rebind: the plan is empty (default-constructed)");
    PAISPARSE_EXPECTS(w.rows() == rows_ && w.cols() == cols_,
                      "spmm_plan::rebind: the plan was built for a " << rows_ << " x " << cols_ << " weight, got "
                                                                     << w.rows() << " x " << w.cols());
    upload(w);
  }

  /// C = act(alpha * W B + beta * C + bias[row]) for the first n columns of
  /// B (K x n) and C (M x n), on `stream`; asynchronous, no allocation,
  /// capturable in a CUDA graph. 0 <= n <= max_n(). B and C are device
  /// memory in the configuration's layouts, must not overlap, and hold the
  /// extent their ld implies (dense_extent). C is read only when beta != 0.
  /// Not re-entrant: one plan must not run on two streams at once (split
  /// rows share a workspace, staged B a buffer).
  void run(dense_view<const T> b, dense_view<T> c, int32_t n, const epilog_params<T>& ep = {},
           cudaStream_t stream = nullptr) const {
    PAISPARSE_EXPECTS(launch_ != nullptr, "spmm_plan::run: the plan is empty (default-constructed)");
    PAISPARSE_EXPECTS(n >= 0 && n <= max_n_, "spmm_plan::run: N = " << n << " is outside 0.." << max_n_
                                                                     << ": the plan was built for at most " << max_n_
                                                                     << " columns; build or tune a plan for N = "
                                                                     << n);
    PAISPARSE_EXPECTS(b.layout == config_.b_layout, "spmm_plan::run: B is " << to_string(b.layout) << ", the plan ("
                                                                            << name() << ") was built for "
                                                                            << to_string(config_.b_layout) << " B");
    PAISPARSE_EXPECTS(c.layout == config_.c_layout, "spmm_plan::run: C is " << to_string(c.layout) << ", the plan ("
                                                                            << name() << ") was built for "
                                                                            << to_string(config_.c_layout) << " C");
    const int64_t b_min_ld = std::max<int64_t>(1, b.layout == dense_layout::row_major ? n : cols_);
    PAISPARSE_EXPECTS(b.ld >= b_min_ld, "spmm_plan::run: B's ld = "
                                            << b.ld << " is below " << b_min_ld << " ("
                                            << (b.layout == dense_layout::row_major ? "row-major B is K x N: ld >= N"
                                                                                    : "column-major B is K x N: ld >= K")
                                            << ", with K = " << cols_ << ", N = " << n << ")");
    const int64_t c_min_ld = std::max<int64_t>(1, c.layout == dense_layout::row_major ? n : rows_);
    PAISPARSE_EXPECTS(c.ld >= c_min_ld, "spmm_plan::run: C's ld = "
                                            << c.ld << " is below " << c_min_ld << " ("
                                            << (c.layout == dense_layout::row_major ? "row-major C is M x N: ld >= N"
                                                                                    : "column-major C is M x N: ld >= M")
                                            << ", with M = " << rows_ << ", N = " << n << ")");
    const int64_t b_need = dense_extent(cols_, n, b.ld, b.layout);
    const int64_t c_need = dense_extent(rows_, n, c.ld, c.layout);
    PAISPARSE_EXPECTS(b_need == 0 || b.data != nullptr, "spmm_plan::run: B is null");
    PAISPARSE_EXPECTS(c_need == 0 || c.data != nullptr, "spmm_plan::run: C is null");
    PAISPARSE_EXPECTS(static_cast<int64_t>(b.size) >= b_need,
                      "spmm_plan::run: B has " << b.size << " elements, a " << cols_ << " x " << n << " "
                                               << to_string(b.layout) << " B with ld " << b.ld << " spans " << b_need);
    PAISPARSE_EXPECTS(static_cast<int64_t>(c.size) >= c_need,
                      "spmm_plan::run: C has " << c.size << " elements, a " << rows_ << " x " << n << " "
                                               << to_string(c.layout) << " C with ld " << c.ld << " spans " << c_need);
    PAISPARSE_EXPECTS(!detail::spmm_ranges_overlap(b.data, b_need * static_cast<int64_t>(sizeof(T)), c.data,
                                                   c_need * static_cast<int64_t>(sizeof(T))),
                      "spmm_plan::run: B and C overlap; C must be a separate buffer");
    spmm_execute(config_, launch_, schedule_, staged_b_.data(), staged_ld_, b, c, n, ep, stream, overlap_);
  }

  /// Whether run() launches with programmatic dependent launch (default on):
  /// its kernels may then start while the kernel before them in the stream
  /// finishes (as far as that kernel lets them: SpMV kernels and the B
  /// staging kernel of Bt configurations do, SpMM kernels only at their end),
  /// fetch their weight, and wait for it only before reading B, C and bias.
  /// Off: each kernel starts after the previous one ends.
  void set_overlap(bool on) { overlap_ = on; }
  bool overlap() const { return overlap_; }

  const spmm_config& config() const { return config_; }
  std::string name() const { return config_.name(); }
  int32_t rows() const { return rows_; }
  int32_t cols() const { return cols_; }
  int32_t nnz() const { return schedule_.nnz(); }
  /// The largest N run() accepts.
  int32_t max_n() const { return max_n_; }
  const spmm_schedule<T>& schedule() const { return schedule_; }
  /// Device bytes of the re-encoded weight.
  int64_t weight_bytes() const { return schedule_.weight_bytes(); }

 private:
  static spmm_launch_fn<T> resolve(const spmm_config& c) {
    const std::string why = spmm_cannot_implement(c, static_cast<int>(sizeof(T)));
    PAISPARSE_EXPECTS(why.empty(), "spmm config " << c.name() << ": " << why);
    if (c.k_cluster) {
      const auto& entry = find_spmm_entry<T>(c.kernel);
      PAISPARSE_EXPECTS(entry.cluster_ok != nullptr && entry.cluster_ok(c.b_layout == dense_layout::row_major),
                        "spmm config " << c.name()
                                       << ": this block cannot add up k splits in a cluster (its shared memory "
                                          "does not hold its staged sums, or its code predates sm_90); split "
                                          "through slices, s"
                                       << c.k_splits);
    }
    return find_spmm_kernel<T>(c.kernel);
  }
  void upload(const host_csr<T, int32_t>& w) {
    rows_ = w.rows();
    cols_ = w.cols();
    schedule_ = make_spmm_schedule(w, config_, max_n_);
    allocate_staging();
  }
  void allocate_staging() {
    staged_ld_ = detail::spmm_staged_ld<T>(max_n_);
    const std::size_t need = config_.stages_b() ? static_cast<std::size_t>(cols_) * staged_ld_ : 0;
    if (staged_b_.size() != need) staged_b_ = device_buffer<T>(need);
  }

  spmm_config config_;
  spmm_launch_fn<T> launch_ = nullptr;
  spmm_schedule<T> schedule_;
  mutable device_buffer<T> staged_b_;  // the row-major copy of B (Bt configurations)
  int64_t staged_ld_ = 0;
  int32_t rows_ = 0, cols_ = 0, max_n_ = 0;
  bool overlap_ = true;
};

}  // namespace paisparse
