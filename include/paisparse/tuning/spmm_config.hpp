// paisparse: SpMM configurations as values, and the compiled-in search space.
//
// A configuration is printable and parseable, with a stable name used in
// logs, tests, plan files and the tuner's table:
//
//     spmm.b128.g8.l2.n8.v16.u1.u16.c512.lf.Bt.Cc
//          |    |  |  |  |   |  |   |    |  |  `-- C layout: Cr row-major, Cc column-major
//          |    |  |  |  |   |  |   |    |  `----- B: Br row-major, read along rows with vector loads;
//          |    |  |  |  |   |  |   |    |         Bt column-major, staged into a row-major copy
//          |    |  |  |  |   |  |   |    |         first (a second, small kernel), then as Br;
//          |    |  |  |  |   |  |   |    |         Bc column-major, gathered in place (one kernel);
//          |    |  |  |  |   |  |   |    |         Pr<R>x<G> / Pc<R>x<G> row- / column-major, the
//          |    |  |  |  |   |  |   |    |         panel kernel: R rows of B per panel staged in
//          |    |  |  |  |   |  |   |    |         shared memory, G items per block
//          |    |  |  |  |   |  |   |    `-------- item order: lf longest first, ro row order
//          |    |  |  |  |   |  |   `------------- segment cap in nonzeros (c0: rows never cut)
//          |    |  |  |  |   |  `----------------- column index type in the plan: u16 or i32
//          |    |  |  |  |   `-------------------- weight vectors per lane in flight (unroll)
//          |    |  |  |  `------------------------ bytes per vector load of the weight (8 or 16)
//          |    |  |  `--------------------------- output columns per lane (the lane's tile, ColTile)
//          |    |  `------------------------------ lanes over output columns per team (ColLanes)
//          |    `--------------------------------- lanes over nonzeros per team (NzLanes)
//          `-------------------------------------- threads per block
//
// A team (g x l lanes, 4..32, one warp at most) takes one item; it covers
// l x n output columns per pass, and the grid covers N in chunks of that.
//
// The compiled-in kernels are the cartesian product of the lists below,
// filtered by spmm_shape_compiled (team size, chunk width). A project
// restricts them (compile time, code size) by defining the macros before
// including paisparse, e.g. -DPAISPARSE_SPMM_COL_TILE=8 -DPAISPARSE_SPMM_GATHER=0.
// The panel kernels (kernels/spmm_panel_kernel.cuh) have lists of their own
// (PAISPARSE_SPMM_PANEL_*), and are compiled for 16-bit indices only: their
// panels are never wider than 65536 columns, so 16 bits always suffice.
//
// The tensor-core kernels (kernels/spmm_tensor_kernel.cuh, fp16 and bf16
// only) have a name of their own:
//
//     spmm.tc.m64.n32.k64.w2x2.s4.Bc.Cc
//             |   |   |   |    |  |  `-- C layout
//             |   |   |   |    |  `----- B layout: Br row-major, Bc column-major
//             |   |   |   |    `-------- k splits: blocks sharing a tile of C's k steps,
//             |   |   |   |              s<splits> adding up through workspace slices in
//             |   |   |   |              global memory, c<splits> (2..8) in a thread
//             |   |   |   |              block cluster's shared memory (where the
//             |   |   |   |              block's shared memory holds its staged sums)
//             |   |   |   `------------- warps over rows x warps over columns, and
//             |   |   |                  x warps over k when a k step is split
//             |   |   |                  among groups of warps (w2x2x2)
//             |   |   `----------------- k step (columns of W per tile)
//             |   `--------------------- output columns per block
//             `------------------------- output rows per block (rows of W per tile)
//
// Their shapes are PAISPARSE_SPMM_TENSOR_TILES, a list of {m, n, k, warps
// over rows, warps over columns[, warps over k]}; PAISPARSE_SPMM_TENSOR=0
// leaves them out.
//
// The gathered tensor-core kernels (kernels/spmm_window_kernel.cuh, fp16 and
// bf16 only: each warp multiplies the columns its 8 rows use) are named
//
//     spmm.tw.w8.n64.Bt.Cc
//             |   |   |  `-- C layout
//             |   |   `----- B: Br row-major; Bt column-major, staged into a
//             |   |          row-major copy first (as for the CUDA-core kernels)
//             |   `--------- output columns (tokens) per block
//             `------------- warps per block (one window of 8 rows each)
//
// with shapes PAISPARSE_SPMM_WINDOW_BLOCKS, a list of {warps, columns};
// PAISPARSE_SPMM_WINDOW=0 leaves them out.
//
// The register-built tensor-core kernels (kernels/spmm_fragment_kernel.cuh,
// fp16 and bf16 only: each warp loads its mma operands of W straight into
// registers) are named like the tensor-core ones, with "tf" for "tc" and one
// warp over columns (a warp takes all of the block's columns):
//
//     spmm.tf.m128.n32.k64.w8x1.s1.Bc.Cc
//
// with shapes PAISPARSE_SPMM_FRAGMENT_TILES, a list of {m, n, k, warps over
// rows, 1[, warps over k]}; PAISPARSE_SPMM_FRAGMENT=0 leaves them out.
//
// The warpgroup tensor-core kernels (kernels/spmm_wgmma_kernel.cuh, fp16
// and bf16, column-major B, sm_90a: wgmma reads both tiles from shared
// memory while two producer warpgroups build the next ones) are named like
// the tensor-core ones, with "wg" and the multiplying warps, 4 (a
// warpgroup) per 64 rows; the producers' 8 warps come on top:
//
//     spmm.wg.m64.n128.k64.w4x1.s2.Bc.Cc
//
// with shapes PAISPARSE_SPMM_WGMMA_TILES, a list of {m, n, k, m / 16, 1};
// PAISPARSE_SPMM_WGMMA=0 leaves them out.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../format/dense.hpp"
#include "../format/schedule.hpp"
#include "../types.hpp"
#include "config.hpp"  // row_stats, compute_row_stats

#ifndef PAISPARSE_SPMM_BLOCK_THREADS
#define PAISPARSE_SPMM_BLOCK_THREADS 128
#endif
#ifndef PAISPARSE_SPMM_NZ_LANES
#define PAISPARSE_SPMM_NZ_LANES 1, 2, 4, 8, 16, 32
#endif
#ifndef PAISPARSE_SPMM_COL_LANES
#define PAISPARSE_SPMM_COL_LANES 1, 2, 4, 8, 16
#endif
#ifndef PAISPARSE_SPMM_COL_TILE
#define PAISPARSE_SPMM_COL_TILE 4, 8, 16
#endif
#ifndef PAISPARSE_SPMM_VEC_BYTES
#define PAISPARSE_SPMM_VEC_BYTES 16
#endif
#ifndef PAISPARSE_SPMM_UNROLL
#define PAISPARSE_SPMM_UNROLL 1
#endif
#ifndef PAISPARSE_SPMM_GATHER  // 1: also compile the in-place column-major B kernels (Bc)
#define PAISPARSE_SPMM_GATHER 1
#endif
#ifndef PAISPARSE_SPMM_PANEL  // 1: also compile the panel kernels (B staged in shared memory)
#define PAISPARSE_SPMM_PANEL 1
#endif
#ifndef PAISPARSE_SPMM_PANEL_BLOCK_THREADS
#define PAISPARSE_SPMM_PANEL_BLOCK_THREADS 256
#endif
#ifndef PAISPARSE_SPMM_PANEL_NZ_LANES
#define PAISPARSE_SPMM_PANEL_NZ_LANES 4, 8, 16
#endif
#ifndef PAISPARSE_SPMM_PANEL_COL_LANES
#define PAISPARSE_SPMM_PANEL_COL_LANES 2, 4, 8
#endif
#ifndef PAISPARSE_SPMM_PANEL_COL_TILE
#define PAISPARSE_SPMM_PANEL_COL_TILE 4, 8
#endif
#ifndef PAISPARSE_SPMM_PANEL_UNROLL
#define PAISPARSE_SPMM_PANEL_UNROLL 2
#endif
#ifndef PAISPARSE_SPMM_PANEL_ROWS  // run time: rows of B per panel the tuner tries
#define PAISPARSE_SPMM_PANEL_ROWS 256, 512, 1024, 2048, 4096, 8192
#endif
#ifndef PAISPARSE_SPMM_PANEL_GROUP_ITEMS  // run time: items per block the tuner tries
#define PAISPARSE_SPMM_PANEL_GROUP_ITEMS 64, 256
#endif
#ifndef PAISPARSE_SPMM_PANEL_MAX_SMEM  // run time: largest staged panel the tuner tries, bytes (sm_90: 227 KiB a block)
#define PAISPARSE_SPMM_PANEL_MAX_SMEM (227 * 1024)
#endif

