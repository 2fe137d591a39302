// paisparse: the table of compiled-in SpMV kernels, one entry per kernel key.
//
// Including this header instantiates every kernel of the space for the value
// and index types a translation unit asks for. To compile them once, in
// parallel translation units, define PAISPARSE_SEPARATE_KERNELS in every TU
// that includes paisparse and put PAISPARSE_INSTANTIATE_SPMV(T, I) in one TU
// per (T, I) pair (CMake: paisparse_add_kernel_instantiations(target)).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "../detail/dependent_launch.cuh"
#include "../epilog/linear_epilog.cuh"
#include "../format/device_schedule.cuh"
#include "../kernels/spmv_kernel.cuh"
#include "../prolog/vector_prolog.cuh"
#include "../reduction/four_stage.cuh"
#include "config.hpp"

namespace paisparse {

/// Launches one compiled-in kernel. `overlap`: launch with programmatic
/// dependent launch (see detail/dependent_launch.cuh).
template <class T>
using spmv_launch_fn = void (*)(const device_schedule<T>&, const spmv_bins&, const T*, T*, const epilog_params<T>&,
                                cudaStream_t, bool overlap);

template <class T>
struct spmv_kernel_entry {
  spmv_kernel_key key;
  spmv_launch_fn<T> launch;
};

/// The composition the tuner instantiates for one kernel key.
template <class T, class I, int BlockThreads, int RowThreads, int ItemsPerTeam, int VecBytes, int Unroll>
struct spmv_composition {
  using prolog = vector_prolog<T, I, VecBytes, Unroll>;
  using reduction = four_stage_reduction<(RowThreads < 32 ? RowThreads : 32), (RowThreads > 32 ? RowThreads / 32 : 1),
                                         BlockThreads>;
  using epilog = linear_epilog<T, runtime_activation>;

  static void launch(const device_schedule<T>& s, const spmv_bins&, const T* x, T* y, const epilog_params<T>& ep,
                     cudaStream_t st, bool overlap) {
    if (s.n_items() == 0) return;
    PAISPARSE_CUDA_TRY(detail::launch_kernel(&spmv_kernel<prolog, reduction, epilog, BlockThreads, ItemsPerTeam>,
                                             spmv_grid<BlockThreads, RowThreads, ItemsPerTeam>(s.n_items()),
                                             BlockThreads, 0, st, overlap, s.template view<I>(), x, y, ep));
  }
};

/// The adaptive composition: team size per length bin (spmv_bins).
template <class T, class I, int BlockThreads, int VecBytes, int Unroll>
struct spmv_adaptive_composition {
  using prolog = vector_prolog<T, I, VecBytes, Unroll>;
  using epilog = linear_epilog<T, runtime_activation>;

