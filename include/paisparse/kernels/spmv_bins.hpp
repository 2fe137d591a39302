// paisparse: the bin table of the adaptive SpMV kernel (host and device).
#pragma once

#include <cstdint>

namespace paisparse {

/// Length bins of an adaptive launch. The items (longest first) are cut into
/// up to max_bins contiguous ranges; range k runs with teams of
/// 2^team_log2[k] threads on blocks [block_begin[k], block_begin[k + 1]).
/// Passed by value: the kernel reads it from the parameter bank, not memory.
struct spmv_bins {
  static constexpr int max_bins = 11;  // team sizes 1 .. 1024
  int32_t count = 0;
  int32_t team_log2[max_bins] = {};
  int32_t block_begin[max_bins + 1] = {};
  int32_t item_begin[max_bins + 1] = {};
};

}  // namespace paisparse
