// paisparse SpMM panel kernel: B staged in shared memory, one panel of K at
// a time, then every nonzero reads its row of B from there.
//
//   C = act(alpha * W B + beta * C + bias[row])
//
// Why. In spmm_kernel every nonzero gathers its row of B (ColTile values
// per lane) through L1/L2; for N of a few tens and a B larger than L1 that
// gather, not the weight, is the traffic that bounds the kernel. Here the
// schedule cuts every row of W at every multiple of panel_rows columns
// (format/schedule.hpp, panel_cols) and lays the items out panel by panel,
// in groups of consecutive items (format/spmm_schedule.cuh). A block takes
// one group and one chunk of ColLanes x ColTile columns of C:
//
//   1. stage    the block copies B(panel rows, chunk columns) into shared
//               memory (Prolog::stage; row- or column-major B, zeros past N);
//   2. items    its teams take the group's items in turn; each nonzero's
//               tile is one shared load (Prolog::accumulate);
//   3. reduce   shuffles over the nz lanes (column_tile_reduction);
//   4. finish   rows cut at panel boundaries meet in stage 3 (fp32 atomics,
//               one counter per row and chunk; the last team to arrive
//               applies the epilog), others go straight to the epilog
//               (detail::spmm_finish, shared with spmm_kernel).
//
// A panel of B is read from L2 once per block rather than once per nonzero,
// and column-major B (an LLM's row-major activations) needs no separate
// transpose: the staging reads it along K.
//
// Shared memory: panel_rows x ColLanes x ColTile values, dynamic.
#pragma once

#include <cstdint>

#include "spmm_kernel.cuh"

namespace paisparse {

/// The item groups and panel geometry of a panel launch.
struct spmm_panel_view {
  const int32_t* group_start = nullptr;  // n_groups + 1 item indices; a group lies in one panel
  int32_t panel_rows = 0;                // rows of B per panel (the schedule's panel_cols)
  int32_t k = 0;                         // rows of B (columns of W)
  int32_t b_row_major = 1;               // 1: B(k, c) at b[k * ldb + c]; 0: at b[c * ldb + k]
};

template <class Prolog, class Reduction, class Epilog, int BlockThreads>
__global__ void __launch_bounds__(BlockThreads)
    spmm_panel_kernel(spmm_params<typename Prolog::value_type, typename Prolog::index_type> p, spmm_panel_view g) {
  using T = typename Prolog::value_type;
  [[maybe_unused]] detail::spmm_contract<Prolog, Reduction, Epilog, BlockThreads> contract;
  constexpr int team = Reduction::team_threads;
  constexpr int col_lanes = Reduction::col_lanes;
  constexpr int tile = Reduction::col_tile;
  constexpr int teams = BlockThreads / team;
  constexpr int V = Prolog::vec_elems;
  static_assert(Prolog::chunk_cols == col_lanes * tile,
                "spmm_panel_kernel: the prolog's staged row must be the team's chunk (ColLanes x ColTile)");
  extern __shared__ __align__(16) unsigned char paisparse_spmm_smem[];
  T* bs = reinterpret_cast<T*>(paisparse_spmm_smem);

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t block = static_cast<int64_t>(blockIdx.x);
  const int32_t chunk = static_cast<int32_t>(block % p.col_chunks);
  const int64_t group = block / p.col_chunks;
  const int32_t first = g.group_start[group], last = g.group_start[group + 1];
  const int32_t k0 = p.w.item_base[first];
  const int32_t n0 = chunk * Prolog::chunk_cols;
  detail::wait_for_inputs();  // B may come from the previous kernel

  Prolog::template stage<BlockThreads>(bs, p.b, p.ldb, g.b_row_major != 0, p.b_vector != 0, k0,
                                       min(g.panel_rows, g.k - k0), n0, p.n, tid);
  __syncthreads();

  const int lane = tid % team;
  const int nz_lane = lane / col_lanes;
  const int col_lane = lane % col_lanes;
  const int32_t c0 = n0 + col_lane * tile;
  const int valid = max(0, min(tile, p.n - c0));
  const T* bs_lane = bs + col_lane * tile;
  // every team makes the same number of trips, so whole warps reach the shuffles
  const int32_t trips = (last - first + teams - 1) / teams;
  for (int32_t t = 0; t < trips; ++t) {
    const int32_t item = first + t * teams + tid / team;
    const bool has_item = item < last;
    const int32_t it = min(item, last - 1);
    float acc[tile];
#pragma unroll
    for (int j = 0; j < tile; ++j) acc[j] = 0.f;
    const int32_t begin = p.w.item_ptr[it];
    const int32_t nvec = (p.w.item_ptr[it + 1] - begin) / V;
    if (has_item && valid > 0)
      Prolog::template accumulate<Reduction::nz_lanes>(p.w.values, p.w.indices, begin, nvec, bs_lane, nz_lane, acc);
    Reduction::reduce(acc);
    detail::spmm_finish<Reduction, Epilog>(p, has_item, p.w.item_row[it], chunk, c0, valid, nz_lane, acc);
  }
}

}  // namespace paisparse
