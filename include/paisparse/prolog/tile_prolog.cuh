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
//   tile_copy_prolog      the weight of the spmm.wg kernels: a tile's
//                         packed words by one bulk copy (the copy engine)
//                         into shared memory several steps ahead, then
//                         scattered into a zeroed dense tile in the core-
//                         matrix layout wgmma reads (tile_layout::
//                         core_matrices).
//   b_swizzle_stage       the activations of the spmm.wg kernels: a column-
//                         major B's block in the 128-byte-swizzled layout
//                         wgmma reads, by one TMA copy per 64 of K, or
//                         element by element where B is not 16-byte
//                         aligned.
//
// A function is called by all Threads threads of the block (of the spmm.wg
// producer warpgroup), or by one where it says so; the kernel
// (kernels/spmm_tensor_kernel.cuh, kernels/spmm_wgmma_kernel.cuh) places
// the barriers.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "../detail/mma.cuh"
#include "../format/tiled_weight.cuh"
#include "../types.hpp"

namespace paisparse {

namespace detail {
/// Writes four packed words (place << 16 | value bits) into a tile.
__device__ __forceinline__ void put_tile_words(uint16_t* dst, uint4 q) {
  dst[q.x >> 16] = static_cast<uint16_t>(q.x & 0xffffu);
  dst[q.y >> 16] = static_cast<uint16_t>(q.y & 0xffffu);
  dst[q.z >> 16] = static_cast<uint16_t>(q.z & 0xffffu);
  dst[q.w >> 16] = static_cast<uint16_t>(q.w & 0xffffu);
}
}  // namespace detail

/// The weight of the spmm.tc kernels: tiles in padded rows
/// (tile_layout::padded_rows).
template <class T, int Threads, int TileM, int TileK, int Regs = 2>
struct tile_scatter_prolog {
  static_assert(sizeof(T) == 2, "tile_scatter_prolog: 16-bit values only");
  static_assert(TileM % 16 == 0 && TileK % 16 == 0, "tile_scatter_prolog: tiles of whole 16 x 16 blocks");
  static constexpr int ld = TileK + tile_pad;                     // elements per shared row (padded rows)
  static constexpr int smem_elems = TileM * ld;                   // one buffer
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
      if (s.begin + (r * Threads + tid) * 4 < s.end) detail::put_tile_words(dst, s.w[r]);
    for (int32_t i = s.begin + prefetched + tid * 4; i < s.end; i += per_pass)
      detail::put_tile_words(dst, __ldg(reinterpret_cast<const uint4*>(v.words + i)));
  }
};

/// The activations of the spmm.wg kernels: the tile_k x tile_n block of a
/// column-major B, kept as the wgmma instruction reads a K-major operand
/// with the 128-byte swizzle: per 64 values of K (128 bytes) one piece of
/// TileN rows, the pieces one after another; in a piece the 16-byte chunk
/// k / 8 of row n lies at chunk (k / 8) ^ (n % 8), i.e. element (n, k) at
/// (k / 64) * TileN * 64 + n * 64 + (((k % 64) / 8) ^ (n % 8)) * 8 + k % 8; a
/// buffer starts on a 1024-byte boundary. The layout the Hopper copy engine
/// (TMA) writes with CU_TENSOR_MAP_SWIZZLE_128B: where B and its ld are
/// 16-byte aligned one thread copies each piece with one instruction
/// (copy_tma, zeros past K and N, completing on an mbarrier); otherwise the
/// producer's threads copy the tile element by element (stage).
template <class T, int Threads, int TileK, int TileN>
struct b_swizzle_stage {
  static_assert(sizeof(T) == 2, "b_swizzle_stage: 16-bit values only");
  static_assert(TileK % 64 == 0, "b_swizzle_stage: pieces of 128-byte rows (TileK a multiple of 64)");
  static_assert(TileN % 8 == 0, "b_swizzle_stage: whole 8-row swizzle atoms");
  static constexpr int tile_n = TileN, tile_k = TileK;
  static constexpr int pieces = TileK / 64;
  static constexpr int piece_elems = TileN * 64;     // one piece: what one TMA copy (a 64 x TileN box) writes
  static constexpr int smem_elems = TileN * TileK;
  static constexpr int bytes = smem_elems * 2;  // one tile, as the TMA counts it

  __device__ __forceinline__ static int place(int nn, int kk) {
    return (kk / 64) * piece_elems + nn * 64 + ((((kk % 64) / 8) ^ (nn % 8)) * 8) + kk % 8;
  }

