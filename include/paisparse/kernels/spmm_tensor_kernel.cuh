// paisparse tensor-core SpMM kernel: "load sparse, compute dense".
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// W comes as a tiled weight (format/tiled_weight.cuh: TileM x TileK tiles,
// 4 bytes per nonzero). A block owns a TileM x TileN tile of C and walks K
// in steps of TileK; per step it builds the dense TileM x TileK piece of W
// in shared memory from the packed nonzeros, stages the TileK x TileN piece
// of B beside it, and the warps multiply the two on the tensor cores
// (mma.sync m16n8k16, fp32 accumulation; fp16 or bf16 values).
//
//   Prolog     (prolog/tile_prolog.cuh)      packed nonzeros -> dense W tile;
//                                            B tile via cp.async
//   Reduction  (reduction/mma_reduction.cuh) ldmatrix + mma.sync, sums in
//                                            fp32 fragments across k steps
//   Epilog     (epilog/linear_epilog.cuh)    per element, as the other
//                                            kernels; the sums go through
//                                            an fp32 tile in shared memory
//                                            first where the operands'
//                                            space holds one, and are
//                                            walked in C's order
//
// Three shared buffers of each operand and one barrier per step: while the
// warps multiply step s, B's tile of step s + 2 is in flight (cp.async),
// step s + 1's nonzeros, in registers since step s - 1, are scattered into
// its zeroed W buffer, and the words of step s + 2 are loaded. Within a
// step, warps that finished multiplying build the next tile while others
// still multiply. A step whose W tile holds no nonzero skips the multiply.
//
// Split K: with k_splits > 1 the k steps of a tile of C are shared by
// k_splits blocks (a short, wide layer has too few tiles of C to fill the
// GPU). Each stores its fp32 sums into its own slice of a workspace, and
// the last block to finish a tile (a counter per tile) adds the slices up
// and runs the epilog (detail::finish_tensor_tile). A block that stages
// its sums in shared memory (every spmm.wg block, and the spmm.tc and
// spmm.tf blocks whose operands' space holds the staged tile) can also run
// a tile's splits as one thread block cluster, each block adding up its
// share of the tile over the cluster's shared memory
// (split_k_tables::cluster).
//
// It spends the dense tile's multiplies whatever the sparsity, so it pays
// where the CUDA-core kernels run out of issue slots: on the H100, N of 32
// and more at 80-90% sparsity, N = 8 at 80% on the smaller layers
// (docs/PERFORMANCE.md). Unlike the CUDA-core kernels it multiplies zeros
// of W by B: an Inf or NaN in B reaches every output of its column (as in a
// dense GEMM), where the other kernels touch only the B rows W uses.
//
// With warps split along k (the reduction's WarpsK), each group multiplies
// its slices of every step and the groups' sums are added in shared memory
// after the last step (reduction/mma_reduction.cuh: combine).
//
// Rows past M and columns past N are neither read nor written (B is
// zero-filled past K and N in shared memory).
//
// Programmatic dependent launch, in all the tensor-core kernels: a block
// requests its first weight words, then waits for the previous kernel
// (detail::wait_for_inputs) before its first copy of B; finish_tensor_tile
// waits too (a no-op by then) before C and the split-K tables. Like the
// CUDA-core kernels they let the next kernel launch only when they end (see
// kernels/spmm_kernel.cuh).
#pragma once

#include <cstdint>

#include <cooperative_groups.h>

#include "../detail/dependent_launch.cuh"
#include "../epilog/linear_epilog.cuh"
#include "../format/tiled_weight.cuh"
#include "../prolog/tile_prolog.cuh"
#include "../reduction/mma_reduction.cuh"