#ifndef PAISPARSE_SPMM_TENSOR  // 1: also compile the tensor-core kernels (fp16 and bf16)
#define PAISPARSE_SPMM_TENSOR 1
#endif
#ifndef PAISPARSE_SPMM_TENSOR_TILES  // {rows, columns, k step, warps over rows, warps over columns[, warps over k]} per block
#define PAISPARSE_SPMM_TENSOR_TILES                                                                       \
  {32, 16, 64, 2, 1}, {64, 16, 64, 4, 1}, {64, 32, 64, 2, 2}, {128, 32, 64, 4, 1}, {128, 32, 32, 4, 1},  \
      {64, 64, 64, 2, 2}, {128, 64, 64, 4, 2}, {128, 64, 32, 4, 2}, {64, 128, 64, 2, 2}, {128, 128, 64, 4, 2}, \
      {128, 128, 32, 2, 2}, {128, 32, 64, 4, 2}, {128, 32, 32, 4, 2}, {128, 32, 64, 4, 1, 2}, {128, 64, 64, 4, 1, 2}, \
      {64, 32, 64, 2, 1, 2}
#endif

#ifndef PAISPARSE_SPMM_WINDOW  // 1: also compile the gathered tensor-core kernels (fp16 and bf16)
#define PAISPARSE_SPMM_WINDOW 1
#endif
#ifndef PAISPARSE_SPMM_WINDOW_BLOCKS  // {warps (one window each), output columns} per block
#define PAISPARSE_SPMM_WINDOW_BLOCKS {4, 16}, {8, 16}, {4, 32}, {8, 32}, {8, 64}, {16, 64}, {8, 128}, {16, 128}
#endif

#ifndef PAISPARSE_SPMM_FRAGMENT  // 1: also compile the register-built tensor-core kernels (fp16 and bf16)
#define PAISPARSE_SPMM_FRAGMENT 1
#endif
#ifndef PAISPARSE_SPMM_FRAGMENT_TILES  // {rows, columns, k step, warps over rows, 1[, warps over k]} per block
#define PAISPARSE_SPMM_FRAGMENT_TILES                                                                     \
  {64, 16, 64, 4, 1}, {128, 16, 64, 8, 1}, {64, 16, 64, 2, 1, 2}, {64, 32, 64, 4, 1}, {128, 32, 64, 8, 1}, \
      {128, 32, 64, 4, 1}, {64, 32, 64, 2, 1, 2}, {64, 64, 64, 4, 1}, {128, 64, 64, 8, 1}, {64, 128, 64, 4, 1}, \
      {64, 128, 64, 4, 1, 2}
#endif

#ifndef PAISPARSE_SPMM_WGMMA  // 1: also compile the warpgroup tensor-core kernels (fp16 and bf16, sm_90a)
#define PAISPARSE_SPMM_WGMMA 1
#endif
#ifndef PAISPARSE_SPMM_WGMMA_TILES  // {rows, columns, k step, rows / 16, 1} per block
#define PAISPARSE_SPMM_WGMMA_TILES \
  {64, 16, 64, 4, 1}, {64, 32, 64, 4, 1}, {64, 64, 64, 4, 1}, {64, 128, 64, 4, 1}, {128, 64, 64, 8, 1}, \
      {128, 128, 64, 8, 1}, {192, 128, 64, 12, 1}, {64, 16, 128, 4, 1}, {64, 32, 128, 4, 1}, {64, 128, 128, 4, 1}, \
      {128, 64, 128, 8, 1}, {64, 16, 256, 4, 1}, {64, 32, 256, 4, 1}
#endif

