// paisparse prolog policies of the tensor-core SpMM path ("load sparse,
// compute dense"): they fill the two shared-memory operands of one k step.
//
//   tile_scatter_prolog   the weight: a tile_m x tile_k tile of W (format/
//                         tiled_weight.cuh) is read as packed words, 4 per
//                         16-byte load, into registers (issued one k step
//                         ahead), and scattered into a zeroed dense copy in
//                         shared memory, rows padded by tile_pad elements.
//   b_tile_stage          the activations: the tile_k x tile_n block of B
//                         the step needs, copied with cp.async (16 bytes,
//                         zero-filled past K and N) when B and its ld are
//                         16-byte aligned, element by element otherwise.
//                         Column-major B (the LLM layout, X along K) is kept
//                         as tile_n rows of tile_k; row-major B as tile_k
//                         rows of tile_n (reduction/mma_reduction.cuh reads
//                         it transposed).
//   b_core_stage          the same block of a column-major B in the core-
//                         matrix layout the wgmma instruction reads (the
//                         spmm.wg kernels; their W tiles come the same way,
//                         tile_layout::core_matrices).
//
// Every function is called by all Threads threads of the block; the kernel
// (kernels/spmm_tensor_kernel.cuh) places the barriers.
#pragma once

#include <cstdint>

#include "../detail/mma.cuh"
#include "../format/tiled_weight.cuh"
#include "../types.hpp"

namespace paisparse {

template <class T, int Threads, int TileM, int TileK, int Regs = 2, tile_layout Layout = tile_layout::padded_rows>
struct tile_scatter_prolog {
  static_assert(sizeof(T) == 2, "tile_scatter_prolog: 16-bit values only");
  static_assert(TileM % 16 == 0 && TileK % 16 == 0, "tile_scatter_prolog: tiles of whole 16 x 16 blocks");
  static constexpr int ld = TileK + tile_pad;                     // elements per shared row (padded rows)
  // one buffer: padded rows, or core matrices and one spare 16-byte piece
  // for the padding words (format/tiled_weight.hpp)
  static constexpr int smem_elems = Layout == tile_layout::padded_rows ? TileM * ld : TileM * TileK + 8;
  static constexpr int per_pass = Threads * 4;                    // words one round of 16-byte loads covers
  static constexpr int prefetched = per_pass * Regs;              // words held in registers per tile

  /// A tile's words in flight: the first `prefetched` of them.
  struct staged {
    uint4 w[Regs];
    int32_t begin, end;  // the tile's words
  };

  /// Issues the loads of tile `t` (words [tile_ptr[t], tile_ptr[t + 1])).
  __device__ __forceinline__ static void load(const tiled_weight_view& v, int64_t t, int tid, staged& s) {
    s.begin = v.tile_ptr[t];
    s.end = v.tile_ptr[t + 1];
#pragma unroll
    for (int r = 0; r < Regs; ++r) {
      const int32_t i = s.begin + (r * Threads + tid) * 4;
      s.w[r] = i < s.end ? __ldg(reinterpret_cast<const uint4*>(v.words + i)) : make_uint4(0, 0, 0, 0);
    }
  }

  /// Zeroes one shared buffer (16-byte stores).
  __device__ __forceinline__ static void zero(T* smem, int tid) {
    constexpr int vecs = smem_elems * 2 / 16;
    uint4* p = reinterpret_cast<uint4*>(smem);
#pragma unroll 4
    for (int i = tid; i < vecs; i += Threads) p[i] = make_uint4(0, 0, 0, 0);
  }

  /// Writes the tile's nonzeros into a zeroed buffer: the prefetched words,
  /// then any beyond them (loaded here; only tiles denser than `prefetched`).
  __device__ __forceinline__ static void scatter(const tiled_weight_view& v, const staged& s, T* smem, int tid) {
    uint16_t* dst = reinterpret_cast<uint16_t*>(smem);
#pragma unroll
    for (int r = 0; r < Regs; ++r)
      if (s.begin + (r * Threads + tid) * 4 < s.end) put(dst, s.w[r]);
    for (int32_t i = s.begin + prefetched + tid * 4; i < s.end; i += per_pass)
      put(dst, __ldg(reinterpret_cast<const uint4*>(v.words + i)));
  }

