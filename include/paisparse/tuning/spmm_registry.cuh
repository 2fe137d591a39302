// paisparse: the table of compiled-in SpMM kernels, one entry per kernel key.
//
// Including this header instantiates every SpMM kernel of the space for the
// value and index types a translation unit asks for. To compile them once,
// in parallel translation units, define PAISPARSE_SEPARATE_KERNELS in every
// TU that includes paisparse and put PAISPARSE_INSTANTIATE_SPMM(T, I) in one
// TU per (T, I) pair (CMake: paisparse_add_kernel_instantiations(target)
// does both, next to the SpMV table).
#pragma once

#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <iterator>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../epilog/linear_epilog.cuh"
#include "../format/spmm_schedule.cuh"
#include "../kernels/spmm_fragment_kernel.cuh"
#include "../kernels/spmm_kernel.cuh"
#include "../kernels/spmm_panel_kernel.cuh"
#include "../kernels/spmm_tensor_kernel.cuh"
#include "../kernels/spmm_wgmma_kernel.cuh"
#include "../kernels/spmm_window_kernel.cuh"
#include "../prolog/spmm_prolog.cuh"
#include "../reduction/column_tile_reduction.cuh"
#include "../reduction/mma_reduction.cuh"
#include "../reduction/wgmma_reduction.cuh"
#include "spmm_config.hpp"

namespace paisparse {

/// Host arguments of one SpMM kernel launch, B already in the layout the
/// kernel's access reads (row-major for rows, column-major for gather,
/// either for panel, as b_row_major says).
template <class T>
struct spmm_launch_args {
  const spmm_schedule<T>* weight = nullptr;
  const T* b = nullptr;
  int64_t ldb = 0;
  bool b_row_major = true;
  int32_t panel_rows = 0;                        // panel kernels: the configuration's panel height
  int32_t k_splits = 1;                          // tensor-core kernels: blocks sharing a tile of C
  bool k_cluster = false;                        // k_splits > 1: the tile's blocks add up in a cluster
  T* c = nullptr;                                // C(m, n) at c[m * c_row_stride + n * c_col_stride]
  int64_t c_row_stride = 0, c_col_stride = 0;
  int32_t n = 0;
  epilog_params<T> ep;
  /// Launch with programmatic dependent launch: the kernel may start while
  /// the previous kernel in the stream runs, reading its weight; it waits
  /// for that kernel before reading B, C or bias (detail/dependent_launch.cuh).
  bool overlap = false;
};

template <class T>
using spmm_launch_fn = void (*)(const spmm_launch_args<T>&, cudaStream_t);

template <class T>
struct spmm_kernel_entry {
  spmm_kernel_key key;
  spmm_launch_fn<T> launch;
  /// Tensor-core kernels (dense tiles and register-built): blocks of the
  /// kernel one SM holds at once for that B layout (CUDA occupancy API), for
  /// the tuner's k splits; null for the other kernels.
  int (*resident_blocks)(bool b_row_major) = nullptr;
  /// Tensor-core kernels: clusters of `size` blocks the GPU holds at once
  /// for that B layout (CUDA occupancy API), for the tuner's splits in a
  /// cluster; 0 where the block shape cannot add up in a cluster (its
  /// shared memory does not hold its staged sums); null for the other
  /// kernels.
  int (*resident_clusters)(bool b_row_major, int size) = nullptr;
  /// Tensor-core kernels: whether the block's k splits can add up in a
  /// cluster with B in that layout (it stages its sums, and its code was
  /// compiled for sm_90 or later); null for the other kernels.
  bool (*cluster_ok)(bool b_row_major) = nullptr;
};

namespace detail {
/// What every SpMM launcher fills the same way.
template <class T, class I, int ChunkCols>
spmm_params<T, I> spmm_common_params(const spmm_launch_args<T>& a, int64_t b_vector_align) {
  spmm_params<T, I> p;
  p.w = a.weight->weight().template view<I>();
  p.b = a.b;
  p.ldb = a.ldb;
  if (b_vector_align > 0)
    p.b_vector = reinterpret_cast<uintptr_t>(a.b) % b_vector_align == 0 &&
                 (a.ldb * static_cast<int64_t>(sizeof(T))) % b_vector_align == 0;
  p.c = a.c;
  p.c_row_stride = a.c_row_stride;
  p.c_col_stride = a.c_col_stride;
  p.n = a.n;
  p.col_chunks = static_cast<int32_t>((static_cast<int64_t>(a.n) + ChunkCols - 1) / ChunkCols);
  p.split = a.weight->split();
  p.ep = a.ep;
  return p;
}
}  // namespace detail

/// The composition the registry instantiates for one kernel key.
template <class T, class I, int BlockThreads, int NzLanes, int ColLanes, int ColTile, int VecBytes, int Unroll,
          spmm_b_access Access>
struct spmm_composition {
  using prolog = std::conditional_t<
      Access == spmm_b_access::panel, spmm_panel_prolog<T, I, VecBytes, Unroll, ColTile, ColLanes * ColTile>,
      std::conditional_t<Access == spmm_b_access::gather, spmm_gather_prolog<T, I, VecBytes, Unroll, ColTile>,
                         spmm_row_prolog<T, I, VecBytes, Unroll, ColTile>>>;
  using reduction = column_tile_reduction<NzLanes, ColLanes, ColTile>;
  using epilog = linear_epilog<T, runtime_activation>;