namespace paisparse {

/// One block shape of the gathered tensor-core kernels.
struct spmm_window_block {
  int warps, n;
};

/// One block shape of the tensor-core kernels.
/// warps_k > 1 splits each k step among that many groups of warps (each
/// multiplies every warps_k-th 16-deep slice), whose sums are added in
/// shared memory at the end: more warps to hide latency on the same tile.
struct spmm_tensor_tile {
  int m, n, k, warps_m, warps_n;
  int warps_k = 1;
  constexpr int warps() const { return warps_m * warps_n * warps_k; }
};

namespace space {
inline constexpr std::array spmm_block_threads{PAISPARSE_SPMM_BLOCK_THREADS};
inline constexpr std::array spmm_nz_lanes{PAISPARSE_SPMM_NZ_LANES};
inline constexpr std::array spmm_col_lanes{PAISPARSE_SPMM_COL_LANES};
inline constexpr std::array spmm_col_tile{PAISPARSE_SPMM_COL_TILE};
inline constexpr std::array spmm_vec_bytes{PAISPARSE_SPMM_VEC_BYTES};
inline constexpr std::array spmm_unroll{PAISPARSE_SPMM_UNROLL};
inline constexpr bool spmm_gather = PAISPARSE_SPMM_GATHER;
inline constexpr bool spmm_panel = PAISPARSE_SPMM_PANEL;
inline constexpr std::array spmm_panel_block_threads{PAISPARSE_SPMM_PANEL_BLOCK_THREADS};
inline constexpr std::array spmm_panel_nz_lanes{PAISPARSE_SPMM_PANEL_NZ_LANES};
inline constexpr std::array spmm_panel_col_lanes{PAISPARSE_SPMM_PANEL_COL_LANES};
inline constexpr std::array spmm_panel_col_tile{PAISPARSE_SPMM_PANEL_COL_TILE};
inline constexpr std::array spmm_panel_unroll{PAISPARSE_SPMM_PANEL_UNROLL};
inline constexpr std::array spmm_panel_rows{PAISPARSE_SPMM_PANEL_ROWS};
inline constexpr std::array spmm_panel_group_items{PAISPARSE_SPMM_PANEL_GROUP_ITEMS};
inline constexpr int64_t spmm_panel_max_smem = PAISPARSE_SPMM_PANEL_MAX_SMEM;
inline constexpr bool spmm_tensor = PAISPARSE_SPMM_TENSOR;
inline constexpr spmm_tensor_tile spmm_tensor_tiles[] = {PAISPARSE_SPMM_TENSOR_TILES};
inline constexpr bool spmm_window = PAISPARSE_SPMM_WINDOW;
inline constexpr spmm_window_block spmm_window_blocks[] = {PAISPARSE_SPMM_WINDOW_BLOCKS};
inline constexpr bool spmm_fragment = PAISPARSE_SPMM_FRAGMENT;
inline constexpr spmm_tensor_tile spmm_fragment_tiles[] = {PAISPARSE_SPMM_FRAGMENT_TILES};
inline constexpr bool spmm_wgmma = PAISPARSE_SPMM_WGMMA;
inline constexpr spmm_tensor_tile spmm_wgmma_tiles[] = {PAISPARSE_SPMM_WGMMA_TILES};
}  // namespace space

/// How the kernel reads B: along rows of a row-major B (vector loads),
/// gathering from a column-major B in place, from a panel of B staged in
/// shared memory (either layout), in tiles for the tensor cores (either
/// layout; the weight then comes tiled, format/tiled_weight.cuh), or in
/// chunks whose rows the tensor cores gather (row-major B; the weight comes
/// windowed, format/window_weight.hpp), or in tiles for the tensor cores
/// with W's operands built in registers (either layout; the weight comes as
/// fragments, format/fragment_weight.hpp), or in tiles the warpgroup
/// tensor cores read from shared memory (column-major B; the weight comes
/// tiled in core matrices).
enum class spmm_b_access { rows, gather, panel, tensor, window, fragment, wgmma };

/// The most k splits whose blocks add up in a thread block cluster (the
/// portable cluster size).
inline constexpr int32_t max_cluster_splits = 8;

/// Whether `splits` k splits of a kernel reading B by `access` may add up
/// in a cluster: the tensor-core kernels whose blocks own tiles of C
/// (spmm.tc, spmm.tf, spmm.wg), 2..max_cluster_splits. Their blocks add up
/// through the fp32 tile they stage their sums in; the few spmm.tc and
/// spmm.tf shapes whose shared memory cannot hold that tile cannot, which
/// the registry says per B layout (spmm_kernel_entry::resident_clusters
/// gives 0) and their launch refuses.
constexpr bool spmm_cluster_split_ok(spmm_b_access access, int64_t splits) {
  const bool tiles = access == spmm_b_access::tensor || access == spmm_b_access::fragment ||
                     access == spmm_b_access::wgmma;
  return tiles && splits >= 2 && splits <= max_cluster_splits;
}

inline const char* to_string(spmm_b_access a) {
  return a == spmm_b_access::rows     ? "rows"
         : a == spmm_b_access::gather ? "gather"
         : a == spmm_b_access::panel  ? "panel"
         : a == spmm_b_access::tensor ? "tensor"
         : a == spmm_b_access::window ? "window"
         : a == spmm_b_access::wgmma  ? "wgmma"
                                      : "fragment";
}

/// Whether a gathered tensor-core block is one the kernel can take: 1..32
/// warps, whole 16-token pieces, at most 128 tokens (the staged chunk of B,
/// two buffers, then fits 139 KiB of shared memory).
constexpr bool spmm_window_shape_ok(const spmm_window_block& b) {
  return b.warps >= 1 && b.warps <= 32 && b.n >= 16 && b.n <= 128 && b.n % 16 == 0 && (32 * b.warps) % (b.n / 8) == 0;
}

/// Whether a tensor-core block shape is one the kernel can take: 16 x 16
/// pieces per warp along both sides, as many 16-deep slices per k step for
/// each group of warps along k, at most 8 warps over rows and columns and
/// 16 in all, a tile whose shared offsets fit 16 bits.
constexpr bool spmm_tensor_shape_ok(const spmm_tensor_tile& t) {
  return t.warps_m >= 1 && t.warps_n >= 1 && t.warps_k >= 1 && t.warps_m * t.warps_n <= 8 && t.warps() <= 16 &&
         t.m % (16 * t.warps_m) == 0 && t.n % (16 * t.warps_n) == 0 && t.k % (16 * t.warps_k) == 0 && t.k >= 16 &&
         t.m * (t.k + 8) <= 65536;
}

/// Whether a register-built tensor-core block shape is one the kernel can
/// take: one warp over columns, each warp 1 or 2 row tiles of 16 and all
/// the block's columns (16..128, in 16s; at most 128 sums per lane over its
/// rows), whole 16-deep slices per group along k, a power of two of them
/// per k step, at most 16 warps.
constexpr bool spmm_fragment_shape_ok(const spmm_tensor_tile& t) {
  if (t.warps_m < 1 || t.warps_n != 1 || t.warps_k < 1 || t.warps() > 16 || t.m % (16 * t.warps_m) != 0 ||
      t.n % 16 != 0 || t.n < 16 || t.k % (16 * t.warps_k) != 0 || t.k < 16)
    return false;
  const int tiles = t.m / t.warps_m / 16, slices = t.k / 16 / t.warps_k;
  return tiles >= 1 && tiles <= 2 && tiles * t.n <= 128 && (slices & (slices - 1)) == 0;
}

/// Whether a warpgroup tensor-core block shape is one the kernel can take:
/// 64, 128 or 192 rows with a warpgroup (4 warps over rows) per 64, 16, 32,
/// 64 or 128 columns (one wgmma's N), k steps a multiple of 64 (B comes in
/// 128-byte-swizzled pieces of 64), a tile whose places fit 16 bits. The
/// 192-row blocks take k steps of 64 only: three stages of deeper ones
/// would not fit an SM's shared memory.
constexpr bool spmm_wgmma_shape_ok(const spmm_tensor_tile& t) {
  return (t.m == 64 || t.m == 128 || (t.m == 192 && t.k == 64)) && t.warps_m == t.m / 16 && t.warps_n == 1 &&
         t.warps_k == 1 && (t.n == 16 || t.n == 32 || t.n == 64 || t.n == 128) && t.k % 64 == 0 &&
         t.m * (t.k + 8) <= 65536;
}

/// Which shapes the registry compiles (and the space enumerates): teams of
/// 4..32 lanes that divide the block, chunks of at most 256 columns; the
/// gather kernels only with tiles of at most 8 columns and chunks of at most
/// 64 (they are for small N; compile time).
constexpr bool spmm_shape_compiled(int block_threads, int nz_lanes, int col_lanes, int col_tile, bool gather) {
  const int team = nz_lanes * col_lanes;
  return team >= 4 && team <= 32 && block_threads % 32 == 0 && col_lanes * col_tile <= 256 &&
         (!gather || (col_tile <= 8 && col_lanes * col_tile <= 64));
}

/// Which shapes of the panel kernels the registry compiles: teams of 8..32
/// lanes, chunks of at most 64 columns whose staged rows are whole 16-byte
/// pieces.
constexpr bool spmm_panel_shape_compiled(int block_threads, int nz_lanes, int col_lanes, int col_tile,
                                         int value_bytes) {
  const int team = nz_lanes * col_lanes;
  const int chunk = col_lanes * col_tile;
  return team >= 8 && team <= 32 && block_threads % 32 == 0 && chunk <= 64 && (chunk * value_bytes) % 16 == 0;
}

/// The compile-time part of a configuration: which kernel instantiation.
struct spmm_kernel_key {
  int block_threads = 128;
  int nz_lanes = 8;
  int col_lanes = 1;
  int col_tile = 8;
  int vec_bytes = 16;
  int unroll = 1;
  index_kind index = index_kind::u16;
  spmm_b_access access = spmm_b_access::rows;
  spmm_tensor_tile tile{0, 0, 0, 0, 0, 0};  // tensor-core kernels only (the rest of the fields unused)

  /// The key of a gathered tensor-core kernel: block_threads and col_tile
  /// carry its warps and tokens.
  static spmm_kernel_key window(const spmm_window_block& b) {
    spmm_kernel_key k;
    k.block_threads = 32 * b.warps;
    k.nz_lanes = k.col_lanes = k.unroll = 1;
    k.col_tile = b.n;
    k.vec_bytes = 16;
    k.access = spmm_b_access::window;
    return k;
  }
  spmm_window_block window_block() const { return {block_threads / 32, col_tile}; }

