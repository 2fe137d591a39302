// paisparse prolog policies: how a row team reads its item's values and
// column indices into registers and accumulates them with x in fp32.
//
// Contract (checked by static_assert in kernels/spmv_kernel.cuh):
//   Prolog::value_type, Prolog::index_type
//   Prolog::vec_elems          nonzeros per vector load; the schedule pads
//                              every item to a multiple of it
//   Prolog::unroll             vector loads a thread issues before using any
//   Prolog::accumulate<TeamThreads>(values, indices, begin, end, x, lane)
//       -> this thread's fp32 partial sum over the item [begin, end), x
//          already offset by the item's column base. Thread `lane` of the
//          team takes vectors lane, lane + TeamThreads, ...
#pragma once

#include <cstdint>

#include "../detail/vector_load.cuh"
#include "../types.hpp"

namespace paisparse {

/// Reads VecBytes of values (and the matching indices: 16-bit ones two per
/// 32-bit word) per load, Unroll loads in flight per thread, then gathers x
/// through the read-only cache.
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

  template <int TeamThreads>
  __device__ __forceinline__ static float accumulate(const T* __restrict__ values, const I* __restrict__ indices,
                                                     int32_t begin, int32_t end, const T* __restrict__ x,
                                                     int lane) {
    using vals_t = detail::raw_vec<VecBytes>;
    using idx_t = detail::raw_vec<index_bytes>;
    const int32_t nvec = (end - begin) / vec_elems;
    const T* vp = values + begin;
    const I* ip = indices + begin;
    float acc = 0.f;
    int32_t v = lane;
    // Main loop: Unroll independent vector loads of values and indices, then
    // Unroll * vec_elems independent gathers of x.
    for (; v + (Unroll - 1) * TeamThreads < nvec; v += Unroll * TeamThreads) {
      vals_t a[Unroll];
      idx_t c[Unroll];
#pragma unroll
      for (int u = 0; u < Unroll; ++u) {
        a[u].load(vp + static_cast<int64_t>(v + u * TeamThreads) * vec_elems);
        c[u].load(ip + static_cast<int64_t>(v + u * TeamThreads) * vec_elems);
      }
      float xv[Unroll][vec_elems];
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
#pragma unroll
        for (int j = 0; j < vec_elems; ++j) xv[u][j] = to_float(__ldg(x + c[u].template bits<I>(j)));
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
#pragma unroll
        for (int j = 0; j < vec_elems; ++j) acc = fmaf(detail::bits_to_float<T>(a[u].template bits<T>(j)), xv[u][j], acc);
    }
    // Remainder: fewer than Unroll vectors left for this thread.
    if constexpr (Unroll > 1) {
      for (; v < nvec; v += TeamThreads) {
        vals_t a;
        idx_t c;
        a.load(vp + static_cast<int64_t>(v) * vec_elems);
        c.load(ip + static_cast<int64_t>(v) * vec_elems);
#pragma unroll
        for (int j = 0; j < vec_elems; ++j)
          acc = fmaf(detail::bits_to_float<T>(a.template bits<T>(j)), to_float(__ldg(x + c.template bits<I>(j))), acc);
      }
    }
    return acc;
  }
};

}  // namespace paisparse