  static void launch(const spmm_launch_args<T>& a, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    if (w.weight().n_items() == 0 || a.n <= 0) return;
    PAISPARSE_EXPECTS(w.split_rows() == 0 || a.n <= w.max_n(),
                      "spmm: N = " << a.n << " exceeds the " << w.max_n()
                                   << " columns the split-row workspace was sized for");
    const spmm_params<T, I> p = detail::spmm_common_params<T, I, ColLanes * ColTile>(a, prolog::b_vector_align);
    if constexpr (Access == spmm_b_access::panel) {
      launch_panel(a, p, st);
    } else {
      const int64_t grid = spmm_grid<BlockThreads, NzLanes * ColLanes>(w.weight().n_items(), p.col_chunks);
      PAISPARSE_EXPECTS(grid <= std::numeric_limits<int32_t>::max(),
                        "spmm: " << grid << " blocks exceed the grid limit; use a shape with wider chunks");
      PAISPARSE_CUDA_TRY(detail::launch_kernel(&spmm_kernel<prolog, reduction, epilog, BlockThreads>,
                                               static_cast<unsigned>(grid), BlockThreads, 0, st, a.overlap, p));
    }
  }

 private:
  static void launch_panel(const spmm_launch_args<T>& a, const spmm_params<T, I>& p, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    PAISPARSE_EXPECTS(w.group_start() != nullptr && a.panel_rows > 0,
                      "spmm: a panel kernel needs a schedule built with item groups and a panel height");
    const int64_t smem = static_cast<int64_t>(a.panel_rows) * ColLanes * ColTile * static_cast<int64_t>(sizeof(T));
    auto kernel = &spmm_panel_kernel<prolog, reduction, epilog, BlockThreads>;
    static const int optin = [kernel] {  // once per kernel: allow its largest dynamic shared memory
      int dev = 0, bytes = 0;
      PAISPARSE_CUDA_TRY(cudaGetDevice(&dev));
      PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
      PAISPARSE_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
      return bytes;
    }();
    PAISPARSE_EXPECTS(smem <= optin, "spmm: a panel of " << a.panel_rows << " rows x " << ColLanes * ColTile
                                                         << " columns needs " << smem << " bytes of shared memory; "
                                                         << "the device allows " << optin << " per block");
    spmm_panel_view g;
    g.group_start = w.group_start();
    g.panel_rows = a.panel_rows;
    g.k = w.cols();
    g.b_row_major = a.b_row_major ? 1 : 0;
    const int64_t grid = static_cast<int64_t>(w.n_groups()) * p.col_chunks;
    PAISPARSE_EXPECTS(grid <= std::numeric_limits<int32_t>::max(),
                      "spmm: " << grid << " blocks exceed the grid limit; use more items per block");
    PAISPARSE_CUDA_TRY(detail::launch_kernel(kernel, static_cast<unsigned>(grid), BlockThreads,
                                             static_cast<std::size_t>(smem), st, a.overlap, p, g));
  }
};

namespace detail {
/// Lets `kernel` use `bytes` of dynamic shared memory beyond the 48 KiB
/// default; once per kernel (Tag: the composition).
template <class Tag, class Kernel>
void allow_dynamic_smem(Kernel kernel, int bytes) {
  static const bool done = [&] {
    if (bytes > 48 * 1024)
      PAISPARSE_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    return true;
  }();
  (void)done;
}

/// Blocks of `kernel` (threads each, `bytes` of dynamic shared memory) one
/// SM holds at once.
template <class Tag, class Kernel>
int resident_blocks(Kernel kernel, int threads, int bytes) {
  allow_dynamic_smem<Tag>(kernel, bytes);
  int blocks = 0;
  PAISPARSE_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, bytes));
  return blocks;
}

/// Clusters of `size` blocks of `kernel` (threads each, `bytes` of dynamic
/// shared memory) the GPU holds at once.
template <class Tag, class Kernel>
int resident_clusters(Kernel kernel, int threads, int bytes, int size) {
  allow_dynamic_smem<Tag>(kernel, bytes);
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(static_cast<unsigned>(size));
  cfg.blockDim = dim3(static_cast<unsigned>(threads));
  cfg.dynamicSmemBytes = static_cast<std::size_t>(bytes);
  cudaLaunchAttribute attr = cluster_attribute(static_cast<unsigned>(size));
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  int clusters = 0;
  PAISPARSE_CUDA_TRY(cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg));
  return clusters;
}

/// Whether `kernel`'s code was compiled for sm_90 or later, as thread block
/// clusters need: PTX for an older target, compiled just in time for a
/// Hopper GPU, has no clusters (its cluster walk traps).
template <class Kernel>
bool compiled_for_clusters(Kernel kernel) {
  cudaFuncAttributes attr{};
  PAISPARSE_CUDA_TRY(cudaFuncGetAttributes(&attr, kernel));
  return attr.ptxVersion >= 90;
}