  /// The key of a tensor-core kernel (dense tiles, or with fragment: W's
  /// operands built in registers).
  static spmm_kernel_key tensor(const spmm_tensor_tile& t, bool fragment = false) {
    spmm_kernel_key k;
    k.block_threads = 32 * t.warps();
    k.nz_lanes = k.col_lanes = k.col_tile = k.unroll = 1;
    k.vec_bytes = 16;
    k.access = fragment ? spmm_b_access::fragment : spmm_b_access::tensor;
    k.tile = t;
    return k;
  }
  /// The key of a warpgroup tensor-core kernel.
  static spmm_kernel_key wgmma(const spmm_tensor_tile& t) {
    spmm_kernel_key k = tensor(t);
    k.access = spmm_b_access::wgmma;
    return k;
  }
  /// A tensor-core kernel with block tiles and k splits (spmm.tc, spmm.tf, spmm.wg).
  bool tensor_tiled() const {
    return access == spmm_b_access::tensor || access == spmm_b_access::fragment || access == spmm_b_access::wgmma;
  }

  friend bool operator==(const spmm_kernel_key& a, const spmm_kernel_key& b) {
    return a.block_threads == b.block_threads && a.nz_lanes == b.nz_lanes && a.col_lanes == b.col_lanes &&
           a.col_tile == b.col_tile && a.vec_bytes == b.vec_bytes && a.unroll == b.unroll && a.index == b.index &&
           a.access == b.access && a.tile.m == b.tile.m && a.tile.n == b.tile.n && a.tile.k == b.tile.k &&
           a.tile.warps_m == b.tile.warps_m && a.tile.warps_n == b.tile.warps_n && a.tile.warps_k == b.tile.warps_k;
  }
  friend bool operator!=(const spmm_kernel_key& a, const spmm_kernel_key& b) { return !(a == b); }
  int team_threads() const { return nz_lanes * col_lanes; }
  /// Output columns one team covers per pass (the chunk width).
  int col_pass() const { return col_lanes * col_tile; }
  /// Nonzeros one pass of a team's nz lanes covers.
  int64_t team_pass(int value_bytes) const {
    return static_cast<int64_t>(nz_lanes) * (vec_bytes / value_bytes) * unroll;
  }
};

/// A full SpMM configuration: kernel, schedule, and the layouts it serves.
struct spmm_config {
  spmm_kernel_key kernel;
  int64_t segment_cap = 0;  // 0: rows are never cut
  item_order order = item_order::longest_first;
  dense_layout b_layout = dense_layout::col_major;
  dense_layout c_layout = dense_layout::col_major;
  int32_t panel_rows = 0;   // panel kernels: rows of B per staged panel
  int32_t group_items = 0;  // panel kernels: items per block
  int32_t k_splits = 1;     // tensor-core kernels: blocks sharing one tile of C (1 for the others)
  bool k_cluster = false;   // k_splits > 1: the tile's blocks add up in a cluster, not in slices

  /// Workspace slices the configuration's schedule needs: k_splits where the
  /// blocks of a tile add up through global memory, else none (1).
  int32_t workspace_slices() const { return kernel.tensor_tiled() && k_splits > 1 && !k_cluster ? k_splits : 1; }

  /// Br, Bt, Bc, Pr<R>x<G> or Pc<R>x<G> (see the header comment).
  std::string b_tag() const {
    const bool row = b_layout == dense_layout::row_major;
    if (kernel.tensor_tiled()) return row ? "Br" : "Bc";
    if (kernel.access == spmm_b_access::window) return row ? "Br" : "Bt";
    if (kernel.access == spmm_b_access::panel)
      return std::string(row ? "Pr" : "Pc") + std::to_string(panel_rows) + "x" + std::to_string(group_items);
    if (row) return kernel.access == spmm_b_access::rows ? "Br" : "B?";
    return kernel.access == spmm_b_access::rows ? "Bt" : "Bc";
  }
  /// Column-major B read through a row-major staged copy.
  bool stages_b() const {
    return b_layout == dense_layout::col_major &&
           (kernel.access == spmm_b_access::rows || kernel.access == spmm_b_access::window);
  }
  /// Shared memory a panel launch needs, in bytes (0 for the other kernels).
  int64_t panel_smem_bytes(int value_bytes) const {
    return kernel.access == spmm_b_access::panel
               ? static_cast<int64_t>(panel_rows) * kernel.col_pass() * value_bytes
               : 0;
  }

  std::string name() const {
    std::ostringstream os;
    if (kernel.tensor_tiled()) {
      const spmm_tensor_tile& t = kernel.tile;
      os << (kernel.access == spmm_b_access::tensor   ? "spmm.tc.m"
             : kernel.access == spmm_b_access::wgmma ? "spmm.wg.m"
                                                     : "spmm.tf.m")
         << t.m << ".n" << t.n << ".k" << t.k << ".w" << t.warps_m << "x" << t.warps_n;
      if (t.warps_k > 1) os << "x" << t.warps_k;
      os << (k_cluster ? ".c" : ".s") << k_splits << '.' << b_tag() << '.' << (c_layout == dense_layout::row_major ? "Cr" : "Cc");
      return os.str();
    }
    if (kernel.access == spmm_b_access::window) {
      os << "spmm.tw.w" << kernel.block_threads / 32 << ".n" << kernel.col_tile << '.' << b_tag() << '.'
         << (c_layout == dense_layout::row_major ? "Cr" : "Cc");
      return os.str();
    }
    os << "spmm.b" << kernel.block_threads << ".g" << kernel.nz_lanes << ".l" << kernel.col_lanes << ".n"
       << kernel.col_tile << ".v" << kernel.vec_bytes << ".u" << kernel.unroll << '.' << to_string(kernel.index)
       << ".c" << segment_cap << '.' << to_string(order) << '.' << b_tag() << '.'
       << (c_layout == dense_layout::row_major ? "Cr" : "Cc");
    return os.str();
  }
  friend bool operator==(const spmm_config& a, const spmm_config& b) {
    return a.kernel == b.kernel && a.segment_cap == b.segment_cap && a.order == b.order &&
           a.b_layout == b.b_layout && a.c_layout == b.c_layout && a.panel_rows == b.panel_rows &&
           a.group_items == b.group_items && a.k_splits == b.k_splits && a.k_cluster == b.k_cluster;
  }
  friend bool operator!=(const spmm_config& a, const spmm_config& b) { return !(a == b); }

