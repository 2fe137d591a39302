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
//                 item's team adds its tile to a workspace row (fp32
//                 atomics, one element per output column), then bumps one
//                 counter per (split row, column chunk); the team that
//                 arrives last reads back the totals (combine_tile).
//
// Finishing (stage 3 and the epilog) is spread over the nz lanes: nz lane
// (j mod NzLanes) finishes tile column j, so a team issues its stores and
// atomics from many lanes at once.
//
// Contract (checked in kernels/spmm_kernel.cuh):
//   Reduction::team_threads, nz_lanes, col_lanes, col_tile
//   Reduction::reduce(acc)              every lane of the warp must call it
//   Reduction::finishes(j, nz_lane)     whether this lane finishes column j
//   Reduction::combine_tile(active, acc, ws, counter, items, valid, nz_lane)
//                                       stage 3; every lane of the warp must call it
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

  /// Stage 3 for split rows. `active`: this lane's team holds an item of a
  /// split row; `ws` points at the row's workspace element of the lane's
  /// first tile column, `counter` at the row's counter for this column chunk
  /// (both zero between launches, and left so); `items`: the row's items.
  /// Each lane adds the columns it finishes (below `valid`); the team's first
  /// lane counts the arrival once for the team. Returns true in the lanes of
  /// the last team to arrive, whose finished columns of acc then hold the
  /// row's totals. A fence per lane per item orders the adds before the
  /// count; a counter per chunk rather than per column keeps the atomics to
  /// one per nonzero output element plus one per team.
  __device__ __forceinline__ static bool combine_tile(bool active, float (&acc)[ColTile], float* ws, int32_t* counter,
                                                      int32_t items, int valid, int nz_lane) {
    if (active) {
#pragma unroll
      for (int j = 0; j < ColTile; ++j)
        if (finishes(j, nz_lane) && j < valid) atomicAdd(ws + j, acc[j]);
      __threadfence();
    }
    __syncwarp();
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int leader = lane & ~(team_threads - 1);
    int last = 0;
    if (active && lane == leader) {
      last = atomicAdd(counter, 1) == items - 1;
      if (last) *counter = 0;  // every other team of the row has arrived
    }
    last = __shfl_sync(0xffffffffu, last, leader);
    if (!active || !last) return false;
    __threadfence();
#pragma unroll
    for (int j = 0; j < ColTile; ++j)
      if (finishes(j, nz_lane) && j < valid) acc[j] = atomicExch(ws + j, 0.f);
    return true;
  }
};

}  // namespace paisparse