/// Whether B and its ld are 16-byte aligned: what cp.async and the TMA
/// need to read it in 16-byte pieces.
template <class T>
bool b_aligned(const spmm_launch_args<T>& a) {
  return reinterpret_cast<uintptr_t>(a.b) % 16 == 0 && (a.ldb * static_cast<int64_t>(sizeof(T))) % 16 == 0;
}

/// Fills what the tensor-core kernels' parameters share: B (16-byte
/// alignment for cp.async), C, N in blocks of TileN columns, the epilog.
template <int TileN, class T>
void fill_tensor_operands(tensor_operands<T>& p, const spmm_launch_args<T>& a) {
  p.b = a.b;
  p.ldb = a.ldb;
  p.b_vector = b_aligned(a);
  p.c = a.c;
  p.c_row_stride = a.c_row_stride;
  p.c_col_stride = a.c_col_stride;
  p.n = a.n;
  p.n_blocks = static_cast<int32_t>((static_cast<int64_t>(a.n) + TileN - 1) / TileN);
  p.ep = a.ep;
}

/// Fills the split-K fields of a tensor-core launch from the weight's tables.
template <class T>
void fill_split_k(split_k_tables& p, const spmm_launch_args<T>& a) {
  PAISPARSE_EXPECTS(a.k_splits >= 1, "spmm: k splits = " << a.k_splits << ", expected >= 1");
  p.k_splits = a.k_splits;
  if (a.k_splits == 1) return;
  if (a.k_cluster) {  // the blocks of a tile add up in their cluster: no tables
    PAISPARSE_EXPECTS(a.k_splits <= max_cluster_splits,
                      "spmm: " << a.k_splits << " k splits in a cluster, expected 2.." << max_cluster_splits);
    p.cluster = 1;
    return;
  }
  const spmm_schedule<T>& w = *a.weight;
  PAISPARSE_EXPECTS(w.tile_workspace() != nullptr && a.k_splits <= w.tile_split_slices() && a.n <= w.max_n(),
                    "spmm: " << a.k_splits << " k splits need a weight built with split-K tables for "
                             << a.k_splits << " splits and N = " << a.n << " (built for " << w.tile_split_slices()
                             << " splits and N = " << w.max_n() << ")");
  p.workspace = w.tile_workspace();
  p.counters = w.tile_counters();
  p.ws_stride = w.max_n();
  p.ws_slice = w.tile_slice();
  p.counter_stride = w.tile_counter_stride();
}

/// Fills B, C, the epilog and the split-K tables of p, checks the grid
/// (row_blocks x column blocks x k splits) and launches `kernel` with p and
/// any `more` arguments: the launch of every composition whose blocks own
/// tiles of C (spmm.tc, spmm.tf, spmm.wg). Tag: the composition
/// (allow_dynamic_smem's cache).
template <class Tag, int TileN, class T, class Kernel, class Params, class... More>
void launch_tensor_tiles(Kernel kernel, int threads, int smem_bytes, const spmm_launch_args<T>& a, Params& p,
                         int64_t row_blocks, cudaStream_t st, const More&... more) {
  allow_dynamic_smem<Tag>(kernel, smem_bytes);
  fill_tensor_operands<TileN>(p, a);
  fill_split_k(p, a);
  const int64_t grid = row_blocks * p.n_blocks * a.k_splits;
  PAISPARSE_EXPECTS(grid <= std::numeric_limits<int32_t>::max(),
                    "spmm: " << grid << " blocks exceed the grid limit; use a taller tensor-core block");
  PAISPARSE_CUDA_TRY(launch_kernel_in_clusters(kernel, static_cast<unsigned>(grid), threads,
                                               static_cast<std::size_t>(smem_bytes), st, a.overlap,
                                               p.cluster ? static_cast<unsigned>(a.k_splits) : 1u, p, more...));
}

