// paisparse prolog policies: how a row team reads its item's values and
// column indices into registers and accumulates them with x in fp32.
//
// Contract (checked by static_assert in kernels/spmv_kernel.cuh):
//   Prolog::value_type, Prolog::index_type
//   Prolog::vec_elems          nonzeros per vector load; the schedule pads
//                              every item to a multiple of it
//   Prolog::unroll             vector loads a thread issues before using any
//   Prolog::accumulate<TeamThreads, Items>(values, indices, begin, nvec, x, lane, acc)
//       adds to acc[j] this thread's fp32 partial sum over item j (nvec[j]
//       vectors from begin[j]; x[j] already offset by the item's column
//       base). Thread `lane` of the team takes vectors lane, lane +
//       TeamThreads, ... of every item; items run side by side, so a thread
//       has Items x Unroll vector loads in flight (the prefetch depth).
#pragma once

#include <cstdint>

#include "../detail/dependent_launch.cuh"
#include "../detail/vector_load.cuh"
#include "../types.hpp"

namespace paisparse {

/// Reads VecBytes of values (and the matching indices: 16-bit ones two per
/// 32-bit word) per load, Unroll loads in flight per thread, then gathers x.
/// The weight is immutable while a plan lives and is read through the
/// read-only (non-coherent) path; x is read with coherent loads cached in L1
/// (ld.global.ca), because with programmatic dependent launch the previous
/// kernel may still be writing x while this one starts: a non-coherent load
/// may be scheduled before detail::wait_for_inputs() or return stale data.
template <class T, class I, int VecBytes, int Unroll>
struct vector_prolog {
  static_assert(is_value_type_v<T>, "vector_prolog: T must be float, __half or __nv_bfloat16");
  static_assert(is_index_type_v<I>, "vector_prolog: I must be int32_t or uint16_t");
  static_assert(VecBytes == 8 || VecBytes == 16, "vector_prolog: VecBytes must be 8 or 16");
  static_assert(Unroll >= 1 && Unroll <= 8, "vector_prolog: Unroll must be 1..8");

  using value_type = T;
  using index_type = I;
  static constexpr int vec_bytes = VecBytes;
  static constexpr int vec_elems = VecBytes / static_cast<int>(sizeof(T));
  static constexpr int unroll = Unroll;
  static constexpr int index_bytes = vec_elems * static_cast<int>(sizeof(I));
  static_assert(index_bytes >= 4, "vector_prolog: a vector of indices must span at least 4 bytes");

  /// Accumulates Items work items at once: for each item j, this thread's
  /// fp32 partial sum over its vectors lane, lane + TeamThreads, ... of the
  /// nvec[j] vectors starting at begin[j]; x[j] is x offset by item j's column
  /// base. All Items x Unroll vector loads of one step are issued before any
  /// is used, so a thread keeps that many loads in flight.
  template <int TeamThreads, int Items>
  __device__ __forceinline__ static void accumulate(const T* __restrict__ values, const I* __restrict__ indices,
                                                    const int32_t (&begin)[Items], const int32_t (&nvec)[Items],
                                                    const T* const (&x)[Items], int lane, float (&acc)[Items]) {
    using vals_t = detail::raw_vec<VecBytes>;
    using idx_t = detail::raw_vec<index_bytes>;
    int32_t most = 0;
#pragma unroll
    for (int j = 0; j < Items; ++j) most = max(most, nvec[j]);
    bool waited = false;
    for (int32_t v = lane; v < most; v += Unroll * TeamThreads) {
      vals_t a[Unroll][Items];
      idx_t c[Unroll][Items];
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
#pragma unroll
        for (int j = 0; j < Items; ++j) {
          const int32_t vv = v + u * TeamThreads;
          if (vv < nvec[j]) {
            const int64_t off = begin[j] + static_cast<int64_t>(vv) * vec_elems;
            a[u][j].load(values + off);
            c[u][j].load(indices + off);
          } else {  // defined (column 0) so that no gather address is ever garbage
#pragma unroll
            for (int k = 0; k < index_bytes / 4; ++k) c[u][j].w[k] = 0u;
#pragma unroll
            for (int k = 0; k < VecBytes / 4; ++k) a[u][j].w[k] = 0u;
          }
        }
      if (!waited) {  // x may come from the previous kernel
        detail::wait_for_inputs();
        waited = true;
      }
      float xv[Unroll][Items][vec_elems];
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
#pragma unroll
        for (int j = 0; j < Items; ++j)
#pragma unroll
          for (int e = 0; e < vec_elems; ++e)
            xv[u][j][e] = v + u * TeamThreads < nvec[j] ? to_float(__ldca(x[j] + c[u][j].template bits<I>(e))) : 0.f;
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
#pragma unroll
        for (int j = 0; j < Items; ++j)
          if (v + u * TeamThreads < nvec[j]) {
#pragma unroll
            for (int e = 0; e < vec_elems; ++e)
              acc[j] = fmaf(detail::bits_to_float<T>(a[u][j].template bits<T>(e)), xv[u][j][e], acc[j]);
          }
    }
    if (!waited) detail::wait_for_inputs();  // the epilog reads y and bias
  }
};

}  // namespace paisparse