  static void launch(const device_schedule<T>& s, const spmv_bins& bins, const T* x, T* y, const epilog_params<T>& ep,
                     cudaStream_t st, bool overlap) {
    if (s.n_items() == 0) return;
    PAISPARSE_EXPECTS(bins.count > 0 && bins.item_begin[bins.count] == s.n_items(),
                      "adaptive spmv: the bins were made for " << bins.item_begin[bins.count] << " items, the weight has "
                                                               << s.n_items());
    PAISPARSE_CUDA_TRY(detail::launch_kernel(&spmv_adaptive_kernel<prolog, epilog, BlockThreads>,
                                             static_cast<unsigned>(bins.block_begin[bins.count]), BlockThreads, 0,
                                             st, overlap, s.template view<I>(), x, y, ep, bins));
  }
};

namespace detail {

template <class T, class I, std::size_t Flat>
void add_spmv_adaptive_entry(std::vector<spmv_kernel_entry<T>>& out) {
  constexpr std::size_t nu = space::spmv_unroll.size();
  constexpr std::size_t nv = space::spmv_vec_bytes.size();
  constexpr int u = space::spmv_unroll[Flat % nu];
  constexpr int v = space::spmv_vec_bytes[(Flat / nu) % nv];
  constexpr int b = space::spmv_block_threads[Flat / nu / nv];
  if constexpr (space::spmv_adaptive && v / static_cast<int>(sizeof(T)) * static_cast<int>(sizeof(I)) >= 4) {
    out.push_back({spmv_kernel_key{b, 0, 1, v, u, index_kind_of_v<I>}, &spmv_adaptive_composition<T, I, b, v, u>::launch});
  }
}

template <class T, class I, std::size_t... Flat>
void add_spmv_adaptive_entries(std::vector<spmv_kernel_entry<T>>& out, std::index_sequence<Flat...>) {
  (add_spmv_adaptive_entry<T, I, Flat>(out), ...);
}

template <class T, class I, std::size_t Flat>
void add_spmv_entry(std::vector<spmv_kernel_entry<T>>& out) {
  constexpr std::size_t nu = space::spmv_unroll.size();
  constexpr std::size_t nv = space::spmv_vec_bytes.size();
  constexpr std::size_t ni = space::spmv_items_per_team.size();
  constexpr std::size_t nt = space::spmv_row_threads.size();
  constexpr int u = space::spmv_unroll[Flat % nu];
  constexpr int v = space::spmv_vec_bytes[(Flat / nu) % nv];
  constexpr int r = space::spmv_items_per_team[(Flat / nu / nv) % ni];
  constexpr int t = space::spmv_row_threads[(Flat / nu / nv / ni) % nt];
  constexpr int b = space::spmv_block_threads[Flat / nu / nv / ni / nt];
  if constexpr (b % t == 0 && (t <= 32 || t % 32 == 0) && (r == 1 || t <= 32) &&
                v / static_cast<int>(sizeof(T)) * static_cast<int>(sizeof(I)) >= 4) {
    out.push_back({spmv_kernel_key{b, t, r, v, u, index_kind_of_v<I>}, &spmv_composition<T, I, b, t, r, v, u>::launch});
  }
}

template <class T, class I, std::size_t... Flat>
std::vector<spmv_kernel_entry<T>> make_spmv_entries(std::index_sequence<Flat...>) {
  std::vector<spmv_kernel_entry<T>> out;
  (add_spmv_entry<T, I, Flat>(out), ...);
  return out;
}

}  // namespace detail

/// Every compiled-in SpMV kernel for values T and indices I.
template <class T, class I>
const std::vector<spmv_kernel_entry<T>>& spmv_kernels() {
  static const std::vector<spmv_kernel_entry<T>> entries = [] {
    auto e = detail::make_spmv_entries<T, I>(
        std::make_index_sequence<space::spmv_block_threads.size() * space::spmv_row_threads.size() *
                                 space::spmv_items_per_team.size() * space::spmv_vec_bytes.size() *
                                 space::spmv_unroll.size()>{});
    detail::add_spmv_adaptive_entries<T, I>(
        e, std::make_index_sequence<space::spmv_block_threads.size() * space::spmv_vec_bytes.size() *
                                    space::spmv_unroll.size()>{});
    return e;
  }();
  return entries;
}

/// The launcher for a kernel key, or throws naming why it is not available.
template <class T>
spmv_launch_fn<T> find_spmv_kernel(const spmv_kernel_key& key) {
  const std::string why = spmv_cannot_implement(key, static_cast<int>(sizeof(T)));
  PAISPARSE_EXPECTS(why.empty(), "spmv kernel " << spmv_config{key}.name() << ": " << why);
  const auto& table = key.index == index_kind::u16 ? spmv_kernels<T, uint16_t>() : spmv_kernels<T, int32_t>();
  for (const auto& e : table)
    if (e.key == key) return e.launch;
  PAISPARSE_FAIL("spmv kernel " << spmv_config{key}.name() << " for " << value_type_name<T>()
                                 << " is not compiled in (see PAISPARSE_SPMV_* in tuning/config.hpp)");
  return nullptr;  // not reached
}

/// The bins a configuration runs with on a scheduled weight (empty for
/// fixed-team kernels). Throws if an adaptive configuration gets a weight not
/// in longest-first order.
template <class T>
spmv_bins spmv_bins_for(const spmv_config& c, const device_schedule<T>& s) {
  if (!c.kernel.adaptive()) return {};
  return make_spmv_bins(s.host_item_ptr(), c.kernel.vec_bytes / static_cast<int>(sizeof(T)), c.kernel.unroll, c.passes,
                        c.kernel.block_threads);
}

}  // namespace paisparse

#define PAISPARSE_INSTANTIATE_SPMV(T, I) \
  template const std::vector<::paisparse::spmv_kernel_entry<T>>& ::paisparse::spmv_kernels<T, I>();

#if defined(PAISPARSE_SEPARATE_KERNELS)
#define PAISPARSE_DECLARE_SPMV_(T, I) \
  extern template const std::vector<::paisparse::spmv_kernel_entry<T>>& ::paisparse::spmv_kernels<T, I>();
PAISPARSE_DECLARE_SPMV_(float, int32_t)
PAISPARSE_DECLARE_SPMV_(float, uint16_t)
PAISPARSE_DECLARE_SPMV_(__half, int32_t)
PAISPARSE_DECLARE_SPMV_(__half, uint16_t)
PAISPARSE_DECLARE_SPMV_(__nv_bfloat16, int32_t)
PAISPARSE_DECLARE_SPMV_(__nv_bfloat16, uint16_t)
#undef PAISPARSE_DECLARE_SPMV_
#endif