/// Whether this program's kernels were compiled for sm_90a and run on a GPU
/// that takes that code (the spmm.wg kernels need both): a probe kernel
/// says, once per process (false without a GPU). Call it outside stream
/// capture (the tuner and make_spmm_schedule do).
inline bool wgmma_compiled() {
  static const bool yes = [] {
    int* flag = nullptr;
    if (cudaMalloc(&flag, sizeof(int)) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    int host = 0;
    spmm_wgmma_probe_kernel<><<<1, 1>>>(flag);
    const bool ok = cudaGetLastError() == cudaSuccess &&
                    cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess;
    (void)cudaFree(flag);
    (void)cudaGetLastError();
    return ok && host == 1;
  }();
  return yes;
}

/// A TMA tensor map of a column-major B (K x N, column n at b + n * ldb;
/// 16-byte aligned with ldb a multiple of 8) in box_k x box_n boxes with the
/// 128-byte swizzle, zeros past K and N: what the spmm.wg producers copy B's
/// tiles with (prolog/tile_prolog.cuh: b_swizzle_stage). The driver's
/// encoder comes through the runtime (no link to the driver library).
/// The last map made on the calling thread is kept: a model's layers run
/// over the same activation buffer, so the encoder runs once per buffer,
/// shape and box, not on every launch.
template <class T>
CUtensorMap b_tensor_map(const T* b, int64_t k, int64_t n, int64_t ldb, int box_k, int box_n) {
  struct last_map {
    const T* b = nullptr;
    int64_t k = 0, n = 0, ldb = 0;
    int box_k = 0, box_n = 0;
    CUtensorMap map{};
  };
  thread_local last_map last;
  if (last.b == b && b != nullptr && last.k == k && last.n == n && last.ldb == ldb && last.box_k == box_k &&
      last.box_n == box_n)
    return last.map;
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    PAISPARSE_CUDA_TRY(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found));
    PAISPARSE_EXPECTS(found == cudaDriverEntryPointSuccess && fn != nullptr,
                      "spmm: the CUDA driver has no cuTensorMapEncodeTiled (the spmm.wg kernels need it)");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  CUtensorMap map{};
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(n)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ldb) * sizeof(T)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(box_k), static_cast<cuuint32_t>(box_n)};
  const cuuint32_t steps[2] = {1, 1};
  const CUresult r = encode(&map, std::is_same_v<T, __half> ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                            2, const_cast<T*>(b), dims, strides, box, steps, CU_TENSOR_MAP_INTERLEAVE_NONE,
                            CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  PAISPARSE_EXPECTS(r == CUDA_SUCCESS, "spmm: cuTensorMapEncodeTiled failed (error " << static_cast<int>(r) << ") for B of "
                                           << k << " x " << n << ", ld " << ldb);
  last = last_map{b, k, n, ldb, box_k, box_n, map};
  return map;
}

/// What the dense-tile (spmm.tc) and register-built (spmm.tf) compositions
/// share: the B-layout dispatch, the occupancy queries and the launch.
/// Derived provides threads, tile_m, tile_n, parts<BRowMajor> (with
/// smem_bytes), kernel_of<BRowMajor>() and run<BRowMajor>(a, st), which
/// checks the weight, fills p.w and calls launch_tiles.
template <class Derived, class T>
struct tensor_composition_base {
  /// Whether the block stages its sums in an fp32 tile in its operands'
  /// shared memory (detail::stages_sums): what its k splits need to add up
  /// in a cluster. Not the 128 x 128 k32 spmm.tc block nor the 128-row
  /// spmm.tf ones (but 128 x 16 with row-major B): their sums go from
  /// registers to the slices.
  template <bool BRowMajor>
  static constexpr bool sums_staged =
      detail::stages_sums<Derived::tile_m, Derived::tile_n, Derived::template parts<BRowMajor>::smem_bytes>;

  static void launch(const spmm_launch_args<T>& a, cudaStream_t st) {
    if (a.k_cluster) {
      PAISPARSE_EXPECTS(a.b_row_major ? sums_staged<true> : sums_staged<false>,
                        "spmm: k splits in a cluster need a block whose shared memory holds its staged sums; the "
                            << Derived::tile_m << " x " << Derived::tile_n << " block with "
                            << (a.b_row_major ? "row" : "column") << "-major B does not (split through slices, s"
                            << a.k_splits << ")");
      PAISPARSE_EXPECTS(cluster_ok(a.b_row_major),
                        "spmm: k splits in a cluster need kernels compiled for sm_90 or later; the "
                            << Derived::tile_m << " x " << Derived::tile_n
                            << " block's code here is for an older target (CMAKE_CUDA_ARCHITECTURES; split "
                               "through slices, s"
                            << a.k_splits << ")");
    }
    if (a.b_row_major) Derived::template run<true>(a, st);
    else Derived::template run<false>(a, st);
  }

  /// Whether the block's k splits can add up in a cluster with B in that
  /// layout: it stages its sums and its code was compiled for sm_90 or
  /// later (asked once per layout).
  static bool cluster_ok(bool b_row_major) {
    return b_row_major ? cluster_ready<true>() : cluster_ready<false>();
  }

  static int resident_blocks(bool b_row_major) {
    return b_row_major ? blocks<true>() : blocks<false>();
  }

  static int resident_clusters(bool b_row_major, int size) {
    return b_row_major ? clusters<true>(size) : clusters<false>(size);
  }

 protected:
  /// Fills B, C, the epilog and the split-K tables of p, checks the grid
  /// (row_blocks x column blocks x k splits) and launches.
  template <bool BRowMajor, class Params>
  static void launch_tiles(const spmm_launch_args<T>& a, Params& p, int64_t row_blocks, cudaStream_t st) {
    using P = typename Derived::template parts<BRowMajor>;
    launch_tensor_tiles<P, Derived::tile_n>(Derived::template kernel_of<BRowMajor>(), Derived::threads, P::smem_bytes,
                                            a, p, row_blocks, st);
  }

 private:
  template <bool BRowMajor>
  static int blocks() {
    using P = typename Derived::template parts<BRowMajor>;
    return detail::resident_blocks<P>(Derived::template kernel_of<BRowMajor>(), Derived::threads, P::smem_bytes);
  }