namespace paisparse {

/// What the tensor-core kernels (dense tiles and gathered windows) read
/// besides the weight: B, C, N and the epilog.
template <class T>
struct tensor_operands {
  const T* b = nullptr;  // B(k, n) at b[k * ldb + n] (row-major) or b[k + n * ldb]
  int64_t ldb = 0;
  int32_t b_vector = 0;  // 1: B and ldb are 16-byte aligned (cp.async)
  T* c = nullptr;        // C(m, n) at c[m * c_row_stride + n * c_col_stride]
  int64_t c_row_stride = 0, c_col_stride = 0;
  int32_t n = 0;
  int32_t n_blocks = 1;  // ceil(n / TileN)
  epilog_params<T> ep;
};

/// How the blocks of one tile of C share its k steps (split K).
struct split_k_tables {
  int32_t k_splits = 1;  // blocks sharing one tile of C's k steps
  int32_t counter_stride = 0;
  // 1: the k_splits blocks of a tile form a thread block cluster and add
  // their sums up in its shared memory (no workspace, no counters; the
  // launch sets the cluster's size, and the blocks of a tile are then
  // consecutive: see detail::block_tile_of)
  int32_t cluster = 0;
  float* workspace = nullptr;  // k_splits > 1: a slice of rows x ws_stride sums per split (in C's order)
  int32_t* counters = nullptr;  // k_splits > 1: one per tile of C (row block x counter_stride), zero between launches
  int64_t ws_stride = 0;
  int64_t ws_slice = 0;  // floats from one slice to the next
};

namespace detail {
/// Whether T ends without tail padding: a class derived from T with one
/// more byte is then larger than T. The kernels' parameter structs derive
/// from tensor_operands and split_k_tables, and with a base that had tail
/// padding (an int32_t added last to tensor_operands) NVCC's device
/// compiler (CUDA 13.0) laid the next base out differently from the host
/// compiler: the kernel read k_splits and the workspace from the wrong
/// bytes (compute-sanitizer: atomics near address 0). So every such base
/// keeps its size a multiple of 8 with no padding at the end.
template <class T>
struct tail_probe : T {
  char extra;
};
template <class T>
constexpr bool no_tail_padding = sizeof(tail_probe<T>) > sizeof(T);
}  // namespace detail
static_assert(detail::no_tail_padding<tensor_operands<__half>> && detail::no_tail_padding<split_k_tables>,
              "tensor_operands and split_k_tables must end without tail padding (see detail::no_tail_padding)");

/// Everything one tensor-core SpMM launch reads, passed by value.
template <class T>
struct spmm_tensor_params : tensor_operands<T>, split_k_tables {
  tiled_weight_view w;
};

namespace detail {
/// The tile of C a block of a tensor-core kernel owns and the k steps it
/// walks: block = (row block x k_splits + split) x n_blocks + column block,
/// or, where the splits of a tile form a cluster (`in_cluster`), block =
/// (row block x n_blocks + column block) x k_splits + split, so that a
/// cluster's blocks are consecutive and its rank is the split. The k_steps
/// steps of a tile of C are cut into k_splits runs of ceil(k_steps /
/// k_splits), the last ones shorter or empty.
struct block_tile {
  int32_t n_block, row_block;
  int32_t m0, n0;        // the tile's first row and column of C
  int32_t split;         // which of the tile's k splits
  int32_t step0, steps;  // this block's first k step and how many it walks
};

template <int TileM, int TileN>
__device__ __forceinline__ block_tile block_tile_of(int32_t n_blocks, int32_t k_splits, int32_t k_steps,
                                                    bool in_cluster) {
  block_tile t;
  const int32_t b = static_cast<int32_t>(blockIdx.x);
  if (in_cluster) {
    t.split = b % k_splits;
    t.n_block = b / k_splits % n_blocks;
    t.row_block = b / k_splits / n_blocks;
  } else {
    t.n_block = b % n_blocks;
    t.split = b / n_blocks % k_splits;
    t.row_block = b / n_blocks / k_splits;
  }
  t.m0 = t.row_block * TileM;
  t.n0 = t.n_block * TileN;
  const int32_t per_split = (k_steps + k_splits - 1) / k_splits;
  t.step0 = min(k_steps, t.split * per_split);
  t.steps = min(k_steps, t.step0 + per_split) - t.step0;
  return t;
}

/// The end of a tensor-core block whose sums (`acc`, in the reduction's
/// fragments) cover rows m0.. and columns n0.. of C. First the block's
/// copies are drained and, when warps split k, the groups' sums meet in the
/// operands' shared memory (`smem`). Then, with one split, each sum goes
/// through the epilog; with several, the block stores its sums, plain, into
/// its own slice of the workspace, and the last of the tile's blocks to get
/// there (a counter per tile, set back to zero for the next launch) adds
/// the slices up, in split order, and runs the epilog; or, where the splits
/// form a cluster (StageM > 0 only), each block adds up its share of the
/// staged tiles over the cluster and runs the epilog on it. A block with no
/// k step stores zeros. Called by every thread of the block.
///
/// Slices and not atomics: the blocks of a split tile all finish at about
/// the same time, and their fp32 atomics into one shared workspace queued at
/// the L2. On the H100, 4096 x 11008 at 90%, N = 128, the 64 x 128 block in
/// two splits took 82.3 us with atomics and 45.9 us with slices (one split:
/// 60.4 us; docs/PERFORMANCE.md, "Split K through workspace slices"). And
/// a fixed order of the sum makes the result the same from run to run.
///
/// StageM x StageN > 0 (every spmm.wg kernel; spmm.tc and spmm.tf where
/// their operands' space holds the tile): the sums first go into an fp32
/// tile of that shape in `smem` (columns StageM + 4 apart, so that a warp's
/// fragment writes hit 32 banks; the operands must be done with the space),
/// and the block's threads walk it in C's order, 4 consecutive elements of
/// C at a time (one vector store where C is aligned). The epilog's code
/// then appears once instead of once per register: the 128 x 128 block's
/// unrolled epilog (64 sums a thread, each with the activation's branches)
/// ran into instruction-cache misses that cost it a sixth of its time
/// (docs/PERFORMANCE.md, "The epilog through shared memory"); and C's
/// accesses coalesce. Split K goes through the same tile and the same
/// walk: into the block's slice (16-byte stores), and in the last block
/// from the slices' sum (a batch of 16-byte loads in flight per slice)
/// straight to C. A block runs this tail once, so its time is latency and
/// instruction fetch: the code is kept small and the loads batched
/// (docs/PERFORMANCE.md, "The split-K tail").
template <int StageM>
inline constexpr int staged_tile_ld = StageM + 4;  // floats between the staged tile's columns
template <int StageM, int StageN>
inline constexpr int staged_tile_bytes = StageN * staged_tile_ld<StageM> * 4;  // what finish_tensor_tile stages in
/// Whether a TileM x TileN block whose operands take SmemBytes of shared
/// memory stages its sums there (finish_tensor_block); only such a block's
/// k splits can add up in a cluster.
template <int TileM, int TileN, int SmemBytes>
inline constexpr bool stages_sums = staged_tile_bytes<TileM, TileN> <= SmemBytes;

template <class Reduction, class Epilog, int StageM = 0, int StageN = 0, class T = typename Epilog::value_type>
__device__ __forceinline__ void finish_tensor_tile(typename Reduction::accumulators& acc, void* smem,
                                                   const tensor_operands<T>& p, const split_k_tables& s,
                                                   int32_t rows, const block_tile& bt, int warp, int lane, int tid) {
  cp_async_wait<0>();  // nothing is left in flight (the trailing groups are empty)
  wait_for_inputs();   // C and the tables: after the previous kernel (blocks without steps have not waited yet)
  if constexpr (Reduction::smem_bytes > 0) {  // warps split along k: sums meet in the operands' space
    __syncthreads();  // every warp is done with the operands
    Reduction::combine(acc, static_cast<float*>(smem), warp, lane);
  }
  auto store = [&](int32_t row, int32_t col, float v) {
    Epilog::apply(p.c, static_cast<int64_t>(row) * p.c_row_stride + static_cast<int64_t>(col) * p.c_col_stride, row,
                  v, p.ep);
  };
  const int32_t m0 = bt.m0, n0 = bt.n0, split = bt.split;
  auto inside = [&](int r, int c) { return m0 + r < rows && n0 + c < p.n; };
  const bool c_col_major = p.c_row_stride == 1;  // consecutive threads on consecutive elements of C
  // split K: this block's slice of the workspace, and where sum (r, c) of
  // slice `of` lies: in C's order (rows x ws_stride row-major, or
  // ws_stride columns of `rows` for a column-major C), so that a walk in
  // C's order coalesces on both
  auto slot = [&](int32_t of, int r, int c) {
    const int64_t at = c_col_major ? static_cast<int64_t>(n0 + c) * rows + (m0 + r)
                                   : static_cast<int64_t>(m0 + r) * s.ws_stride + (n0 + c);
    return s.workspace + of * s.ws_slice + at;
  };
  // split K, once this block's sums are in its slice: whether it is the
  // last of the tile's blocks to get there (it then adds the slices up;
  // the counter goes back to zero for the next launch). One thread fences
  // and counts: the barrier orders the block's slice stores before its
  // fence, and its fence (the last block's, after the count) before the
  // block's loads of the other slices. A fence in every thread made the
  // slice store about 0.6 us longer (docs/PERFORMANCE.md, "The split-K tail").
  __shared__ int last;
  auto last_of_tile = [&]() {
    __syncthreads();
    int32_t* counter = s.counters + static_cast<int64_t>(bt.row_block) * s.counter_stride + bt.n_block;
    if (tid == 0) {
      __threadfence();  // the block's slice stores, before the count
      last = atomicAdd(counter, 1) == s.k_splits - 1;
      if (last) {
        *counter = 0;      // every block of the tile has counted
        __threadfence();  // the other blocks' slices, after their counts
      }
    }
    __syncthreads();
    return last != 0;
  };
  // the sum of sum (r, c) over the slices, in split order whichever block
  // is last (so the result does not vary from run to run); `own`: this
  // block's, which it has at hand
  auto slices_sum = [&](int r, int c, float own) {
    float v = 0.f;
    for (int32_t i = 0; i < s.k_splits; ++i) v += i == split ? own : __ldcg(slot(i, r, c));
    return v;
  };
  if constexpr (StageM > 0) {
    constexpr int ld = staged_tile_ld<StageM>;
    float* tile = static_cast<float*>(smem);
    __syncthreads();  // every warp is past its last step
    Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) { tile[c * ld + r] = v; });
    __syncthreads();
    // The walk, in C's order: the block's threads on runs of 4 consecutive
    // elements of C (down a column of a column-major C, along a row of a
    // row-major one), `batch` runs a thread at a time, so that the loads of
    // a batch are in flight together. Whole runs go as one vector access
    // where C (and the workspace) allow. (After the tile is written,
    // nothing writes shared memory again.) The tail runs once per block:
    // its time is latency, and the code is kept small, since every
    // instruction-cache miss adds to it: a batch of 2 runs was 2-4% faster
    // than 4, and 8 the slowest (docs/PERFORMANCE.md, "The split-K tail").
    constexpr int run = 4, runs = StageM * StageN / run, batch = 2;
    static_assert(StageM % run == 0 && StageN % run == 0, "finish_tensor_tile: a staged tile of whole runs");
    const int dr = c_col_major ? 1 : 0, dc = 1 - dr;  // from one element of a run to the next
    const int threads = static_cast<int>(blockDim.x);
    // The first element of run g. Down the columns of a column-major C, 32
    // consecutive runs on consecutive rows. Along the rows of a row-major
    // one, in blocks of 8 rows x 4 runs: a warp's loads of the (column-major)
    // staged tile then meet 2-way bank conflicts, not the 16-way ones of 32
    // runs along one row, and its stores still fill whole 32-byte sectors
    // of C (docs/PERFORMANCE.md, "A row-major C walks the staged tile in
    // blocks").
    static_assert(StageM % 8 == 0 && StageN % (4 * run) == 0, "finish_tensor_tile: whole blocks of 8 x 4 runs");
    auto run_at = [&](int g, int& r, int& c) {
      if (c_col_major) {
        r = (g % (StageM / run)) * run;
        c = g / (StageM / run);
      } else {
        const int block = g / 32, in = g % 32, blocks_across = StageN / run / 4;
        r = block / blocks_across * 8 + in / 4;
        c = (block % blocks_across * 4 + in % 4) * run;
      }
    };
    auto whole = [&](int r, int c) { return inside(r + (run - 1) * dr, c + (run - 1) * dc); };
    // run (r, c) of a staged tile `t` (this block's, or another's of its
    // cluster): down a column, one 16-byte load (ld and r are multiples of 4)
    auto run_of = [&](const float* t, int r, int c, float (&v)[run]) {
      if (c_col_major) {
        const float4 q = *reinterpret_cast<const float4*>(t + c * ld + r);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
      } else {
#pragma unroll
        for (int j = 0; j < run; ++j) v[j] = t[(c + j) * ld + r];
      }
    };
    auto tile_run = [&](int r, int c, float (&v)[run]) { run_of(tile, r, c, v); };
    // a slice's run as one 16-byte access: every run starts on 16 bytes
    // where C's contiguous extent in the workspace is a multiple of 4
    const bool ws_vec = c_col_major ? rows % run == 0 : s.ws_stride % run == 0 && s.ws_slice % run == 0;
    // run (r, c) through the epilog: its elements inside C (a run is
    // contiguous in C, and those inside come first); one vector store where
    // the run is whole and C aligned (Epilog::apply_run)
    auto store_run = [&](int r, int c, const float (&v)[run]) {
      if (!inside(r, c)) return;
      const int count = min(run, c_col_major ? rows - (m0 + r) : p.n - (n0 + c));
      const int64_t at = static_cast<int64_t>(m0 + r) * p.c_row_stride + static_cast<int64_t>(n0 + c) * p.c_col_stride;
      Epilog::template apply_run<run>(p.c + at, m0 + r, dr, v, p.ep, count);
    };
    auto each_run = [&](auto&& f) {  // f(r, c, sums) for each of the tile's runs, a run a thread at a time
#pragma unroll 1
      for (int g = tid; g < runs; g += threads) {
        int r, c;
        run_at(g, r, c);
        float v[run];
        tile_run(r, c, v);
        f(r, c, v);
      }
    };
    if (s.k_splits == 1) {
      each_run(store_run);
      return;
    }
    if (s.cluster) {
      // split K in a cluster (its rank is the split): once every block's
      // tile is staged, each block adds up its share of the tile's runs
      // over the cluster's tiles, in rank order (the same sum whichever
      // block finishes first), and runs the epilog on them. The slices'
      // store, the count and the last block's walk of the whole tile are
      // gone (docs/PERFORMANCE.md, "Split K in a cluster").
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
      cluster.sync();  // every block's tile is staged (release / acquire across the cluster)
      const int share = (runs + s.k_splits - 1) / s.k_splits, end = min(runs, (split + 1) * share);
#pragma unroll 1
      for (int g = split * share + tid; g < end; g += threads) {
        int r, c;
        run_at(g, r, c);
        float sum[run] = {};
#pragma unroll 1
        for (int32_t i = 0; i < s.k_splits; ++i) {
          float v[run];
          run_of(cluster.map_shared_rank(tile, static_cast<unsigned>(i)), r, c, v);
#pragma unroll
          for (int j = 0; j < run; ++j) sum[j] += v[j];
        }
        store_run(r, c, sum);
      }
      cluster.sync();  // no block leaves (freeing its tile) while another still reads it
#else
      __trap();  // clusters need sm_90 code (the launch refuses them: tensor_composition_base::cluster_ok)
#endif
      return;
    }
    // split K: the tile into this block's slice
    each_run([&](int r, int c, const float (&v)[run]) {
      if (ws_vec && whole(r, c)) {
        __stcg(reinterpret_cast<float4*>(slot(split, r, c)), make_float4(v[0], v[1], v[2], v[3]));
      } else {
#pragma unroll 1
        for (int j = 0; j < run; ++j)
          if (inside(r + j * dr, c + j * dc)) *slot(split, r + j * dr, c + j * dc) = v[j];
      }
    });
    if (!last_of_tile()) return;
    // the last block: the slices' sums, slice by slice in split order
    // whichever block is last (so the result does not vary from run to
    // run), a batch's loads of one slice together; then the epilog
#pragma unroll 1
    for (int g0 = tid; g0 < runs; g0 += batch * threads) {
      float sum[batch][run] = {};
      int r[batch], c[batch];  // the batch's runs, placed once for every slice
#pragma unroll
      for (int u = 0; u < batch; ++u) run_at(g0 + u * threads, r[u], c[u]);
#pragma unroll 1
      for (int32_t i = 0; i < s.k_splits; ++i) {
#pragma unroll
        for (int u = 0; u < batch; ++u) {
          float v[run] = {};
          if (g0 + u * threads >= runs) {
          } else if (i == split) {
            tile_run(r[u], c[u], v);
          } else if (ws_vec && whole(r[u], c[u])) {
            const float4 q = __ldcg(reinterpret_cast<const float4*>(slot(i, r[u], c[u])));
            v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
          } else {
#pragma unroll
            for (int j = 0; j < run; ++j)
              if (inside(r[u] + j * dr, c[u] + j * dc)) v[j] = __ldcg(slot(i, r[u] + j * dr, c[u] + j * dc));
          }
#pragma unroll
          for (int j = 0; j < run; ++j) sum[u][j] += v[j];
        }
      }
#pragma unroll
      for (int u = 0; u < batch; ++u)
        if (g0 + u * threads < runs) store_run(r[u], c[u], sum[u]);
    }
    return;
  }
  if (s.k_splits == 1) {
    Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) {
      if (inside(r, c)) store(m0 + r, n0 + c, v);
    });
    return;
  }
  // a block that does not stage its sums has no cluster walk and no
  // workspace in a cluster launch (which the launch refuses)
  if (s.cluster) __trap();
  Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) {
    if (inside(r, c)) *slot(split, r, c) = v;
  });
  if (!last_of_tile()) return;
  Reduction::for_each(acc, warp, lane, [&](int r, int c, float v) {
    if (inside(r, c)) store(m0 + r, n0 + c, slices_sum(r, c, v));
  });
}