  /// Parses a name produced by name(); throws paisparse::error naming the bad field.
  static spmm_config parse(std::string_view s) {
    const std::vector<std::string> f = detail::config_fields(s);
    if (f.size() >= 2 && f[0] == "spmm" && (f[1] == "tc" || f[1] == "tf" || f[1] == "wg"))
      return parse_tensor(s, f, f[1] == "tf" ? spmm_b_access::fragment
                                : f[1] == "wg" ? spmm_b_access::wgmma
                                               : spmm_b_access::tensor);
    if (f.size() >= 2 && f[0] == "spmm" && f[1] == "tw") return parse_window(s, f);
    PAISPARSE_EXPECTS(f.size() == 12 && f[0] == "spmm",
                      "spmm config '" << s << "': expected 12 dot-separated fields like "
                                      << "spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc, got " << f.size()
                                      << (f.empty() || f[0] == "spmm" ? "" : " (and no leading 'spmm')"));
    auto num = [&](const std::string& field, char tag) { return detail::config_number("spmm", s, field, tag); };
    spmm_config c;
    c.kernel.block_threads = static_cast<int>(num(f[1], 'b'));
    c.kernel.nz_lanes = static_cast<int>(num(f[2], 'g'));
    c.kernel.col_lanes = static_cast<int>(num(f[3], 'l'));
    c.kernel.col_tile = static_cast<int>(num(f[4], 'n'));
    c.kernel.vec_bytes = static_cast<int>(num(f[5], 'v'));
    c.kernel.unroll = static_cast<int>(num(f[6], 'u'));
    c.kernel.index = detail::config_index("spmm", s, f[7]);
    c.segment_cap = num(f[8], 'c');
    c.order = detail::config_order("spmm", s, f[9]);
    const std::string& bf = f[10];
    if (bf.size() > 2 && bf[0] == 'P' && (bf[1] == 'r' || bf[1] == 'c')) {  // Pr<R>x<G>, Pc<R>x<G>
      const std::size_t x = bf.find('x');
      const std::string rows = bf.substr(2, x == std::string::npos ? std::string::npos : x - 2);
      const std::string items = x == std::string::npos ? std::string() : bf.substr(x + 1);
      auto digits = [](const std::string& d) {
        return !d.empty() && d.size() < 10 && d.find_first_not_of("0123456789") == std::string::npos;
      };
      PAISPARSE_EXPECTS(digits(rows) && digits(items),
                        "spmm config '" << s << "': B field '" << bf
                                        << "' should be P<r|c><panel rows>x<items per block>, e.g. Pc1024x64");
      c.b_layout = bf[1] == 'r' ? dense_layout::row_major : dense_layout::col_major;
      c.kernel.access = spmm_b_access::panel;
      c.panel_rows = std::stoi(rows);
      c.group_items = std::stoi(items);
      PAISPARSE_EXPECTS(c.panel_rows >= 1 && c.panel_rows <= 65536 && c.group_items >= 1,
                        "spmm config '" << s << "': B field '" << bf
                                        << "': panel rows must be 1..65536 and items per block >= 1");
    } else {
      PAISPARSE_EXPECTS(bf == "Br" || bf == "Bt" || bf == "Bc",
                        "spmm config '" << s << "': B field '" << bf << "' should be Br, Bt, Bc, Pr<R>x<G> or Pc<R>x<G>");
      c.b_layout = bf == "Br" ? dense_layout::row_major : dense_layout::col_major;
      c.kernel.access = bf == "Bc" ? spmm_b_access::gather : spmm_b_access::rows;
    }
    PAISPARSE_EXPECTS(f[11] == "Cr" || f[11] == "Cc",
                      "spmm config '" << s << "': C field '" << f[11] << "' should be Cr or Cc");
    c.c_layout = f[11] == "Cr" ? dense_layout::row_major : dense_layout::col_major;
    return c;
  }

 private:
  static spmm_config parse_window(std::string_view s, const std::vector<std::string>& f) {
    PAISPARSE_EXPECTS(f.size() == 6, "spmm config '" << s << "': a gathered tensor-core name has 6 dot-separated "
                                                     << "fields like spmm.tw.w8.n64.Bt.Cc, got " << f.size());
    auto num = [&](const std::string& field, char tag) {
      return static_cast<int>(std::min<int64_t>(detail::config_number("spmm", s, field, tag), 1 << 20));
    };
    const spmm_window_block b{num(f[2], 'w'), num(f[3], 'n')};
    PAISPARSE_EXPECTS(spmm_window_shape_ok(b), "spmm config '" << s << "': " << b.warps << " warps x " << b.n
                                                               << " columns is not a gathered tensor-core block "
                                                               << "(1..32 warps, 16..128 columns in 16s)");
    PAISPARSE_EXPECTS(f[4] == "Br" || f[4] == "Bt",
                      "spmm config '" << s << "': B field '" << f[4] << "' should be Br or Bt");
    PAISPARSE_EXPECTS(f[5] == "Cr" || f[5] == "Cc",
                      "spmm config '" << s << "': C field '" << f[5] << "' should be Cr or Cc");
    spmm_config c;
    c.kernel = spmm_kernel_key::window(b);
    c.b_layout = f[4] == "Br" ? dense_layout::row_major : dense_layout::col_major;
    c.c_layout = f[5] == "Cr" ? dense_layout::row_major : dense_layout::col_major;
    return c;
  }