  template <bool BRowMajor>
  static bool cluster_ready() {
    if constexpr (sums_staged<BRowMajor>) {
      static const bool yes = compiled_for_clusters(Derived::template kernel_of<BRowMajor>());
      return yes;
    } else {
      return false;
    }
  }

  template <bool BRowMajor>
  static int clusters(int size) {
    using P = typename Derived::template parts<BRowMajor>;
    if (!cluster_ready<BRowMajor>()) return 0;
    return detail::resident_clusters<P>(Derived::template kernel_of<BRowMajor>(), Derived::threads, P::smem_bytes,
                                        size);
  }
};
}  // namespace detail

/// The tensor-core composition for one block shape: both B layouts
/// (chosen at run time), fp16 or bf16 values.
template <class T, int TileM, int TileN, int TileK, int WarpsM, int WarpsN, int WarpsK>
struct spmm_tensor_composition
    : detail::tensor_composition_base<spmm_tensor_composition<T, TileM, TileN, TileK, WarpsM, WarpsN, WarpsK>, T> {
  static constexpr int threads = 32 * WarpsM * WarpsN * WarpsK;
  static constexpr int tile_m = TileM, tile_n = TileN;
  template <bool BRowMajor>
  struct parts {
    using prolog = tile_scatter_prolog<T, threads, TileM, TileK>;
    using b_stage = b_tile_stage<T, threads, TileK, TileN, BRowMajor>;
    using reduction = mma_reduction<T, TileM, TileN, TileK, WarpsM, WarpsN, BRowMajor, WarpsK>;
    using epilog = linear_epilog<T, runtime_activation>;
    static constexpr int smem_bytes = spmm_tensor_layout<prolog, b_stage, reduction>::smem_bytes;
  };

  template <bool BRowMajor>
  static auto kernel_of() {
    using P = parts<BRowMajor>;
    return &spmm_tensor_kernel<typename P::prolog, typename P::b_stage, typename P::reduction, typename P::epilog,
                               threads, TileM, TileN, TileK>;
  }

  template <bool BRowMajor>
  static void run(const spmm_launch_args<T>& a, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    if (w.rows() == 0 || a.n <= 0) return;
    const device_tiled_weight* tw = w.tiled();
    PAISPARSE_EXPECTS(tw != nullptr && tw->tile_m() == TileM && tw->tile_k() == TileK &&
                          tw->layout() == tile_layout::padded_rows,
                      "spmm: a tensor-core kernel with " << TileM << " x " << TileK
                                                         << " tiles needs a weight tiled the same way (padded rows)");
    spmm_tensor_params<T> p;
    p.w = tw->view();
    spmm_tensor_composition::template launch_tiles<BRowMajor>(a, p, p.w.row_blocks, st);
  }
};

/// The warpgroup tensor-core composition (spmm.wg) for one block shape:
/// column-major B, fp16 or bf16 values, sm_90a. A warpgroup per 64 rows
/// multiplies; two more build the tiles (kernels/spmm_wgmma_kernel.cuh).
template <class T, int TileM, int TileN, int TileK>
struct spmm_wgmma_composition {
  static constexpr int producers = 2;
  static constexpr int threads = 32 * (TileM / 16) + 128 * producers;
  using prolog = tile_copy_prolog<T, 128, TileM, TileK>;
  using b_stage = b_swizzle_stage<T, 128, TileK, TileN>;
  using reduction = wgmma_reduction<T, TileM, TileN, TileK>;
  using epilog = linear_epilog<T, runtime_activation>;
  static constexpr int smem_bytes = spmm_wgmma_layout<prolog, b_stage, TileM, producers>::smem_bytes;

  static auto kernel() {
    return &spmm_wgmma_kernel<prolog, b_stage, reduction, epilog, threads, TileM, TileN, TileK, producers>;
  }

  static void launch(const spmm_launch_args<T>& a, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    if (w.rows() == 0 || a.n <= 0) return;
    PAISPARSE_EXPECTS(!a.b_row_major, "spmm: the spmm.wg kernels read column-major B only");
    const device_tiled_weight* tw = w.tiled();
    PAISPARSE_EXPECTS(tw != nullptr && tw->tile_m() == TileM && tw->tile_k() == TileK &&
                          tw->layout() == tile_layout::core_matrices,
                      "spmm: an spmm.wg kernel with " << TileM << " x " << TileK
                                                      << " tiles needs a weight tiled the same way (core matrices)");
    spmm_tensor_params<T> p;
    p.w = tw->view();
    // B's tensor map where the TMA can read it (the kernel copies B element
    // by element otherwise)
    const CUtensorMap map =
        detail::b_aligned(a) ? detail::b_tensor_map<T>(a.b, w.cols(), a.n, a.ldb, 64, TileN) : CUtensorMap{};
    detail::launch_tensor_tiles<spmm_wgmma_composition, TileN>(kernel(), threads, smem_bytes, a, p, p.w.row_blocks, st,
                                                               map);
  }

  static int resident_blocks(bool) {
    return detail::resident_blocks<spmm_wgmma_composition>(kernel(), threads, smem_bytes);
  }

  static int resident_clusters(bool, int size) {
    return detail::resident_clusters<spmm_wgmma_composition>(kernel(), threads, smem_bytes, size);
  }