/// finish_tensor_tile for a TileM x TileN block whose operands' shared
/// memory is SmemBytes: through the staged tile where that space holds it,
/// else from the registers (spmm.tc and spmm.tf; every spmm.wg block has the
/// room).
template <class Reduction, class Epilog, int TileM, int TileN, int SmemBytes, class T = typename Epilog::value_type>
__device__ __forceinline__ void finish_tensor_block(typename Reduction::accumulators& acc, void* smem,
                                                    const tensor_operands<T>& p, const split_k_tables& s,
                                                    int32_t rows, const block_tile& bt, int warp, int lane, int tid) {
  constexpr bool staged = stages_sums<TileM, TileN, SmemBytes>;
  finish_tensor_tile<Reduction, Epilog, staged ? TileM : 0, staged ? TileN : 0>(acc, smem, p, s, rows, bt, warp, lane,
                                                                                tid);
}
}  // namespace detail

/// Where a block's operands lie in its dynamic shared memory (16-bit
/// elements); after the last step the reduction's shared stage reuses it.
template <class WProlog, class BStage, class Reduction>
struct spmm_tensor_layout {
  static constexpr int stages = 3;  // buffers of each operand
  static constexpr int a_elems = WProlog::smem_elems, b_elems = BStage::smem_elems;
  static constexpr int operand_bytes = stages * (a_elems + b_elems) * 2;
  /// Dynamic shared memory of one block.
  static constexpr int smem_bytes =
      operand_bytes > Reduction::smem_bytes ? operand_bytes : Reduction::smem_bytes;
};

