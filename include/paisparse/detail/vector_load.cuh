// paisparse detail: raw vector loads of Bytes bytes and element extraction.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace paisparse::detail {

/// Bytes of raw data loaded with the widest aligned instructions (16, 8 or 4 bytes).
template <int Bytes>
struct raw_vec {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes % 16 == 0, "raw_vec: Bytes must be 4, 8 or a multiple of 16");
  uint32_t w[Bytes / 4];

  /// Loads Bytes from p. Default: read-only, non-coherent (ld.global.nc; the
  /// weights are immutable during a call). Coherent: a plain load (ld.global),
  /// for data the previous kernel in the stream may write (an SpMM's B),
  /// which with programmatic dependent launch must not be read through the
  /// non-coherent path (see detail/dependent_launch.cuh). A plain load, like
  /// the other reads of B (an explicit __ldca cost the dense-tile kernels
  /// 8-16 registers, see prolog/tile_prolog.cuh).
  template <bool Coherent = false>
  __device__ __forceinline__ void load(const void* p) {
    if constexpr (Bytes % 16 == 0) {
#pragma unroll
      for (int i = 0; i < Bytes / 16; ++i) {
        const uint4 v = read<Coherent>(reinterpret_cast<const uint4*>(p) + i);
        w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
      }
    } else if constexpr (Bytes == 8) {
      const uint2 v = read<Coherent>(reinterpret_cast<const uint2*>(p));
      w[0] = v.x, w[1] = v.y;
    } else {
      w[0] = read<Coherent>(reinterpret_cast<const unsigned int*>(p));
    }
  }

  template <bool Coherent, class V>
  __device__ __forceinline__ static V read(const V* p) {
    if constexpr (Coherent) return *p;
    else return __ldg(p);
  }

  /// Element j of a packed array of E (4- or 2-byte elements), as raw bits.
  template <class E>
  __device__ __forceinline__ uint32_t bits(int j) const {
    if constexpr (sizeof(E) == 4) return w[j];
    else return (w[j >> 1] >> ((j & 1) * 16)) & 0xffffu;
  }
};

template <class T>
__device__ __forceinline__ float bits_to_float(uint32_t b) {
  if constexpr (std::is_same_v<T, float>) return __uint_as_float(b);
  else if constexpr (std::is_same_v<T, __half>) return __half2float(__ushort_as_half(static_cast<unsigned short>(b)));
  else return __uint_as_float(b << 16);  // bf16 -> fp32 is exact
}

}  // namespace paisparse::detail