  /// One thread: copies rows k0.. and columns n0.. of B (the tensor map's
  /// dimensions 0 and 1; boxes of 64 x TileN) into `smem` and has the
  /// copies' bytes complete on `bar` (the caller's stage barrier; its
  /// expected bytes are raised here).
  __device__ __forceinline__ static void copy_tma(T* smem, const CUtensorMap& map, int32_t k0, int32_t n0,
                                                  uint64_t* bar) {
    const uint32_t b = detail::shared_address(bar);
    asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" ::"r"(b), "r"(bytes) : "memory");
#pragma unroll
    for (int j = 0; j < pieces; ++j)
      asm volatile(
          "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], "
          "[%4];" ::"r"(detail::shared_address(smem + j * piece_elems)),
          "l"(reinterpret_cast<uint64_t>(&map)), "r"(k0 + j * 64), "r"(n0), "r"(b)
          : "memory");
  }

  /// Without the TMA (B or its ld not 16-byte aligned): stages rows k0..
  /// (K rows) and columns n0.. (N columns) of B into `smem` element by
  /// element with the Threads threads, zeros past K and N.
  __device__ __forceinline__ static void stage(T* smem, const T* b, int64_t ldb, int32_t k0, int32_t n0, int32_t k,
                                               int32_t n, int tid) {
    for (int e = tid; e < TileN * TileK; e += Threads) {
      const int nn = e / TileK, kk = e % TileK;
      const int32_t gk = k0 + kk, gn = n0 + nn;
      smem[place(nn, kk)] = gn < n && gk < k ? b[static_cast<int64_t>(gn) * ldb + gk] : from_float<T>(0.f);
    }
  }
};

/// The weight of the spmm.wg kernels: a tile's packed words come into a
/// shared buffer by one bulk copy (the Hopper copy engine) several k steps
/// before the producer scatters them into a zeroed dense tile in core
/// matrices (tile_layout::core_matrices). A buffer holds `cap` words (a
/// quarter of the tile); a denser tile's words past them are read from
/// global memory by the scatter.
template <class T, int Threads, int TileM, int TileK>
struct tile_copy_prolog {
  static_assert(sizeof(T) == 2, "tile_copy_prolog: 16-bit values only");
  static_assert(TileM % 64 == 0 && TileK % 16 == 0, "tile_copy_prolog: 64-row tiles of whole 16-deep slices");
  static constexpr int smem_elems = TileM * TileK + 8;  // core matrices and one spare 16-byte piece
  static constexpr int cap = TileM * TileK / 4;         // words one buffer holds
  static constexpr int word_bytes = cap * 4;            // bytes of one words buffer

  /// One thread: copies the first `cap` words of tile t into `words` and
  /// arrives on `bar` (a barrier of one arrival) expecting their bytes.
  __device__ __forceinline__ static void copy(const tiled_weight_view& v, int64_t t, uint32_t* words, uint64_t* bar) {
    const int32_t begin = __ldg(v.tile_ptr + t), n = min(__ldg(v.tile_ptr + t + 1) - begin, cap);
    const uint32_t b = detail::shared_address(bar);
    asm volatile("mbarrier.arrive.expect_tx.release.cta.shared::cta.b64 _, [%0], %1;" ::"r"(b), "r"(n * 4) : "memory");
    if (n > 0)  // whole 16-byte pieces: a tile's words start and end on them
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                       detail::shared_address(words)),
                   "l"(v.words + begin), "r"(n * 4), "r"(b)
                   : "memory");
  }

  /// Writes tile t's words into its zeroed buffer `smem`: those copy() put
  /// in `words` (landed), then any past `cap`. All Threads threads.
  __device__ __forceinline__ static void scatter(const tiled_weight_view& v, int64_t t, const uint32_t* words,
                                                 T* smem, int tid) {
    const int32_t begin = __ldg(v.tile_ptr + t), end = __ldg(v.tile_ptr + t + 1);
    const int32_t n = min(end - begin, cap);
    uint16_t* dst = reinterpret_cast<uint16_t*>(smem);
    for (int32_t i = tid * 4; i < n; i += Threads * 4)
      detail::put_tile_words(dst, *reinterpret_cast<const uint4*>(words + i));
    for (int32_t i = begin + cap + tid * 4; i < end; i += Threads * 4)
      detail::put_tile_words(dst, __ldg(reinterpret_cast<const uint4*>(v.words + i)));
  }

  /// Zeroes rows [64 g, 64 g + 64) of a buffer (contiguous in core
  /// matrices) with the 128 threads of warpgroup g (tid: 0..127 in it).
  __device__ __forceinline__ static void zero_rows(T* smem, int g, int tid) {
    constexpr int vecs = 64 * TileK * 2 / 16;
    uint4* p = reinterpret_cast<uint4*>(smem + g * 64 * TileK);
#pragma unroll
    for (int i = tid; i < vecs; i += 128) p[i] = make_uint4(0, 0, 0, 0);
  }

  /// Zeroes a whole buffer with `threads` threads.
  __device__ __forceinline__ static void zero(T* smem, int tid, int threads) {
    uint4* p = reinterpret_cast<uint4*>(smem);
    for (int i = tid; i < smem_elems * 2 / 16; i += threads) p[i] = make_uint4(0, 0, 0, 0);
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
