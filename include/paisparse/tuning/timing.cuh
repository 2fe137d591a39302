// paisparse: cold-L2 timing with CUDA events (shared by the tuner and the benchmark).
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../error.hpp"
#include "../format/device_buffer.hpp"

namespace paisparse {

namespace detail {
// Reads n 16-byte words; writes only if a (never occurring) sum appears, so
// the loads cannot be dropped. Leaves L2 full of clean lines of `p`.
template <class Word>  // a template, so the header can be included in many TUs
__global__ void l2_evict_kernel(const Word* __restrict__ p, std::size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const Word v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}
}  // namespace detail

/// Evicts the weights of the previous run from L2 by reading a buffer twice
/// the L2 size (reads, not writes: written lines would be dirty, and writing
/// them back would steal bandwidth from the next timed kernel).
class l2_flusher {
 public:
  l2_flusher() {
    int dev = 0, l2 = 0;
    PAISPARSE_CUDA_TRY(cudaGetDevice(&dev));
    PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, dev));
    buf_ = device_buffer<uint4>(static_cast<std::size_t>(std::max(l2, 1 << 20)) * 2 / sizeof(uint4));
    PAISPARSE_CUDA_TRY(cudaMemset(buf_.data(), 1, buf_.size() * sizeof(uint4)));
  }
  void flush(cudaStream_t s) {
    detail::l2_evict_kernel<uint4><<<4 * sms_, 512, 0, s>>>(buf_.data(), buf_.size(), sink_.data());
    PAISPARSE_CUDA_CHECK_LAST();
  }

 private:
  device_buffer<uint4> buf_;
  device_buffer<unsigned> sink_{1};
  int sms_ = 1;
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

/// Like time_launches, but the timed runs are captured into one CUDA graph
/// (L2 flush, event, run, event for each) and replayed once, so each sample
/// is the run's time on the GPU without the stream-launch overhead that
/// would otherwise dominate microsecond kernels. Blocking; uses its own stream
/// (after `stream`'s work). Falls back to time_launches if capture fails.
template <class Launch>
timing_stats time_launches_in_graph(Launch&& launch, cudaStream_t stream, int warmup, int reps, l2_flusher* flusher) {
  for (int i = 0; i < warmup; ++i) launch(stream);
  PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
  cudaStream_t s;
  PAISPARSE_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<cudaEvent_t> ev(2 * static_cast<std::size_t>(reps), nullptr);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::vector<double> us;
  bool ok = true;
  try {
    for (auto& e : ev) PAISPARSE_CUDA_TRY(cudaEventCreate(&e));
    PAISPARSE_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      for (int r = 0; r < reps; ++r) {
        if (flusher) flusher->flush(s);
        PAISPARSE_CUDA_TRY(cudaEventRecord(ev[2 * r], s));
        launch(s);
        PAISPARSE_CUDA_TRY(cudaEventRecord(ev[2 * r + 1], s));
      }
    } catch (...) {
      cudaStreamEndCapture(s, &graph);
      throw;
    }
    PAISPARSE_CUDA_TRY(cudaStreamEndCapture(s, &graph));
    PAISPARSE_CUDA_TRY(cudaGraphInstantiate(&exec, graph, 0));
    PAISPARSE_CUDA_TRY(cudaGraphLaunch(exec, s));
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
    for (int r = 0; r < reps; ++r) {
      float ms = 0;
      PAISPARSE_CUDA_TRY(cudaEventElapsedTime(&ms, ev[2 * r], ev[2 * r + 1]));
      us.push_back(1e3 * ms);
    }
  } catch (const error&) {
    ok = false;
    cudaGetLastError();
  }
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  for (auto e : ev)
    if (e) cudaEventDestroy(e);
  cudaStreamDestroy(s);
  if (!ok) return time_launches(launch, stream, 0, reps, flusher);
  return timing_stats::of(std::move(us));
}

}  // namespace paisparse
