// paisparse: cold-L2 timing with CUDA events (shared by the tuner and the benchmark).
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "../error.hpp"
#include "../format/device_buffer.hpp"

namespace paisparse {

/// Evicts the L2 cache by writing a buffer twice its size.
class l2_flusher {
 public:
  l2_flusher() {
    int dev = 0, l2 = 0;
    PAISPARSE_CUDA_TRY(cudaGetDevice(&dev));
    PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    buf_ = device_buffer<unsigned char>(static_cast<std::size_t>(std::max(l2, 1 << 20)) * 2);
  }
  void flush(cudaStream_t s) { PAISPARSE_CUDA_TRY(cudaMemsetAsync(buf_.data(), ++tick_, buf_.size(), s)); }

 private:
  device_buffer<unsigned char> buf_;
  unsigned char tick_ = 0;
};

/// Median / min / max of a sample, in the sample's unit.
struct timing_stats {
  double median = 0, min = 0, max = 0;
  static timing_stats of(std::vector<double> v) {
    timing_stats t;
    if (v.empty()) return t;
    std::sort(v.begin(), v.end());
    t.min = v.front();
    t.max = v.back();
    t.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    return t;
  }
};

/// Times `launch(stream)` `reps` times after `warmup` untimed runs, each run
/// alone between two events; with a flusher, L2 is flushed before each run.
/// Returns microseconds. Blocking.
template <class Launch>
timing_stats time_launches(Launch&& launch, cudaStream_t stream, int warmup, int reps, l2_flusher* flusher) {
  cudaEvent_t start, stop;
  PAISPARSE_CUDA_TRY(cudaEventCreate(&start));
  PAISPARSE_CUDA_TRY(cudaEventCreate(&stop));
  std::vector<double> us;
  try {
    for (int i = 0; i < warmup; ++i) launch(stream);
    for (int i = 0; i < reps; ++i) {
      if (flusher) flusher->flush(stream);
      PAISPARSE_CUDA_TRY(cudaEventRecord(start, stream));
      launch(stream);
      PAISPARSE_CUDA_TRY(cudaEventRecord(stop, stream));
      PAISPARSE_CUDA_TRY(cudaEventSynchronize(stop));
      float ms = 0;
      PAISPARSE_CUDA_TRY(cudaEventElapsedTime(&ms, start, stop));
      us.push_back(1e3 * ms);
    }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return timing_stats::of(std::move(us));
}

}  // namespace paisparse
