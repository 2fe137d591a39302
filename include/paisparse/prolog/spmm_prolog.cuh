// paisparse SpMM prolog policies: how a lane of an SpMM team reads its share
// of an item's nonzeros and the matching rows of B, and accumulates them into
// its tile of ColTile output columns in fp32 registers.
//
// A lane owns ColTile consecutive output columns [c0, c0 + ColTile) of its
// item's row. Every nonzero (value, column k) it loads is used ColTile times,
// once per owned column: acc[j] += value * B(k, c0 + j).
//
// Contract (checked by static_assert in kernels/spmm_kernel.cuh):
//   Prolog::value_type, Prolog::index_type
//   Prolog::vec_elems        nonzeros per vector load of the weight; the
//                            schedule pads every item to a multiple of it
//   Prolog::unroll           weight vectors a lane loads before using any
//   Prolog::col_tile         output columns per lane (ColTile)
//   Prolog::b_vector_align   byte alignment of B and ld the vector path
//                            needs (0: the policy has no vector path)
//   Prolog::b_origin(k0, c0, ldb) -> offset of B(k0, c0), the lane's origin
//   Prolog::accumulate<NzLanes>(values, indices, begin, nvec, b, ldb, valid,
//                               full, b_vector, nz_lane, acc)
//       adds to acc[0..valid) this lane's sums over vectors nz_lane,
//       nz_lane + NzLanes, ... of the nvec vectors from `begin`; b points at
//       the lane's origin (B(item column base, c0)); columns >= valid are
//       never read. full: valid == ColTile (passed, not recomputed: see
//       kernels/spmm_kernel.cuh). b_vector: the host found B aligned for
//       vector loads.
//
// Each B tile (ColTile elements of one nonzero's row of B) is held packed in
// ColTile * sizeof(T) bytes of registers whichever way it was read (one
// vector load, or element by element), and every tile of a step is
// requested before any is used.
//
// Programmatic dependent launch: accumulate() waits for the previous kernel
// in the stream (detail::wait_for_inputs) before its first read of B, which
// that kernel may write. The kernel loads the item's tables before the wait;
// the first weight vectors come after it (requested ahead of it they cost
// some kernels up to 16 registers). B is read with plain loads through
// pointers that are not __restrict__ (ld.global), never through the
// non-coherent path. The kernel waits again (a no-op by then) before its
// epilog, for the lanes that had nothing to accumulate.
#pragma once

#include <cstdint>

#include "../detail/dependent_launch.cuh"
#include "../detail/vector_load.cuh"
#include "../types.hpp"

namespace paisparse {

namespace detail {

/// The loop both B access policies share. B(k, c0 + j) is at
/// b[k * k_step + j * j_step] relative to the lane's origin (row access:
/// k_step = ldb, j_step = 1; gather: k_step = 1, j_step = ldb).
template <class T, class I, int VecBytes, int Unroll, int ColTile>
struct spmm_prolog_base {
  static_assert(is_value_type_v<T>, "spmm prolog: T must be float, __half or __nv_bfloat16");
  static_assert(is_index_type_v<I>, "spmm prolog: I must be int32_t or uint16_t");
  static_assert(VecBytes == 8 || VecBytes == 16, "spmm prolog: VecBytes must be 8 or 16");
  static_assert(Unroll >= 1 && Unroll <= 4, "spmm prolog: Unroll must be 1..4");

  using value_type = T;
  using index_type = I;
  static constexpr int vec_elems = VecBytes / static_cast<int>(sizeof(T));
  static constexpr int unroll = Unroll;
  static constexpr int col_tile = ColTile;
  static constexpr int index_bytes = vec_elems * static_cast<int>(sizeof(I));
  static_assert(index_bytes >= 4, "spmm prolog: a vector of indices must span at least 4 bytes");
  static constexpr int tile_bytes = ColTile * static_cast<int>(sizeof(T));
  static_assert(tile_bytes == 4 || tile_bytes == 8 || (tile_bytes % 16 == 0 && tile_bytes <= 64),
                "spmm prolog: a lane's tile of B must be 4, 8, 16, 32, 48 or 64 bytes (ColTile x sizeof(T))");

  using vals_t = raw_vec<VecBytes>;
  using idx_t = raw_vec<index_bytes>;
  using tile_t = raw_vec<tile_bytes>;

  /// How a tile is read: one vector load, or element by element (all, or
  /// only the first `valid`).
  enum class tile_read { vector, elements, first_elements };