template <class WProlog, class BStage, class Reduction, class Epilog, int Threads, int TileM, int TileN, int TileK>
__global__ void __launch_bounds__(Threads) spmm_tensor_kernel(spmm_tensor_params<typename Epilog::value_type> p) {
  using T = typename Epilog::value_type;
  using layout = spmm_tensor_layout<WProlog, BStage, Reduction>;
  constexpr int stages = layout::stages;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const a_base = reinterpret_cast<T*>(smem_raw);
  T* const b_base = a_base + stages * layout::a_elems;

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const detail::block_tile bt =
      detail::block_tile_of<TileM, TileN>(p.n_blocks, p.k_splits, p.w.k_tiles, p.cluster != 0);
  const int32_t row_block = bt.row_block, n0 = bt.n0;
  const int32_t s_begin = bt.step0, k_tiles = bt.steps;  // this block's steps
  const int64_t tile0 = static_cast<int64_t>(row_block) * p.w.k_tiles + s_begin;
  const bool vec = p.b_vector != 0;
  const int64_t b_offset = BStage::thread_offset(p.ldb, n0, tid);

  // step s's buffers
  auto a_buf = [&](int32_t s) { return a_base + (s % stages) * layout::a_elems; };
  auto b_buf = [&](int32_t s) { return b_base + (s % stages) * layout::b_elems; };
  // B's tile of step s into its buffer: cp.async, one commit group per step
  // (empty past the last one, so that every step waits alike)
  auto stage_b = [&](int32_t s) {
    if (s < k_tiles) {
      BStage::stage_at(b_buf(s), p.b, p.ldb, b_offset, (s_begin + s) * TileK, n0, p.w.cols, p.n, vec, tid);
    }
    detail::cp_async_commit();
  };

  typename Reduction::accumulators acc;
  Reduction::clear(acc);
  typename WProlog::staged words;  // the next step's packed nonzeros
  if (k_tiles > 0) {
    WProlog::load(p.w, tile0, tid, words);
    WProlog::zero(a_buf(0), tid);
    if (k_tiles > 1) WProlog::zero(a_buf(1), tid);
    detail::wait_for_inputs();  // B may come from the previous kernel
    stage_b(0);
    stage_b(1);
    __syncthreads();  // zeroed
    WProlog::scatter(p.w, words, a_buf(0), tid);
    if (k_tiles > 1) WProlog::load(p.w, tile0 + 1, tid, words);
  }
  // Step s, behind one barrier: B of step s + 2 is issued (cp.async), step
  // s multiplies, step s + 1's nonzeros (in registers since step s - 1) are
  // scattered into its zeroed buffer, step s + 2's words are loaded and its
  // W buffer (read by step s - 1) is zeroed.
  for (int32_t s = 0; s < k_tiles; ++s) {
    detail::cp_async_wait<1>();  // this thread's part of B for step s
    __syncthreads();  // step s's operands are in place; step s - 1's buffers are free
    stage_b(s + 2);
    if (p.w.tile_ptr[tile0 + s + 1] != p.w.tile_ptr[tile0 + s])
      Reduction::template accumulate<WProlog::ld, BStage::ld>(a_buf(s), b_buf(s), warp, lane, acc);
    if (s + 1 < k_tiles) {
      WProlog::scatter(p.w, words, a_buf(s + 1), tid);
      if (s + 2 < k_tiles) {
        WProlog::load(p.w, tile0 + s + 2, tid, words);
        WProlog::zero(a_buf(s + 2), tid);
      }
    }
  }
  // the epilog through a staged fp32 tile where the operands' space holds
  // one, else from the registers
  detail::finish_tensor_block<Reduction, Epilog, TileM, TileN, layout::smem_bytes>(acc, smem_raw, p, p, p.w.rows, bt,
                                                                                   warp, lane, tid);
}

}  // namespace paisparse
