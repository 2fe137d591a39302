// paisparse reduction policy of SpMM teams.
//
// An SpMM team of NzLanes x ColLanes lanes works on one item (a row or row
// segment of the weight); lane = nz_lane * ColLanes + col_lane. The lanes of
// one col_lane share a tile of ColTile output columns and split the item's
// nonzeros between them. Their partial sums meet in three stages:
//
//   1. register   each lane accumulates its nonzeros for its ColTile
//                 columns in fp32 registers (the prolog's loop);
//   2. shuffle    a butterfly of __shfl_xor_sync over the nz_lane bits
//                 (lane distances ColLanes .. team / 2), after which every
//                 nz lane holds the team's sums of its column tile;
//   3. atomic     for a row the schedule split into several items, each
//                 item's sums go through atomic_stage_combine
//                 (reduction/four_stage.cuh), one workspace element and one
//                 counter per (split row, output column); the last item to
//                 arrive gets the total.
//
// Finishing (stage 3 and the epilog) is spread over the nz lanes: nz lane
// (j mod NzLanes) finishes tile column j, so a team issues its stores and
// atomics from many lanes at once.
//
// Contract (checked in kernels/spmm_kernel.cuh):
//   Reduction::team_threads, nz_lanes, col_lanes, col_tile
//   Reduction::reduce(acc)              every lane of the warp must call it
//   Reduction::finishes(j, nz_lane)     whether this lane finishes column j
#pragma once

#include <cstdint>

#include "four_stage.cuh"

namespace paisparse {

template <int NzLanes, int ColLanes, int ColTile>
struct column_tile_reduction {
  static constexpr bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }
  static_assert(pow2(NzLanes) && pow2(ColLanes), "column_tile_reduction: NzLanes and ColLanes must be powers of two");
  static_assert(NzLanes * ColLanes <= 32, "column_tile_reduction: a team (NzLanes x ColLanes) must fit in one warp");

  static constexpr int nz_lanes = NzLanes;
  static constexpr int col_lanes = ColLanes;
  static constexpr int col_tile = ColTile;
  static constexpr int team_threads = NzLanes * ColLanes;

  /// Stage 2. Teams are aligned power-of-two slices of a warp, so the xor
  /// partners stay inside the team; every lane of the warp takes part.
  __device__ __forceinline__ static void reduce(float (&acc)[ColTile]) {
#pragma unroll
    for (int off = team_threads / 2; off >= ColLanes; off /= 2)
#pragma unroll
      for (int j = 0; j < ColTile; ++j) acc[j] += __shfl_xor_sync(0xffffffffu, acc[j], off);
  }

  __device__ __forceinline__ static bool finishes(int j, int nz_lane) { return j % NzLanes == nz_lane; }
};

}  // namespace paisparse