  /// Element by element. Every load reads a real element of B: the column
  /// is clamped, min(j, valid - 1) (valid >= 1 whenever a lane accumulates),
  /// so the tile columns past `valid` hold a copy of column valid - 1. Their
  /// sums are never stored (the kernel finishes only columns < valid), so
  /// nothing needs to mask them. Which of the three reads a lane uses is
  /// decided by the kernel's `full` flag (see kernels/spmm_kernel.cuh for why
  /// it is passed rather than recomputed from `valid`).
  template <tile_read Read>
  __device__ __forceinline__ static void load_tile(tile_t& t, const T* p, int64_t j_step, int valid) {
    if constexpr (Read == tile_read::vector) {
      t.template load<true>(p);
    } else {
#pragma unroll
      for (int w = 0; w < tile_bytes / 4; ++w) t.w[w] = 0u;
#pragma unroll
      for (int j = 0; j < ColTile; ++j) {
        const int jj = Read == tile_read::elements ? j : min(j, valid - 1);
        const T* q = p + jj * j_step;
        if constexpr (sizeof(T) == 4) {
          t.w[j] = *reinterpret_cast<const unsigned int*>(q);
        } else {
          t.w[j >> 1] |= static_cast<uint32_t>(*reinterpret_cast<const unsigned short*>(q)) << ((j & 1) * 16);
        }
      }
    }
  }

  /// The weight vectors of the step starting at vector v. Vectors at or past
  /// nvec (not used) are clamped arithmetically to the item's last one, so
  /// every load has one address and it lies inside the item (see load_tile).
  /// Needs nvec >= 1.
  __device__ __forceinline__ static void load_weights(vals_t (&a)[Unroll], idx_t (&c)[Unroll],
                                                      const T* __restrict__ values, const I* __restrict__ indices,
                                                      int32_t begin, int32_t nvec, int32_t v, int nz_lanes) {
#pragma unroll
    for (int u = 0; u < Unroll; ++u) {
      const int32_t vv = min(v + u * nz_lanes, nvec - 1);
      const int64_t off = begin + static_cast<int64_t>(vv) * vec_elems;
      a[u].load(values + off);
      c[u].load(indices + off);
    }
  }

  /// The lane's steps over its vectors. Software-pipelined: the next step's
  /// weight vectors are requested right after this step's B tiles, so their
  /// latency overlaps this step's loads and FMAs instead of adding to them.
  /// Waits for the previous kernel first (see the header comment).
  template <int NzLanes, tile_read Read>
  __device__ __forceinline__ static void steps(const T* __restrict__ values, const I* __restrict__ indices,
                                               int32_t begin, int32_t nvec, const T* b, int64_t k_step,
                                               int64_t j_step, int valid, int nz_lane, float (&acc)[ColTile]) {
    constexpr int stride = NzLanes * Unroll;
    if (nvec <= 0) return;
    vals_t a[Unroll];
    idx_t c[Unroll];
    detail::wait_for_inputs();  // B may come from the previous kernel
    load_weights(a, c, values, indices, begin, nvec, nz_lane, NzLanes);
    for (int32_t v = nz_lane; v < nvec; v += stride) {
      tile_t t[Unroll][vec_elems];
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
        if (v + u * NzLanes < nvec) {
#pragma unroll
          for (int e = 0; e < vec_elems; ++e)
            load_tile<Read>(t[u][e], b + static_cast<int64_t>(c[u].template bits<I>(e)) * k_step, j_step, valid);
        }
      vals_t an[Unroll];
      idx_t cn[Unroll];
      load_weights(an, cn, values, indices, begin, nvec, v + stride, NzLanes);
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
        if (v + u * NzLanes < nvec) {
#pragma unroll
          for (int e = 0; e < vec_elems; ++e) {
            const float w = bits_to_float<T>(a[u].template bits<T>(e));
#pragma unroll
            for (int j = 0; j < ColTile; ++j)
              acc[j] = fmaf(w, bits_to_float<T>(t[u][e].template bits<T>(j)), acc[j]);
          }
        }
#pragma unroll
      for (int u = 0; u < Unroll; ++u) a[u] = an[u], c[u] = cn[u];
    }
  }
};

}  // namespace detail

/// B read along its rows: row-major B (or the plan's row-major copy of a
/// column-major B). B(k, c0 .. c0 + ColTile) is contiguous; when the lane's
/// tile is whole and the host found B aligned, it is read with one vector
/// load of ColTile * sizeof(T) bytes (16-byte pieces above 16 bytes), else
/// element by element with the columns past `valid` clamped (see load_tile).
template <class T, class I, int VecBytes, int Unroll, int ColTile>
struct spmm_row_prolog : detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile> {
  using base = detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile>;
  using read = typename base::tile_read;
  static constexpr int b_vector_align = base::tile_bytes < 16 ? base::tile_bytes : 16;

