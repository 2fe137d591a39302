// paisparse: value types, index kinds, activations, and their conversions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "error.hpp"

#if defined(__CUDACC__)
#define PAISPARSE_HD __host__ __device__ __forceinline__
#else
#define PAISPARSE_HD inline
#endif

namespace paisparse {

/// Value types paisparse stores weights in. Accumulation is always fp32.
template <class T>
inline constexpr bool is_value_type_v =
    std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

/// Column index types: 32-bit signed, or 16-bit unsigned (relative to a panel base).
template <class I>
inline constexpr bool is_index_type_v = std::is_same_v<I, int32_t> || std::is_same_v<I, uint16_t>;

enum class index_kind { u16, i32 };

template <class I>
inline constexpr index_kind index_kind_of_v = std::is_same_v<I, uint16_t> ? index_kind::u16 : index_kind::i32;

inline const char* to_string(index_kind k) { return k == index_kind::u16 ? "u16" : "i32"; }

/// Elementwise activation applied by the epilog after scale and bias.
enum class activation { none, relu, gelu, silu };

inline const char* to_string(activation a) {
  switch (a) {
    case activation::none: return "none";
    case activation::relu: return "relu";
    case activation::gelu: return "gelu";
    case activation::silu: return "silu";
  }
  return "?";
}

template <class T>
inline const char* value_type_name() {
  if constexpr (std::is_same_v<T, float>) return "fp32";
  else if constexpr (std::is_same_v<T, __half>) return "fp16";
  else return "bf16";
}

/// Conversions between stored values and fp32, usable on host and device.
PAISPARSE_HD float to_float(float v) { return v; }
PAISPARSE_HD float to_float(__half v) { return __half2float(v); }
PAISPARSE_HD float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
PAISPARSE_HD T from_float(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else return __float2bfloat16_rn(v);
}

/// The fp32 activation functions (host and device share one definition).
PAISPARSE_HD float apply_activation(activation a, float v) {
  switch (a) {
    case activation::relu: return v > 0.f ? v : 0.f;
    case activation::gelu: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case activation::silu: return v / (1.f + expf(-v));
    default: return v;
  }
}

}  // namespace paisparse