  /// Every spmm.wg block stages its sums, and its code is sm_90a's.
  static bool cluster_ok(bool) { return true; }
};

/// The gathered tensor-core composition for one block shape: row-major B
/// (a column-major B arrives through the plan's staged copy), fp16 or bf16.
template <class T, int Warps, int TileN>
struct spmm_window_composition {
  static constexpr int threads = 32 * Warps;
  using prolog = window_step_prolog<TileN + 8>;
  using b_stage = b_tile_stage<T, threads, window_chunk, TileN, true>;
  using reduction = window_mma_reduction<T, TileN>;
  using epilog = linear_epilog<T, runtime_activation>;
  static constexpr int smem_bytes = spmm_window_layout<b_stage>::smem_bytes;
  static_assert(b_stage::ld == TileN + 8, "spmm_window_composition: the prolog's row stride is the staged B's");

  static void launch(const spmm_launch_args<T>& a, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    if (w.rows() == 0 || a.n <= 0) return;
    const device_window_weight* ww = w.windowed();
    PAISPARSE_EXPECTS(ww != nullptr, "spmm: a gathered tensor-core kernel needs a windowed weight");
    PAISPARSE_EXPECTS(a.b_row_major, "spmm: the gathered tensor-core kernels read row-major B (stage it first)");
    auto kernel = &spmm_window_kernel<prolog, b_stage, reduction, epilog, threads, TileN>;
    detail::allow_dynamic_smem<spmm_window_composition>(kernel, smem_bytes);
    spmm_window_params<T> p;
    p.w = ww->view();
    detail::fill_tensor_operands<TileN>(p, a);
    const int64_t grid = (static_cast<int64_t>(p.w.windows) + Warps - 1) / Warps * p.n_blocks;
    PAISPARSE_EXPECTS(grid <= std::numeric_limits<int32_t>::max(),
                      "spmm: " << grid << " blocks exceed the grid limit; use a block of more warps");
    PAISPARSE_CUDA_TRY(detail::launch_kernel(kernel, static_cast<unsigned>(grid), threads,
                                             static_cast<std::size_t>(smem_bytes), st, a.overlap, p));
  }
};

/// The register-built tensor-core composition for one block shape: both B
/// layouts (chosen at run time), fp16 or bf16 values.
template <class T, int TileM, int TileN, int TileK, int WarpsM, int WarpsK>
struct spmm_fragment_composition
    : detail::tensor_composition_base<spmm_fragment_composition<T, TileM, TileN, TileK, WarpsM, WarpsK>, T> {
  static constexpr int threads = 32 * WarpsM * WarpsK;
  static constexpr int tile_m = TileM, tile_n = TileN;
  template <bool BRowMajor>
  struct parts {
    using prolog = fragment_prolog<TileM / WarpsM / 16>;
    using b_stage = b_tile_stage<T, threads, TileK, TileN, BRowMajor>;
    using reduction = mma_reduction<T, TileM, TileN, TileK, WarpsM, 1, BRowMajor, WarpsK>;
    using epilog = linear_epilog<T, runtime_activation>;
    static constexpr int smem_bytes = spmm_fragment_layout<b_stage, reduction>::smem_bytes;
  };

  template <bool BRowMajor>
  static auto kernel_of() {
    using P = parts<BRowMajor>;
    return &spmm_fragment_kernel<typename P::prolog, typename P::b_stage, typename P::reduction, typename P::epilog,
                                 threads, TileM, TileN, TileK, WarpsM, WarpsK>;
  }

  template <bool BRowMajor>
  static void run(const spmm_launch_args<T>& a, cudaStream_t st) {
    const spmm_schedule<T>& w = *a.weight;
    if (w.rows() == 0 || a.n <= 0) return;
    const device_fragment_weight* fw = w.fragments();
    PAISPARSE_EXPECTS(fw != nullptr, "spmm: a register-built tensor-core kernel needs a fragment weight");
    spmm_fragment_params<T> p;
    p.w = fw->view();
    const int64_t row_blocks = (static_cast<int64_t>(p.w.rows) + TileM - 1) / TileM;
    spmm_fragment_composition::template launch_tiles<BRowMajor>(a, p, row_blocks, st);
  }
};