  __device__ __forceinline__ static int64_t b_origin(int32_t k0, int32_t c0, int64_t ldb) {
    return static_cast<int64_t>(k0) * ldb + c0;
  }

  template <int NzLanes>
  __device__ __forceinline__ static void accumulate(const T* __restrict__ values, const I* __restrict__ indices,
                                                    int32_t begin, int32_t nvec, const T* b, int64_t ldb,
                                                    int valid, bool full, bool b_vector, int nz_lane,
                                                    float (&acc)[ColTile]) {
    if (full && b_vector)
      base::template steps<NzLanes, read::vector>(values, indices, begin, nvec, b, ldb, 1, valid, nz_lane, acc);
    else
      base::template steps<NzLanes, read::first_elements>(values, indices, begin, nvec, b, ldb, 1, valid, nz_lane,
                                                          acc);
  }
};

/// B read in place from column-major storage: B(k, c) at b[c * ldb + k]. For
/// an LLM, B = X^T with X the row-major tokens x features activations, so a
/// lane gathers X[c][k] for each of its ColTile tokens: one element per
/// (nonzero, column), each from a different row of X. One launch, no
/// staging; the cost is a cache sector per element (the plan's staged path,
/// Bt, is the alternative the tuner weighs it against).
template <class T, class I, int VecBytes, int Unroll, int ColTile>
struct spmm_gather_prolog : detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile> {
  using base = detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile>;
  using read = typename base::tile_read;
  static constexpr int b_vector_align = 0;

  __device__ __forceinline__ static int64_t b_origin(int32_t k0, int32_t c0, int64_t ldb) {
    return static_cast<int64_t>(c0) * ldb + k0;
  }

  template <int NzLanes>
  __device__ __forceinline__ static void accumulate(const T* __restrict__ values, const I* __restrict__ indices,
                                                    int32_t begin, int32_t nvec, const T* b, int64_t ldb,
                                                    int valid, bool full, bool, int nz_lane, float (&acc)[ColTile]) {
    if (full)
      base::template steps<NzLanes, read::elements>(values, indices, begin, nvec, b, 1, ldb, valid, nz_lane, acc);
    else
      base::template steps<NzLanes, read::first_elements>(values, indices, begin, nvec, b, 1, ldb, valid, nz_lane,
                                                          acc);
  }
};

/// B staged in shared memory, one panel at a time (the panel kernels,
/// kernels/spmm_panel_kernel.cuh). A block first copies the rows of B its
/// items' panel spans, for its chunk of ChunkCols columns, into shared memory
/// (`stage`, row-major, ChunkCols per row, zeros past N), then every nonzero
/// a lane loads reads its tile from there (`accumulate`): one 4- to 32-byte
/// shared load per nonzero instead of a gather through L1/L2, and a panel of
/// B is read from L2 once per block instead of once per nonzero.
///
/// Contract, besides the members of spmm_prolog_base:
///   Prolog::chunk_cols                  columns of a staged row (ColLanes x ColTile)
///   Prolog::stage<BlockThreads>(bs, b, ldb, b_row_major, b_vector, k0, rows, n0, n, tid)
///       every thread of the block calls it, after detail::wait_for_inputs()
///       (B may come from the previous kernel); afterwards (and after a
///       __syncthreads) bs[r * chunk_cols + j] holds B(k0 + r, n0 + j) for
///       r < rows, j < chunk_cols, 0 where n0 + j >= n
///   Prolog::accumulate<NzLanes>(values, indices, begin, nvec, bs_lane, nz_lane, acc)
///       as in the other prologs, with the tile of nonzero column k (relative
///       to the panel) at bs_lane + k * chunk_cols
template <class T, class I, int VecBytes, int Unroll, int ColTile, int ChunkCols>
struct spmm_panel_prolog : detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile> {
  using base = detail::spmm_prolog_base<T, I, VecBytes, Unroll, ColTile>;
  using typename base::idx_t;
  using typename base::tile_t;
  using typename base::vals_t;
  static constexpr int chunk_cols = ChunkCols;
  static constexpr int b_vector_align = 16;
  /// Elements per 16-byte piece of a staged row.
  static constexpr int piece = 16 / static_cast<int>(sizeof(T));
  static_assert(ChunkCols % piece == 0, "spmm panel prolog: a staged row (ChunkCols values) must be a multiple of 16 bytes");
  static_assert(ChunkCols % ColTile == 0, "spmm panel prolog: ChunkCols must be a multiple of ColTile");

  /// Plain (coherent) reads: B may come from the previous kernel.
  __device__ __forceinline__ static uint32_t element_bits(const T* p) {
    if constexpr (sizeof(T) == 4) return *reinterpret_cast<const unsigned int*>(p);
    else return *reinterpret_cast<const unsigned short*>(p);
  }