  static spmm_config parse_tensor(std::string_view s, const std::vector<std::string>& f, spmm_b_access family) {
    const bool fragment = family == spmm_b_access::fragment, wg = family == spmm_b_access::wgmma;
    PAISPARSE_EXPECTS(f.size() == 9, "spmm config '" << s << "': a tensor-core name has 9 dot-separated fields like "
                                                     << (fragment ? "spmm.tf.m128.n32.k64.w8x1.s1.Bc.Cc"
                                                         : wg     ? "spmm.wg.m64.n128.k64.w4x1.s1.Bc.Cc"
                                                                  : "spmm.tc.m64.n32.k64.w2x2.s1.Bc.Cc")
                                                     << ", got " << f.size());
    auto num = [&](const std::string& field, char tag) {  // small numbers: checked further by the shape rule
      return static_cast<int>(std::min<int64_t>(detail::config_number("spmm", s, field, tag), 1 << 20));
    };
    spmm_tensor_tile t{num(f[2], 'm'), num(f[3], 'n'), num(f[4], 'k'), 0, 0, 1};
    // w<warps over rows>x<warps over columns>[x<warps over k>]: 2 or 3 numbers of 1..2 digits
    const std::string& w = f[5];
    std::vector<int> warps;
    bool well_formed = w.size() >= 4 && w[0] == 'w';
    for (std::size_t at = 1; well_formed && at < w.size();) {
      const std::size_t end = std::min(w.find('x', at), w.size());
      well_formed = end > at && end - at <= 2 && w.find_first_not_of("0123456789", at) >= end &&
                    (end == w.size() || end + 1 < w.size());
      if (well_formed) warps.push_back(std::stoi(w.substr(at, end - at)));
      at = end + 1;
    }
    PAISPARSE_EXPECTS(well_formed && (warps.size() == 2 || warps.size() == 3),
                      "spmm config '" << s << "': field '" << w << "' should be 'w<warps over rows>x<warps over "
                                      << "columns>' or 'w<rows>x<columns>x<warps over k>', e.g. w2x2 or w2x2x2");
    t.warps_m = warps[0];
    t.warps_n = warps[1];
    if (warps.size() == 3) t.warps_k = warps[2];
    PAISPARSE_EXPECTS(!wg || spmm_wgmma_shape_ok(t),
                      "spmm config '" << s << "': block " << t.m << " x " << t.n << " x " << t.k << " with "
                                      << t.warps_m << " x " << t.warps_n << " x " << t.warps_k
                                      << " warps is not a warpgroup tensor-core shape (64, 128 or 192 rows with 4 warps "
                                      << "over each 64, 16, 32, 64 or 128 columns, k steps a multiple of 64, "
                                      << "exactly 64 with 192 rows)");
    PAISPARSE_EXPECTS(fragment || wg || spmm_tensor_shape_ok(t),
                      "spmm config '" << s << "': block " << t.m << " x " << t.n << " x " << t.k << " with "
                                      << t.warps_m << " x " << t.warps_n << " x " << t.warps_k
                                      << " warps is not a tensor-core shape (each warp needs whole 16 x 16 pieces, "
                                      << "whole 16-deep slices per group along k, at most 8 warps over rows and "
                                      << "columns and 16 in all)");
    PAISPARSE_EXPECTS(!fragment || spmm_fragment_shape_ok(t),
                      "spmm config '" << s << "': block " << t.m << " x " << t.n << " x " << t.k << " with "
                                      << t.warps_m << " x " << t.warps_n << " x " << t.warps_k
                                      << " warps is not a register-built tensor-core shape (one warp over columns, "
                                      << "1 or 2 row tiles of 16 per warp, 16..128 columns in 16s and at most 128 "
                                      << "per warp over its rows, a power of two of 16-deep slices per group along "
                                      << "k, at most 16 warps)");
    const bool cluster = !f[6].empty() && f[6][0] == 'c';
    const int splits = num(f[6], cluster ? 'c' : 's');
    PAISPARSE_EXPECTS(splits >= 1 && splits <= 1024,
                      "spmm config '" << s << "': k splits " << splits << ", expected 1..1024");
    const spmm_b_access access = wg ? spmm_b_access::wgmma : spmm_b_access::tensor;
    PAISPARSE_EXPECTS(!cluster || spmm_cluster_split_ok(access, splits),
                      "spmm config '" << s << "': field '" << f[6] << "': k splits in a cluster (c<splits>) are "
                                      << "2.." << max_cluster_splits << ", for the tensor-core kernels");
    PAISPARSE_EXPECTS(f[7] == "Br" || f[7] == "Bc",
                      "spmm config '" << s << "': B field '" << f[7] << "' should be Br or Bc");
    PAISPARSE_EXPECTS(!wg || f[7] == "Bc", "spmm config '" << s << "': B field '" << f[7]
                                                           << "': the spmm.wg kernels read column-major B (Bc) only");
    PAISPARSE_EXPECTS(f[8] == "Cr" || f[8] == "Cc",
                      "spmm config '" << s << "': C field '" << f[8] << "' should be Cr or Cc");
    spmm_config c;
    c.kernel = wg ? spmm_kernel_key::wgmma(t) : spmm_kernel_key::tensor(t, fragment);
    c.k_splits = splits;
    c.k_cluster = cluster;
    c.b_layout = f[7] == "Br" ? dense_layout::row_major : dense_layout::col_major;
    c.c_layout = f[8] == "Cr" ? dense_layout::row_major : dense_layout::col_major;
    return c;
  }
};

/// Every compiled-in kernel key, in a fixed order (index kind outermost).
inline std::vector<spmm_kernel_key> spmm_kernel_keys() {
  std::vector<spmm_kernel_key> keys;
  for (index_kind ik : {index_kind::u16, index_kind::i32})
    for (spmm_b_access acc : {spmm_b_access::rows, spmm_b_access::gather}) {
      if (acc == spmm_b_access::gather && !space::spmm_gather) continue;
      for (int b : space::spmm_block_threads)
        for (int g : space::spmm_nz_lanes)
          for (int l : space::spmm_col_lanes)
            for (int n : space::spmm_col_tile)
              for (int v : space::spmm_vec_bytes)
                for (int u : space::spmm_unroll)
                  if (spmm_shape_compiled(b, g, l, n, acc == spmm_b_access::gather))
                    keys.push_back({b, g, l, n, v, u, ik, acc});
    }
  if (space::spmm_panel)  // 16-bit indices only (see the header comment)
    for (int b : space::spmm_panel_block_threads)
      for (int g : space::spmm_panel_nz_lanes)
        for (int l : space::spmm_panel_col_lanes)
          for (int n : space::spmm_panel_col_tile)
            for (int v : space::spmm_vec_bytes)
              for (int u : space::spmm_panel_unroll)
                if (spmm_panel_shape_compiled(b, g, l, n, 2))  // 2-byte values: the strictest rule
                  keys.push_back({b, g, l, n, v, u, index_kind::u16, spmm_b_access::panel});
  if (space::spmm_tensor)
    for (const spmm_tensor_tile& t : space::spmm_tensor_tiles)
      if (spmm_tensor_shape_ok(t)) keys.push_back(spmm_kernel_key::tensor(t));
  if (space::spmm_window)
    for (const spmm_window_block& b : space::spmm_window_blocks)
      if (spmm_window_shape_ok(b)) keys.push_back(spmm_kernel_key::window(b));
  if (space::spmm_fragment)
    for (const spmm_tensor_tile& t : space::spmm_fragment_tiles)
      if (spmm_fragment_shape_ok(t)) keys.push_back(spmm_kernel_key::tensor(t, true));
  if (space::spmm_wgmma)
    for (const spmm_tensor_tile& t : space::spmm_wgmma_tiles)
      if (spmm_wgmma_shape_ok(t)) keys.push_back(spmm_kernel_key::wgmma(t));
  return keys;
}

/// Why a kernel key cannot run values of `value_bytes` bytes, or "" if it can.
inline std::string spmm_cannot_implement(const spmm_kernel_key& k, int value_bytes) {
  std::ostringstream os;
  if (k.tensor_tiled()) {
    const bool fragment = k.access == spmm_b_access::fragment, wg = k.access == spmm_b_access::wgmma;
    if (value_bytes != 2) os << "the tensor-core kernels take fp16 or bf16 values";
    else if (!(fragment ? spmm_fragment_shape_ok(k.tile) : wg ? spmm_wgmma_shape_ok(k.tile) : spmm_tensor_shape_ok(k.tile)))
      os << "block " << k.tile.m << " x " << k.tile.n << " x " << k.tile.k << " with " << k.tile.warps_m << " x "
         << k.tile.warps_n << " x " << k.tile.warps_k << " warps is not a "
         << (fragment ? "register-built tensor-core" : wg ? "warpgroup tensor-core" : "tensor-core") << " shape";
    else if (k.index != index_kind::u16 || k.block_threads != 32 * k.tile.warps())
      os << "a tensor-core key has 16-bit positions and one thread per warp lane";
    return os.str();
  }
  if (k.access == spmm_b_access::window) {
    if (value_bytes != 2) os << "the tensor-core kernels take fp16 or bf16 values";
    else if (!spmm_window_shape_ok(k.window_block()) || k.block_threads % 32 != 0)
      os << k.block_threads << " threads x " << k.col_tile << " columns is not a gathered tensor-core block";
    else if (k.index != index_kind::u16 || k.nz_lanes != 1 || k.col_lanes != 1 || k.unroll != 1 || k.vec_bytes != 16)
      os << "a gathered tensor-core key has its other fields at their defaults (u16, g1, l1, u1, v16)";
    return os.str();
  }
  const int elems = k.vec_bytes / value_bytes;
  const int team = k.team_threads();
  const int tile_bytes = k.col_tile * value_bytes;
  if (elems < 1) os << "a " << k.vec_bytes << "-byte vector holds no " << value_bytes << "-byte value";
  else if (k.index == index_kind::u16 && elems * 2 < 4) os << "16-bit indices need at least 2 values per vector";
  else if (team < 1 || team > 32 || (team & (team - 1)) != 0)
    os << "a team of " << k.nz_lanes << " x " << k.col_lanes << " lanes must be a power of two of at most 32";
  else if (k.block_threads % 32 != 0 || k.block_threads % team != 0)
    os << "block of " << k.block_threads << " threads does not divide into warps and teams of " << team;
  else if (tile_bytes != 4 && tile_bytes != 8 && (tile_bytes % 16 != 0 || tile_bytes > 64))
    os << "a tile of " << k.col_tile << " columns is " << tile_bytes << " bytes; expected 4, 8, 16, 32, 48 or 64";
  else if (k.access == spmm_b_access::panel &&
           !spmm_panel_shape_compiled(k.block_threads, k.nz_lanes, k.col_lanes, k.col_tile, value_bytes))
    os << "panel kernels need teams of 8..32 lanes and a chunk of at most 64 columns spanning whole 16-byte pieces";
  else if (k.access == spmm_b_access::panel && k.index != index_kind::u16)
    os << "panel kernels are compiled for 16-bit indices only";
  return os.str();
}

/// Same, for a whole configuration (adds the layout rules).
inline std::string spmm_cannot_implement(const spmm_config& c, int value_bytes) {
  std::string why = spmm_cannot_implement(c.kernel, value_bytes);
  if (why.empty() && c.b_layout == dense_layout::row_major && c.kernel.access == spmm_b_access::gather)
    why = "the gather kernels read column-major B only";
  if (why.empty() && c.b_layout == dense_layout::row_major && c.kernel.access == spmm_b_access::wgmma)
    why = "the spmm.wg kernels read column-major B only";
  if (why.empty() && (c.kernel.access == spmm_b_access::panel) != (c.panel_rows > 0 && c.group_items > 0))
    why = "panel rows and items per block are set for (and only for) the panel kernels";
  if (why.empty() && (c.k_splits < 1 || (c.k_splits > 1 && !c.kernel.tensor_tiled())))
    why = "k splits are 1, but for the tensor-core kernels (1 or more)";
  if (why.empty() && c.k_cluster && !spmm_cluster_split_ok(c.kernel.access, c.k_splits))
    why = "k splits in a cluster are 2.." + std::to_string(max_cluster_splits) + ", for the tensor-core kernels";
  return why;
}

/// Whether a shape suits N columns: every column lane has at least one
/// column, and no tile is more than half empty unless it is the smallest
/// tile. n <= 0: every shape.
inline bool spmm_shape_suits(const spmm_kernel_key& k, int32_t n) {
  if (n <= 0) return true;
  if (k.tensor_tiled()) {  // no block more than half empty, but for the narrowest of its family
    int narrowest = k.tile.n;
    if (k.access == spmm_b_access::tensor)
      for (const spmm_tensor_tile& t : space::spmm_tensor_tiles) narrowest = std::min(narrowest, t.n);
    else if (k.access == spmm_b_access::wgmma)
      for (const spmm_tensor_tile& t : space::spmm_wgmma_tiles) narrowest = std::min(narrowest, t.n);
    else
      for (const spmm_tensor_tile& t : space::spmm_fragment_tiles) narrowest = std::min(narrowest, t.n);
    return k.tile.n == narrowest || k.tile.n / 2 < n;
  }
  if (k.access == spmm_b_access::window) {
    int narrowest = k.col_tile;
    for (const spmm_window_block& b : space::spmm_window_blocks) narrowest = std::min(narrowest, b.n);
    return k.col_tile == narrowest || k.col_tile / 2 < n;
  }
  int smallest = k.col_tile;
  for (int t : space::spmm_col_tile) smallest = std::min(smallest, t);
  return static_cast<int64_t>(k.col_lanes - 1) * k.col_tile < n && (k.col_tile == smallest || k.col_tile / 2 < n);
}

/// Column chunks a launch of `k` has for n columns.
inline int32_t spmm_col_chunks(const spmm_kernel_key& k, int32_t n) {
  return n <= 0 ? 1 : static_cast<int32_t>((static_cast<int64_t>(n) + k.col_pass() - 1) / k.col_pass());
}

/// Segment caps worth trying: 0 (never cut), and the balanced cap, the
/// smallest power of two >= one team pass and >= the nonzeros each team
/// handles when every team the GPU holds at once is busy (column chunks
/// count as work: an item is visited once per chunk), times 1 and 4. Caps
/// no shorter than the longest row are dropped (they cut nothing).
inline std::vector<int64_t> spmm_segment_caps(const spmm_kernel_key& k, int value_bytes, const row_stats& s,
                                              int64_t resident_threads, int32_t n) {
  std::vector<int64_t> caps{0};
  const int64_t pass = std::max<int64_t>(1, k.team_pass(value_bytes));
  const int64_t teams = std::max<int64_t>(1, resident_threads / k.team_threads());
  const int64_t work = static_cast<int64_t>(s.nnz) * spmm_col_chunks(k, n);
  const int64_t share = (work + teams - 1) / teams;
  int64_t cap = 1;
  while (cap < std::max(pass, share)) cap *= 2;
  for (int64_t c : {cap, 4 * cap})
    if (c < s.max_row) caps.push_back(c);
  return caps;
}

/// Panel heights worth trying for a panel kernel on K columns: K itself
/// when the whole of B's chunk fits the shared-memory budget (rows are then
/// never cut), else the two tallest of the list that fit. Shorter panels cut
/// every row into more items, each paying stage 3, for nothing.
inline std::vector<int32_t> spmm_panel_rows_for(const spmm_kernel_key& k, int value_bytes, int32_t cols) {
  auto fits = [&](int64_t r) { return r * k.col_pass() * value_bytes <= space::spmm_panel_max_smem; };
  if (cols >= 1 && cols <= 65536 && fits(cols)) return {cols};
  std::vector<int32_t> fit;
  for (int r : space::spmm_panel_rows)
    if (fits(r) && r < cols) fit.push_back(r);
  if (fit.size() > 2) fit.erase(fit.begin(), fit.end() - 2);
  return fit;
}

/// K splits worth trying for a tensor-core kernel. `wave`: blocks of this
/// kernel the GPU holds at once (the tuner asks the CUDA occupancy API;
/// threads / block size without it). 1 always; and when the tiles of C are
/// too few to fill the GPU once (one block per tile): the smallest power of
/// two p that fills it, p / 2 and 2 p (every split adds atomics, so fewer
/// can win), and the splits that fill one and two waves exactly (floor(w x
/// wave / tiles)), since a last wave a third full costs nearly a whole
/// wave; each at most half the k steps (every split gets two at least), so
/// a K too short for a split offers that half instead. n <= 0: 1 and 3 (an
/// uneven split, for the tests).
inline std::vector<int32_t> spmm_tensor_splits(const spmm_kernel_key& k, const row_stats& s, int64_t wave,
                                               int32_t n) {
  std::vector<int32_t> out{1};
  const int64_t k_steps = (static_cast<int64_t>(s.cols) + k.tile.k - 1) / k.tile.k;
  if (n <= 0) {
    if (k_steps >= 3) out.push_back(3);
    return out;
  }
  const int64_t tiles = (static_cast<int64_t>(s.rows) + k.tile.m - 1) / k.tile.m *
                        ((static_cast<int64_t>(n) + k.tile.n - 1) / k.tile.n);
  wave = std::max<int64_t>(1, wave);
  int64_t p = 1;
  while (tiles * p < wave && p < 64) p *= 2;
  auto add = [&](int64_t c) {
    c = std::min(c, k_steps / 2);
    if (c > 1 && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(static_cast<int32_t>(c));
  };
  for (int64_t c : {p / 2, p, 2 * p}) add(c);
  if (tiles < wave)
    for (int64_t waves : {1, 2}) add(waves * wave / tiles);
  std::sort(out.begin(), out.end());
  return out;
}

/// K splits worth trying in a cluster for a tensor-core kernel, given the
/// splits tried through slices (`slice_splits`: spmm_tensor_splits').
/// A cluster's blocks start together, so a grid whose clusters do not all fit the GPU
/// at once runs the rest in a second wave, a whole k loop later: on the
/// H100, 4096 x 11008 at 90%, N = 128, the 128 x 128 block took 57.2 us in
/// clusters of 4 and 41.8 us in four slices (docs/PERFORMANCE.md, "Split K
/// in a cluster"). `clusters(c)`: clusters of c blocks the GPU holds at once
/// (the tuner asks the CUDA occupancy API; 0 where the block cannot add up
/// in a cluster). So: the most splits m (2 .. max_cluster_splits, each
/// split 2 k steps at least) whose clusters all fit at once, and the slice
/// splits below m. n <= 0: 3 where clusters of 3 fit (for the tests).
inline std::vector<int32_t> spmm_cluster_splits(const spmm_kernel_key& k, const row_stats& s, int32_t n,
                                                const std::vector<int32_t>& slice_splits,
                                                const std::function<int64_t(int32_t)>& clusters) {
  if (!spmm_cluster_split_ok(k.access, 2)) return {};
  const int64_t k_steps = (static_cast<int64_t>(s.cols) + k.tile.k - 1) / k.tile.k;
  if (n <= 0) return k_steps >= 3 && clusters(3) > 0 ? std::vector<int32_t>{3} : std::vector<int32_t>{};
  const int64_t tiles = (static_cast<int64_t>(s.rows) + k.tile.m - 1) / k.tile.m *
                        ((static_cast<int64_t>(n) + k.tile.n - 1) / k.tile.n);
  int32_t most = 1;
  for (int32_t c = 2; c <= max_cluster_splits && c <= k_steps / 2; ++c)
    if (tiles <= clusters(c)) most = c;
  std::vector<int32_t> out;
  for (int32_t c : slice_splits)
    if (c >= 2 && c < most) out.push_back(c);
  if (most >= 2) out.push_back(most);
  return out;
}

/// Whether a name filter (a substring, as tune_options::filter) can keep
/// some configuration of tensor-core key `k` in layouts b and c on a weight
/// of `cols` columns, whatever its k split (spmm_tensor_splits offers 1 to
/// half the k steps, and 3 to the tests). The tuner asks the occupancy API
/// (which loads a kernel's module) only for the keys this keeps.
inline bool spmm_filter_may_keep(const spmm_kernel_key& k, dense_layout b, dense_layout c, int32_t cols,
                                 std::string_view filter) {
  if (filter.empty()) return true;
  const int64_t k_steps = (static_cast<int64_t>(cols) + k.tile.k - 1) / k.tile.k;
  spmm_config config{k, 0, item_order::longest_first, b, c};
  for (int64_t s = 1; s <= std::max<int64_t>(3, k_steps); ++s)
    for (bool cluster : {false, true}) {
      config.k_splits = static_cast<int32_t>(s);
      config.k_cluster = cluster;
      if (config.name().find(filter) != std::string::npos) return true;
    }
  return false;
}

/// Schedule knobs of a configuration.
inline schedule_params spmm_schedule_params(const spmm_config& c, int value_bytes) {
  return schedule_params{c.kernel.vec_bytes / value_bytes, c.segment_cap, c.order, c.panel_rows};
}

/// The search space for a weight, N columns (n <= 0: every shape, caps for
/// one chunk) and the given layouts: kernel keys x segment caps x item
/// orders, and for column-major B both the staged (Bt) and the gather (Bc)
/// kernels. tensor_wave(key), when given: blocks of a tensor-core kernel the
/// GPU holds at once (else resident_threads / its block size);
/// cluster_wave(key, c), when given: clusters of c blocks of a tensor-core
/// kernel the GPU holds at once, 0 where its blocks cannot add up in a
/// cluster (else that wave / c, as if every block shape could).
inline std::vector<spmm_config> spmm_space(
    int value_bytes, const row_stats& s, int64_t resident_threads, int32_t n, dense_layout b_layout,
    dense_layout c_layout, const std::vector<index_kind>& index_kinds = {index_kind::u16, index_kind::i32},
    const std::vector<item_order>& orders = {item_order::longest_first, item_order::row_order},
    const std::function<int64_t(const spmm_kernel_key&)>& tensor_wave = {},
    const std::function<int64_t(const spmm_kernel_key&, int32_t)>& cluster_wave = {}) {
  std::vector<spmm_config> out;
  for (const auto& k : spmm_kernel_keys()) {
    if (b_layout == dense_layout::row_major &&
        (k.access == spmm_b_access::gather || k.access == spmm_b_access::wgmma))
      continue;
    if (!spmm_cannot_implement(k, value_bytes).empty() || !spmm_shape_suits(k, n)) continue;
    if (std::find(index_kinds.begin(), index_kinds.end(), k.index) == index_kinds.end()) continue;
    if (k.tensor_tiled()) {  // no cap, no order (tiles, not items): k splits
      if (std::find(orders.begin(), orders.end(), item_order::longest_first) == orders.end()) continue;
      const int64_t wave = tensor_wave ? tensor_wave(k) : resident_threads / k.block_threads;
      spmm_config c{k, 0, item_order::longest_first, b_layout, c_layout};
      const std::vector<int32_t> slices = spmm_tensor_splits(k, s, wave, n);
      for (int32_t splits : slices) {
        c.k_splits = splits;
        out.push_back(c);
      }
      c.k_cluster = true;  // splits that add up in a cluster
      auto clusters = [&](int32_t size) { return cluster_wave ? cluster_wave(k, size) : wave / size; };
      for (int32_t splits : spmm_cluster_splits(k, s, n, slices, clusters)) {
        c.k_splits = splits;
        out.push_back(c);
      }
      continue;
    }
    if (k.access == spmm_b_access::window) {  // no cap, no order, no split: one configuration
      if (std::find(orders.begin(), orders.end(), item_order::longest_first) == orders.end()) continue;
      out.push_back({k, 0, item_order::longest_first, b_layout, c_layout});
      continue;
    }
    if (k.access == spmm_b_access::panel) {  // panels x groups; rows never capped, longest first within a panel
      if (std::find(orders.begin(), orders.end(), item_order::longest_first) == orders.end()) continue;
      for (int32_t rows : spmm_panel_rows_for(k, value_bytes, s.cols))
        for (int gi : space::spmm_panel_group_items)
          out.push_back({k, 0, item_order::longest_first, b_layout, c_layout, rows, gi});
      continue;
    }
    for (int64_t cap : spmm_segment_caps(k, value_bytes, s, resident_threads, n))
      for (item_order o : orders) out.push_back({k, cap, o, b_layout, c_layout});
  }
  return out;
}

namespace detail {
/// Where tune_spmm tries configuration c among the others (lower first; a
/// time budget cuts the last): the family likelier to win on a weight of
/// this density for n columns (tuning/spmm_tuner.cuh says why).
inline int spmm_search_rank(const spmm_config& c, int32_t n, double density) {
  // spmm.wg multiplies whole tiles of W, so its time barely falls with the
  // density, while the CUDA-core kernels' time falls with it: at N = 128 it
  // still won at 5% density on every layer shape measured, by 1.1-1.7x, and
  // lost at 1% (docs/PERFORMANCE.md, "`spmm.wg` first at 95% for N >= 64")
  const bool tensor_first = (n >= 32 && density >= 0.08) || (n >= 64 && density >= 0.04);
  switch (c.kernel.access) {
    case spmm_b_access::window: return 4;  // the one case it won, 95% at N = 128, went to spmm.wg
    case spmm_b_access::wgmma: return tensor_first ? 1 : 4;
    case spmm_b_access::tensor: return tensor_first ? 2 : 3;
    case spmm_b_access::fragment: return 5;
    case spmm_b_access::panel: return 6;
    default: return tensor_first ? 3 : 2;  // the CUDA-core kernels
  }
}
}  // namespace detail

}  // namespace paisparse