namespace detail {

/// Kernel shape number Flat of the cartesian product of the lists (block
/// threads, nz lanes, col lanes, col tile, vector bytes, unroll; unroll
/// fastest). `rest` is Flat / size, for a further outer dimension.
template <const auto& Blocks, const auto& NzLanes, const auto& ColLanes, const auto& ColTiles, const auto& Unrolls,
          std::size_t Flat>
struct spmm_flat_shape {
  static constexpr std::size_t nu = Unrolls.size(), nv = space::spmm_vec_bytes.size(), nn = ColTiles.size(),
                               nl = ColLanes.size(), ng = NzLanes.size(), nb = Blocks.size();
  static constexpr std::size_t size = nu * nv * nn * nl * ng * nb;
  static constexpr int u = Unrolls[Flat % nu];
  static constexpr int v = space::spmm_vec_bytes[(Flat / nu) % nv];
  static constexpr int n = ColTiles[(Flat / nu / nv) % nn];
  static constexpr int l = ColLanes[(Flat / nu / nv / nn) % nl];
  static constexpr int g = NzLanes[(Flat / nu / nv / nn / nl) % ng];
  static constexpr int b = Blocks[(Flat / nu / nv / nn / nl / ng) % nb];
  static constexpr std::size_t rest = Flat / size;
};

/// Whether values T, indices I, vectors of V bytes and tiles of N columns make a kernel.
template <class T, class I, int V, int N>
constexpr bool spmm_types_fit() {
  constexpr int vb = static_cast<int>(sizeof(T));
  constexpr int tile_bytes = N * vb;
  return V / vb * static_cast<int>(sizeof(I)) >= 4 && V / vb >= 1 &&
         (tile_bytes == 4 || tile_bytes == 8 || (tile_bytes % 16 == 0 && tile_bytes <= 64));
}

template <class T, class I, std::size_t Flat>
void add_spmm_entry(std::vector<spmm_kernel_entry<T>>& out) {
  using s = spmm_flat_shape<space::spmm_block_threads, space::spmm_nz_lanes, space::spmm_col_lanes,
                            space::spmm_col_tile, space::spmm_unroll, Flat>;
  constexpr bool gather = s::rest == 1;
  if constexpr ((!gather || space::spmm_gather) && spmm_shape_compiled(s::b, s::g, s::l, s::n, gather) &&
                spmm_types_fit<T, I, s::v, s::n>()) {
    constexpr spmm_b_access access = gather ? spmm_b_access::gather : spmm_b_access::rows;
    out.push_back({spmm_kernel_key{s::b, s::g, s::l, s::n, s::v, s::u, index_kind_of_v<I>, access},
                   &spmm_composition<T, I, s::b, s::g, s::l, s::n, s::v, s::u, access>::launch});
  }
}

/// The panel kernels: their own lists, 16-bit indices only.
template <class T, class I, std::size_t Flat>
void add_spmm_panel_entry(std::vector<spmm_kernel_entry<T>>& out) {
  using s = spmm_flat_shape<space::spmm_panel_block_threads, space::spmm_panel_nz_lanes, space::spmm_panel_col_lanes,
                            space::spmm_panel_col_tile, space::spmm_panel_unroll, Flat>;
  if constexpr (space::spmm_panel && std::is_same_v<I, uint16_t> &&
                spmm_panel_shape_compiled(s::b, s::g, s::l, s::n, static_cast<int>(sizeof(T))) &&
                spmm_types_fit<T, I, s::v, s::n>()) {
    out.push_back({spmm_kernel_key{s::b, s::g, s::l, s::n, s::v, s::u, index_kind_of_v<I>, spmm_b_access::panel},
                   &spmm_composition<T, I, s::b, s::g, s::l, s::n, s::v, s::u, spmm_b_access::panel>::launch});
  }
}

/// The tensor-core kernels: their own list of block shapes, 16-bit values,
/// listed in the 16-bit-index table (their positions are 16-bit).
template <class T, class I, std::size_t Tile>
void add_spmm_tensor_entry(std::vector<spmm_kernel_entry<T>>& out) {
  constexpr spmm_tensor_tile t = space::spmm_tensor_tiles[Tile];
  if constexpr (space::spmm_tensor && std::is_same_v<I, uint16_t> && sizeof(T) == 2 && spmm_tensor_shape_ok(t)) {
    using C = spmm_tensor_composition<T, t.m, t.n, t.k, t.warps_m, t.warps_n, t.warps_k>;
    out.push_back({spmm_kernel_key::tensor(t), &C::launch, &C::resident_blocks, &C::resident_clusters, &C::cluster_ok});
  }
}

/// The warpgroup tensor-core kernels: likewise.
template <class T, class I, std::size_t Tile>
void add_spmm_wgmma_entry(std::vector<spmm_kernel_entry<T>>& out) {
  constexpr spmm_tensor_tile t = space::spmm_wgmma_tiles[Tile];
  if constexpr (space::spmm_wgmma && std::is_same_v<I, uint16_t> && sizeof(T) == 2 && spmm_wgmma_shape_ok(t)) {
    using C = spmm_wgmma_composition<T, t.m, t.n, t.k>;
    out.push_back({spmm_kernel_key::wgmma(t), &C::launch, &C::resident_blocks, &C::resident_clusters, &C::cluster_ok});
  }
}

/// The gathered tensor-core kernels: likewise.
template <class T, class I, std::size_t Block>
void add_spmm_window_entry(std::vector<spmm_kernel_entry<T>>& out) {
  constexpr spmm_window_block b = space::spmm_window_blocks[Block];
  if constexpr (space::spmm_window && std::is_same_v<I, uint16_t> && sizeof(T) == 2 && spmm_window_shape_ok(b)) {
    out.push_back({spmm_kernel_key::window(b), &spmm_window_composition<T, b.warps, b.n>::launch});
  }
}

/// The register-built tensor-core kernels: likewise.
template <class T, class I, std::size_t Tile>
void add_spmm_fragment_entry(std::vector<spmm_kernel_entry<T>>& out) {
  constexpr spmm_tensor_tile t = space::spmm_fragment_tiles[Tile];
  if constexpr (space::spmm_fragment && std::is_same_v<I, uint16_t> && sizeof(T) == 2 && spmm_fragment_shape_ok(t)) {
    using C = spmm_fragment_composition<T, t.m, t.n, t.k, t.warps_m, t.warps_k>;
    out.push_back(
        {spmm_kernel_key::tensor(t, true), &C::launch, &C::resident_blocks, &C::resident_clusters, &C::cluster_ok});
  }
}

template <class T, class I, std::size_t... Flat, std::size_t... PanelFlat, std::size_t... TensorTile,
          std::size_t... WindowBlock, std::size_t... FragmentTile, std::size_t... WgmmaTile>
std::vector<spmm_kernel_entry<T>> make_spmm_entries(std::index_sequence<Flat...>, std::index_sequence<PanelFlat...>,
                                                    std::index_sequence<TensorTile...>,
                                                    std::index_sequence<WindowBlock...>,
                                                    std::index_sequence<FragmentTile...>,
                                                    std::index_sequence<WgmmaTile...>) {
  std::vector<spmm_kernel_entry<T>> out;
  (add_spmm_entry<T, I, Flat>(out), ...);
  (add_spmm_panel_entry<T, I, PanelFlat>(out), ...);
  (add_spmm_tensor_entry<T, I, TensorTile>(out), ...);
  (add_spmm_wgmma_entry<T, I, WgmmaTile>(out), ...);
  (add_spmm_window_entry<T, I, WindowBlock>(out), ...);
  (add_spmm_fragment_entry<T, I, FragmentTile>(out), ...);
  return out;
}

}  // namespace detail