 private:
  __device__ __forceinline__ static void put(uint16_t* dst, uint4 q) {
    dst[q.x >> 16] = static_cast<uint16_t>(q.x & 0xffffu);
    dst[q.y >> 16] = static_cast<uint16_t>(q.y & 0xffffu);
    dst[q.z >> 16] = static_cast<uint16_t>(q.z & 0xffffu);
    dst[q.w >> 16] = static_cast<uint16_t>(q.w & 0xffffu);
  }
};

/// The activations of the spmm.wg kernels: the tile_k x tile_n block of a
/// column-major B, kept as the wgmma instruction reads a K-major operand:
/// 8 x 8 core matrices of 128 contiguous bytes, element (k, n) at
/// ((n / 8) * (TileK / 8) + k / 8) * 64 + (n % 8) * 8 + k % 8. Each 16-byte
/// piece (8 values of k, one column) is one row of a core matrix, copied
/// with cp.async (zero-filled past K and N) when B and its ld are 16-byte
/// aligned, element by element otherwise.
///
/// A thread copies the same piece of every (Threads / pieces)-th column:
/// lanes 8 apart take the pieces of 8 neighbouring columns, so the 8 lanes
/// of one piece fill 128 contiguous bytes of shared memory (no bank
/// conflict), and a step inside K costs each copy an add and one bound.
template <class T, int Threads, int TileK, int TileN>
struct b_core_stage {
  static_assert(sizeof(T) == 2, "b_core_stage: 16-bit values only");
  static_assert(TileK % 16 == 0 && TileN % 8 == 0, "b_core_stage: whole core matrices");
  static constexpr int pieces = TileK / 8;  // 16-byte pieces per column of the tile
  static constexpr int smem_elems = TileN * TileK;
  static constexpr int cols_per_pass = Threads / pieces;  // columns one round of copies covers
  static_assert(Threads % (8 * pieces) == 0, "b_core_stage: the block's threads must cover 8 columns at a time");
  static constexpr int passes = (TileN + cols_per_pass - 1) / cols_per_pass;

  __device__ __forceinline__ static int place(int nn, int kk) {
    return ((nn / 8) * pieces + kk / 8) * 64 + (nn % 8) * 8 + kk % 8;
  }
  /// This thread's first column and piece.
  __device__ __forceinline__ static int first_col(int tid) { return tid % 8 + 8 * (tid / (8 * pieces)); }
  __device__ __forceinline__ static int first_k(int tid) { return (tid / 8) % pieces * 8; }

  /// Where this thread's first piece of every tile starts in B, in
  /// elements, for the step at k0 = 0 (for stage_at's fast path).
  __device__ __forceinline__ static int64_t thread_offset(int64_t ldb, int32_t n0, int tid) {
    return static_cast<int64_t>(n0 + first_col(tid)) * ldb + first_k(tid);
  }

  /// Stages rows k0.. (K rows) and columns n0.. (N columns) of B into
  /// `smem`; the caller commits and waits (vec: cp.async). offset:
  /// thread_offset().
  __device__ __forceinline__ static void stage_at(T* smem, const T* b, int64_t ldb, int64_t offset, int32_t k0,
                                                  int32_t n0, int32_t k, int32_t n, bool vec, int tid) {
    if (vec && k0 + TileK <= k) {  // inside K: whole pieces, a fixed stride apart
      const int c0 = first_col(tid);
      const uint32_t dst = detail::shared_address(smem + place(c0, first_k(tid)));
      const int64_t stride = static_cast<int64_t>(cols_per_pass) * ldb;
      int64_t at = offset + k0;
#pragma unroll
      for (int j = 0; j < passes; ++j, at += stride) {
        const int c = c0 + j * cols_per_pass;
        if (TileN % cols_per_pass != 0 && c >= TileN) break;
        const int bytes = n0 + c < n ? 16 : 0;
        detail::cp_async_16(dst + j * (cols_per_pass / 8) * pieces * 128, bytes > 0 ? b + at : b, bytes);
      }
    } else if (vec) {
#pragma unroll 4
      for (int p = tid; p < TileN * pieces; p += Threads) {
        const int nn = p / pieces, kk = (p % pieces) * 8;
        const int32_t gk = k0 + kk, gn = n0 + nn;
        const int bytes = gn < n ? 2 * max(0, min(8, k - gk)) : 0;
        const T* src = bytes > 0 ? b + static_cast<int64_t>(gn) * ldb + gk : b;
        detail::cp_async_16(detail::shared_address(smem + place(nn, kk)), src, bytes);
      }
    } else {
      for (int e = tid; e < TileN * TileK; e += Threads) {
        const int nn = e / TileK, kk = e % TileK;
        const int32_t gk = k0 + kk, gn = n0 + nn;
        smem[place(nn, kk)] = gn < n && gk < k ? b[static_cast<int64_t>(gn) * ldb + gk] : from_float<T>(0.f);
      }
    }
  }
};

/// Where B(k, n) lies: b[k + n * ldb] (column-major) or b[k * ldb + n].
template <class T, int Threads, int TileK, int TileN, bool BRowMajor>
struct b_tile_stage {
  static_assert(sizeof(T) == 2, "b_tile_stage: 16-bit values only");
  static constexpr int inner = BRowMajor ? TileN : TileK;         // contiguous extent
  static constexpr int outer = BRowMajor ? TileK : TileN;
  static constexpr int ld = inner + 8;                             // elements per shared row (16-byte pad)
  static constexpr int smem_elems = outer * ld;
  static_assert(inner % 8 == 0, "b_tile_stage: shared rows of whole 16-byte pieces");
  static constexpr int pieces = inner / 8;                         // 16-byte pieces per shared row
  static constexpr int rows_per_pass = Threads / pieces;           // shared rows one round of copies covers
  static constexpr int passes = (outer + rows_per_pass - 1) / rows_per_pass;
  static_assert(Threads % pieces == 0, "b_tile_stage: the block's threads must cover whole shared rows");