  /// One 16-byte piece (piece consecutive columns from col) of B row k,
  /// element by element from column-major or row-major storage; columns >= n
  /// are 0 and not read.
  __device__ __forceinline__ static uint4 load_piece(const T* b, int64_t col_step, int32_t col, int32_t n) {
    uint32_t w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
    for (int e = 0; e < piece; ++e)
      if (col + e < n) {
        const uint32_t x = element_bits(b + e * col_step);
        if constexpr (sizeof(T) == 4) w[e] = x;
        else w[e >> 1] |= x << ((e & 1) * 16);
      }
    return make_uint4(w[0], w[1], w[2], w[3]);
  }

  template <int BlockThreads>
  __device__ __forceinline__ static void stage(T* bs, const T* b, int64_t ldb, bool b_row_major,
                                               bool b_vector, int32_t k0, int32_t rows, int32_t n0, int32_t n,
                                               int tid) {
    constexpr int per_row = ChunkCols / piece;
    const int32_t total = rows * per_row;
    if (b_row_major) {  // B(k, c) at b[k * ldb + c]: a thread per 16-byte piece, along the row
      for (int32_t i = tid; i < total; i += BlockThreads) {
        const int32_t r = i / per_row, col = n0 + (i % per_row) * piece;
        const T* src = b + static_cast<int64_t>(k0 + r) * ldb + col;
        const uint4 v = b_vector && col + piece <= n ? *reinterpret_cast<const uint4*>(src)
                                                     : load_piece(src, 1, col, n);
        *reinterpret_cast<uint4*>(bs + r * ChunkCols + (i % per_row) * piece) = v;
      }
    } else {  // B(k, c) at b[c * ldb + k]: consecutive threads take consecutive k, so reads coalesce
      for (int32_t i = tid; i < total; i += BlockThreads) {
        const int32_t r = i % rows, p = i / rows, col = n0 + p * piece;
        const uint4 v = load_piece(b + static_cast<int64_t>(col) * ldb + k0 + r, ldb, col, n);
        *reinterpret_cast<uint4*>(bs + r * ChunkCols + p * piece) = v;
      }
    }
  }

  /// The lane's tile of staged row k (shared memory).
  __device__ __forceinline__ static void load_staged(tile_t& t, const T* p) {
    if constexpr (base::tile_bytes % 16 == 0) {
#pragma unroll
      for (int i = 0; i < base::tile_bytes / 16; ++i) {
        const uint4 v = reinterpret_cast<const uint4*>(p)[i];
        t.w[4 * i] = v.x, t.w[4 * i + 1] = v.y, t.w[4 * i + 2] = v.z, t.w[4 * i + 3] = v.w;
      }
    } else if constexpr (base::tile_bytes == 8) {
      const uint2 v = *reinterpret_cast<const uint2*>(p);
      t.w[0] = v.x, t.w[1] = v.y;
    } else {
      t.w[0] = *reinterpret_cast<const uint32_t*>(p);
    }
  }

  /// The lane's steps over its vectors; the next step's weight vectors are
  /// requested before this step's shared loads and FMAs.
  template <int NzLanes>
  __device__ __forceinline__ static void accumulate(const T* __restrict__ values, const I* __restrict__ indices,
                                                    int32_t begin, int32_t nvec, const T* bs_lane, int nz_lane,
                                                    float (&acc)[ColTile]) {
    constexpr int stride = NzLanes * Unroll;
    if (nvec <= 0) return;
    vals_t a[Unroll];
    idx_t c[Unroll];
    base::load_weights(a, c, values, indices, begin, nvec, nz_lane, NzLanes);
    for (int32_t v = nz_lane; v < nvec; v += stride) {
      vals_t an[Unroll];
      idx_t cn[Unroll];
      base::load_weights(an, cn, values, indices, begin, nvec, v + stride, NzLanes);
#pragma unroll
      for (int u = 0; u < Unroll; ++u)
        if (v + u * NzLanes < nvec) {
#pragma unroll
          for (int e = 0; e < base::vec_elems; ++e) {
            tile_t t;
            load_staged(t, bs_lane + static_cast<int32_t>(c[u].template bits<I>(e)) * ChunkCols);
            const float w = detail::bits_to_float<T>(a[u].template bits<T>(e));
#pragma unroll
            for (int j = 0; j < ColTile; ++j) acc[j] = fmaf(w, detail::bits_to_float<T>(t.template bits<T>(j)), acc[j]);
          }
        }
#pragma unroll
      for (int u = 0; u < Unroll; ++u) a[u] = an[u], c[u] = cn[u];
    }
  }
};

}  // namespace paisparse