/// Every compiled-in SpMM kernel for values T and indices I.
template <class T, class I>
const std::vector<spmm_kernel_entry<T>>& spmm_kernels() {
  static const std::vector<spmm_kernel_entry<T>> entries = detail::make_spmm_entries<T, I>(
      std::make_index_sequence<2 * detail::spmm_flat_shape<space::spmm_block_threads, space::spmm_nz_lanes,
                                                           space::spmm_col_lanes, space::spmm_col_tile,
                                                           space::spmm_unroll, 0>::size>{},
      std::make_index_sequence<detail::spmm_flat_shape<space::spmm_panel_block_threads, space::spmm_panel_nz_lanes,
                                                       space::spmm_panel_col_lanes, space::spmm_panel_col_tile,
                                                       space::spmm_panel_unroll, 0>::size>{},
      std::make_index_sequence<std::size(space::spmm_tensor_tiles)>{},
      std::make_index_sequence<std::size(space::spmm_window_blocks)>{},
      std::make_index_sequence<std::size(space::spmm_fragment_tiles)>{},
      std::make_index_sequence<std::size(space::spmm_wgmma_tiles)>{});
  return entries;
}

/// The table entry of a kernel key, or throws naming why it is not available.
template <class T>
const spmm_kernel_entry<T>& find_spmm_entry(const spmm_kernel_key& key) {
  const std::string why = spmm_cannot_implement(key, static_cast<int>(sizeof(T)));
  PAISPARSE_EXPECTS(why.empty(), "spmm kernel " << spmm_config{key}.name() << ": " << why);
  const auto& table = key.index == index_kind::u16 ? spmm_kernels<T, uint16_t>() : spmm_kernels<T, int32_t>();
  const spmm_kernel_entry<T>* found = nullptr;
  for (const auto& e : table)
    if (e.key == key) found = &e;
  PAISPARSE_EXPECTS(found != nullptr, "spmm kernel " << spmm_config{key}.name() << " for " << value_type_name<T>()
                                                     << " is not compiled in (see PAISPARSE_SPMM_* in "
                                                        "tuning/spmm_config.hpp)");
  return *found;
}

/// The launcher for a kernel key, or throws naming why it is not available.
template <class T>
spmm_launch_fn<T> find_spmm_kernel(const spmm_kernel_key& key) {
  return find_spmm_entry<T>(key).launch;
}

}  // namespace paisparse

#define PAISPARSE_INSTANTIATE_SPMM(T, I) \
  template const std::vector<::paisparse::spmm_kernel_entry<T>>& ::paisparse::spmm_kernels<T, I>();

#if defined(PAISPARSE_SEPARATE_KERNELS)
#define PAISPARSE_DECLARE_SPMM_(T, I) \
  extern template const std::vector<::paisparse::spmm_kernel_entry<T>>& ::paisparse::spmm_kernels<T, I>();
PAISPARSE_DECLARE_SPMM_(float, int32_t)
PAISPARSE_DECLARE_SPMM_(float, uint16_t)
PAISPARSE_DECLARE_SPMM_(__half, int32_t)
PAISPARSE_DECLARE_SPMM_(__half, uint16_t)
PAISPARSE_DECLARE_SPMM_(__nv_bfloat16, int32_t)
PAISPARSE_DECLARE_SPMM_(__nv_bfloat16, uint16_t)
#undef PAISPARSE_DECLARE_SPMM_
#endif
