// paisparse reduction policy: the four stages a row's partial sums go through.
//
//   1. register   each thread accumulates vec_elems * unroll nonzeros per
//                 step in an fp32 register (the prolog's loop);
//   2. shuffle    the GroupThreads lanes of a group combine with
//                 cub::WarpReduce<float, GroupThreads>;
//   3. shared     when a row team spans WarpsPerRow > 1 warps, the warps'
//                 sums meet in shared memory;
//   4. atomic     when the schedule cut the row into several items
//                 (segment_cap), each item's sum is added in fp32 to a
//                 workspace with atomicAdd; the last item to arrive reads
//                 the total, resets the workspace, and runs the epilog.
//
// The extents of stages 1-3 are template parameters (vec_elems * unroll
// from the prolog, GroupThreads, WarpsPerRow); the extent of stage 4 is the
// schedule's segment cap, a run-time property of the plan's weight.
//
// Contract (checked in kernels/spmv_kernel.cuh):
//   Reduction::row_threads     threads per work item (GroupThreads * WarpsPerRow)
//   Reduction::storage_type    shared memory the block must provide
//   Reduction::reduce(v, tid, storage) -> the team's sum, valid in the
//       team's first thread. Every thread of the block must call it
//       (it may contain __syncthreads()).
#pragma once

#include <cub/warp/warp_reduce.cuh>

#include <cstdint>

namespace paisparse {

template <int GroupThreads, int WarpsPerRow, int BlockThreads>
struct four_stage_reduction {
  static_assert(GroupThreads == 1 || GroupThreads == 2 || GroupThreads == 4 || GroupThreads == 8 ||
                    GroupThreads == 16 || GroupThreads == 32,
                "four_stage_reduction: GroupThreads must be a power of two from 1 to 32");
  static_assert(WarpsPerRow == 1 || GroupThreads == 32,
                "four_stage_reduction: the shared-memory stage (WarpsPerRow > 1) needs whole-warp groups (GroupThreads == 32)");
  static_assert(WarpsPerRow >= 1 && WarpsPerRow * 32 <= BlockThreads,
                "four_stage_reduction: a row team must fit in one block");
  static_assert(BlockThreads % 32 == 0, "four_stage_reduction: BlockThreads must be a multiple of 32");

  static constexpr int group_threads = GroupThreads;
  static constexpr int warps_per_row = WarpsPerRow;
  static constexpr int row_threads = GroupThreads * WarpsPerRow;
  static_assert(BlockThreads % row_threads == 0, "four_stage_reduction: BlockThreads must be a multiple of row threads");

  using warp_reduce = cub::WarpReduce<float, (GroupThreads > 1 ? GroupThreads : 2)>;

  struct storage_type {
    typename warp_reduce::TempStorage shuffle[GroupThreads > 1 ? BlockThreads / GroupThreads : 1];
    float warp_sum[WarpsPerRow > 1 ? BlockThreads / 32 : 1];
  };

  __device__ __forceinline__ static float reduce(float v, int tid, storage_type& s) {
    if constexpr (GroupThreads > 1) {  // stage 2
      v = warp_reduce(s.shuffle[tid / GroupThreads]).Sum(v);
    }
    if constexpr (WarpsPerRow > 1) {  // stage 3
      const int warp = tid / 32;
      if (tid % 32 == 0) s.warp_sum[warp] = v;
      __syncthreads();
      if (tid % row_threads == 0) {
#pragma unroll
        for (int w = 1; w < WarpsPerRow; ++w) v += s.warp_sum[warp + w];
      }
    }
    return v;
  }
};

/// Stage 4: combine the items of a split row. Called by one thread per item.
/// Returns true in exactly one caller per row per launch (the last to
/// arrive), with the row's full sum in `total`; leaves workspace and counter
/// zeroed for the next launch.
__device__ __forceinline__ bool atomic_stage_combine(float partial, int32_t row, int32_t items_in_row,
                                                     float* workspace, int32_t* counters, float& total) {
  atomicAdd(workspace + row, partial);
  __threadfence();
  const int32_t arrived = atomicAdd(counters + row, 1);
  if (arrived != items_in_row - 1) return false;
  __threadfence();
  total = atomicExch(workspace + row, 0.f);
  counters[row] = 0;
  return true;
}

}  // namespace paisparse