  /// Where this thread's first piece of every tile starts in B, in elements,
  /// for the step at k0 = 0 (for stage_inside).
  __device__ __forceinline__ static int64_t thread_offset(int64_t ldb, int32_t n0, int tid) {
    const int o = tid / pieces, i = (tid % pieces) * 8;
    return BRowMajor ? static_cast<int64_t>(o) * ldb + n0 + i : static_cast<int64_t>(n0 + o) * ldb + i;
  }

  /// stage() for a step that lies wholly inside K, with B and ldb 16-byte
  /// aligned: the thread's pieces are a fixed stride apart, so each costs an
  /// add and one bound (N) instead of the general path's arithmetic.
  /// offset: thread_offset().
  __device__ __forceinline__ static void stage_inside(T* smem, const T* b, int64_t ldb, int64_t offset,
                                                      int32_t k0, int32_t n0, int32_t n, int tid) {
    const int o = tid / pieces, i = (tid % pieces) * 8;
    int64_t at = offset + (BRowMajor ? static_cast<int64_t>(k0) * ldb : k0);
    const int64_t stride = static_cast<int64_t>(rows_per_pass) * ldb;
    const int row_bytes = 2 * max(0, min(8, n - n0 - i));  // row-major B: this piece's columns left of N
    const uint32_t dst = detail::shared_address(smem + o * ld + i);
#pragma unroll
    for (int j = 0; j < passes; ++j, at += stride) {
      const int oj = o + j * rows_per_pass;
      if (outer % rows_per_pass != 0 && oj >= outer) break;
      const int bytes = BRowMajor ? row_bytes : (n0 + oj < n ? 16 : 0);
      detail::cp_async_16(dst + j * rows_per_pass * ld * 2, bytes > 0 ? b + at : b, bytes);
    }
  }

  /// Stages the step at rows k0..: stage_inside() when the step lies wholly
  /// inside K and vec (B and ldb 16-byte aligned), else stage().
  __device__ __forceinline__ static void stage_at(T* smem, const T* b, int64_t ldb, int64_t offset,
                                                  int32_t k0, int32_t n0, int32_t k, int32_t n, bool vec, int tid) {
    if (vec && k0 + TileK <= k) stage_inside(smem, b, ldb, offset, k0, n0, n, tid);
    else stage(smem, b, ldb, k0, n0, k, n, vec, tid);
  }

  /// Stages the block at rows k0.. of B (K rows) and columns n0.. (N columns)
  /// into `smem`. vec: B and ldb are 16-byte aligned (cp.async; the caller
  /// commits and waits), else plain loads and stores.
  /// B is read with plain loads and cp.async (L2), never the non-coherent
  /// path: with programmatic dependent launch it may come from the previous
  /// kernel (so b is not __restrict__, which would let the compiler use
  /// ld.global.nc; an explicit __ldca cost 8-16 registers in the kernels).
  __device__ __forceinline__ static void stage(T* smem, const T* b, int64_t ldb, int32_t k0, int32_t n0,
                                               int32_t k, int32_t n, bool vec, int tid) {
    // the tile's extent along B's contiguous (inner) and strided (outer) directions
    const int32_t i0 = BRowMajor ? n0 : k0, o0 = BRowMajor ? k0 : n0;
    const int32_t i_end = BRowMajor ? n : k, o_end = BRowMajor ? k : n;
    if (vec) {
      constexpr int pieces = inner / 8;
#pragma unroll 2
      for (int p = tid; p < outer * pieces; p += Threads) {
        const int o = p / pieces, i = (p % pieces) * 8;
        const int32_t gi = i0 + i, go = o0 + o;
        const int bytes = go < o_end ? 2 * max(0, min(8, i_end - gi)) : 0;
        const T* src = bytes > 0 ? b + static_cast<int64_t>(go) * ldb + gi : b;
        detail::cp_async_16(detail::shared_address(smem + o * ld + i), src, bytes);
      }
    } else {
      for (int p = tid; p < outer * inner; p += Threads) {
        const int o = p / inner, i = p % inner;
        const int32_t gi = i0 + i, go = o0 + o;
        T v;
        if (go < o_end && gi < i_end) v = b[static_cast<int64_t>(go) * ldb + gi];
        else v = from_float<T>(0.f);
        smem[o * ld + i] = v;
      }
    }
  }
};

}  // namespace paisparse
