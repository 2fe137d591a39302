// paisparse benchmark: the GPU, its handles, and rotation timing.
#include "device.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include <paisparse/error.hpp>

#include "check.hpp"

namespace paisparse::bench {

namespace {

bench_device* g_device = nullptr;

/// Two CUDA events, destroyed on scope exit.
class event_pair {
 public:
  event_pair() {
    PAISPARSE_CUDA_TRY(cudaEventCreate(&start_));
    const cudaError_t e = cudaEventCreate(&stop_);
    if (e != cudaSuccess) {
      cudaEventDestroy(start_);
      PAISPARSE_CUDA_TRY(e);
    }
  }
  ~event_pair() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  event_pair(const event_pair&) = delete;
  event_pair& operator=(const event_pair&) = delete;
  void start(cudaStream_t s) { PAISPARSE_CUDA_TRY(cudaEventRecord(start_, s)); }
  void stop(cudaStream_t s) { PAISPARSE_CUDA_TRY(cudaEventRecord(stop_, s)); }
  /// Waits for the stop event; microseconds between the two.
  double elapsed_us() {
    PAISPARSE_CUDA_TRY(cudaEventSynchronize(stop_));
    float ms = 0;
    PAISPARSE_CUDA_TRY(cudaEventElapsedTime(&ms, start_, stop_));
    return 1e3 * static_cast<double>(ms);
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

bool cuda_device_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    cudaGetLastError();
    return false;
  }
  if (n == 0) {
    if (why) *why = "cudaGetDeviceCount reports no CUDA device";
    return false;
  }
  return true;
}

bench_device& bench_device::get() {
  if (!g_device) g_device = new bench_device();
  return *g_device;
}

const bench_device* bench_device::peek() { return g_device; }

void bench_device::shutdown() {
  delete g_device;
  g_device = nullptr;
}

bench_device::bench_device() {
  try {
    PAISPARSE_CUDA_TRY(cudaGetDevice(&info_.device));
    cudaDeviceProp prop{};
    PAISPARSE_CUDA_TRY(cudaGetDeviceProperties(&prop, info_.device));
    info_.name = prop.name;
    info_.sms = prop.multiProcessorCount;
    info_.cc_major = prop.major;
    info_.cc_minor = prop.minor;
    info_.total_bytes = static_cast<int64_t>(prop.totalGlobalMem);
    int l2 = 0;
    PAISPARSE_CUDA_TRY(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, info_.device));
    info_.l2_bytes = l2;
    // A blocking stream on purpose: uploads done with cudaMemcpy / cudaMemset
    // (paisparse's device_buffer and device_schedule, the baselines' copies)
    // run on the legacy default stream and may still be in flight when they
    // return; a blocking stream orders its work after them.
    PAISPARSE_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamDefault));
    PAISPARSE_CUSPARSE_TRY(cusparseCreate(&cusparse_));
    PAISPARSE_CUSPARSE_TRY(cusparseSetStream(cusparse_, stream_));
    PAISPARSE_CUBLAS_TRY(cublasCreate(&cublas_));
    PAISPARSE_CUBLAS_TRY(cublasSetStream(cublas_, stream_));
    // CUBLAS_COMPUTE_32F with the default math mode: no TF32 for fp32 inputs.
    PAISPARSE_CUBLAS_TRY(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    // A fixed workspace keeps cuBLAS from allocating during graph capture.
    constexpr std::size_t workspace_bytes = std::size_t{32} << 20;
    PAISPARSE_CUDA_TRY(cudaMalloc(&cublas_workspace_, workspace_bytes));
    PAISPARSE_CUBLAS_TRY(cublasSetWorkspace(cublas_, cublas_workspace_, workspace_bytes));
    measure_copy_bandwidth();
  } catch (...) {
    release();
    throw;
  }
  std::cerr << "paisparse_bench: " << info_.name << " (sm_" << info_.cc_major << info_.cc_minor << ", " << info_.sms
            << " SMs, L2 " << std::fixed << std::setprecision(1) << info_.l2_bytes / 1048576.0 << " MiB, "
            << info_.total_bytes / 1073741824.0 << " GiB); device-to-device copy of "
            << info_.copy_test_bytes / 1048576 << " MiB: " << std::setprecision(0) << info_.copy_gbps
            << " GB/s (read + write): the byte floor's bandwidth\n";
}

bench_device::~bench_device() { release(); }

void bench_device::release() noexcept {
  if (cublas_) cublasDestroy(cublas_);
  if (cusparse_) cusparseDestroy(cusparse_);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  if (stream_) cudaStreamDestroy(stream_);
  cublas_ = nullptr;
  cusparse_ = nullptr;
  cublas_workspace_ = nullptr;
  stream_ = nullptr;
}

int64_t bench_device::free_bytes() const {
  std::size_t free = 0, total = 0;
  PAISPARSE_CUDA_TRY(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(free);
}

void bench_device::measure_copy_bandwidth() {
  constexpr int64_t mib = int64_t{1} << 20;
  int64_t bytes = std::min<int64_t>(int64_t{1} << 30, free_bytes() / 4);
  bytes = std::max<int64_t>(bytes / mib * mib, 64 * mib);
  void* src = nullptr;
  void* dst = nullptr;
  PAISPARSE_CUDA_TRY(cudaMalloc(&src, static_cast<std::size_t>(bytes)));
  const cudaError_t e = cudaMalloc(&dst, static_cast<std::size_t>(bytes));
  if (e != cudaSuccess) {
    cudaFree(src);
    PAISPARSE_CUDA_TRY(e);
  }
  std::vector<double> us;
  try {
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(src, 1, static_cast<std::size_t>(bytes), stream_));
    PAISPARSE_CUDA_TRY(cudaMemsetAsync(dst, 0, static_cast<std::size_t>(bytes), stream_));
    for (int i = 0; i < 3; ++i)
      PAISPARSE_CUDA_TRY(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, stream_));
    event_pair ev;
    for (int i = 0; i < 11; ++i) {
      ev.start(stream_);
      PAISPARSE_CUDA_TRY(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, stream_));
      ev.stop(stream_);
      us.push_back(ev.elapsed_us());
    }
  } catch (...) {
    cudaFree(src);
    cudaFree(dst);
    throw;
  }
  cudaFree(src);
  cudaFree(dst);
  const double median_us = spread::of(us).median;
  info_.copy_test_bytes = bytes;
  info_.copy_gbps = median_us > 0 ? 2.0 * static_cast<double>(bytes) / (median_us * 1e3) : 0;
  PAISPARSE_EXPECTS(info_.copy_gbps > 0, "device-to-device copy bandwidth measured as 0");
}

spread spread::of(std::vector<double> v) {
  spread s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto quantile = [&](double q) {  // linear interpolation between order statistics
    const double pos = q * static_cast<double>(v.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
  };
  s.min = v.front();
  s.max = v.back();
  s.median = quantile(0.5);
  s.p10 = quantile(0.1);
  s.p90 = quantile(0.9);
  return s;
}

int rotation_copies(int64_t bytes_per_copy, bool hot_l2, double factor, int64_t reserve_bytes) {
  if (hot_l2 || bytes_per_copy <= 0) return 1;
  bench_device& dev = bench_device::get();
  constexpr int64_t max_copies = 16384;  // tiny weights: launches dominate long before this
  const double target = factor * static_cast<double>(dev.info().l2_bytes);
  int64_t want = static_cast<int64_t>(std::ceil(target / static_cast<double>(bytes_per_copy)));
  want = std::clamp<int64_t>(want, 1, max_copies);
  const int64_t room = (dev.free_bytes() - reserve_bytes) / bytes_per_copy;
  return static_cast<int>(std::max<int64_t>(1, std::min(want, room)));
}

rotation_timing time_rotation(const std::function<void(int copy, cudaStream_t)>& launch, int copies,
                              const rotation_options& opt, cudaStream_t stream) {
  PAISPARSE_EXPECTS(copies >= 1, "time_rotation: copies = " << copies << ", expected >= 1");
  PAISPARSE_EXPECTS(opt.samples >= 1 && opt.min_launches >= 1, "time_rotation: samples and min_launches must be >= 1");
  rotation_timing t;
  t.copies = copies;
  const int64_t rounds = (static_cast<int64_t>(opt.min_launches) + copies - 1) / copies;
  t.launches = static_cast<int>(rounds * copies);
  int samples = opt.samples;
  auto launch_all = [&] {
    for (int j = 0; j < t.launches; ++j) launch(j % copies, stream);
  };
  if (opt.max_seconds > 0) {  // one call, timed after an untimed one, predicts the whole measurement
    launch(0, stream);
    event_pair ev;
    ev.start(stream);
    launch(0, stream);
    ev.stop(stream);
    const double call_s = ev.elapsed_us() * 1e-6;
    auto planned_s = [&] { return 2.0 * (samples + 1) * t.launches * call_s; };  // two modes, warm-up included
    if (planned_s() > opt.max_seconds && t.launches > copies) t.launches = copies, t.capped = true;
    if (planned_s() > opt.max_seconds && samples > 5) {
      samples = std::max(5, static_cast<int>(opt.max_seconds / (2.0 * t.launches * call_s)) - 1);
      t.capped = t.capped || samples < opt.samples;
    }
  }

  // stream launches
  {
    event_pair ev;
    launch_all();  // warm-up
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
    std::vector<double> us;
    for (int s = 0; s < samples; ++s) {
      ev.start(stream);
      launch_all();
      ev.stop(stream);
      us.push_back(ev.elapsed_us() / t.launches);
    }
    t.stream = spread::of(std::move(us));
  }

  // CUDA-graph replay of the same launches
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  try {
    PAISPARSE_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      launch_all();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream, &partial);
      if (partial) cudaGraphDestroy(partial);
      cudaGetLastError();
      throw;
    }
    PAISPARSE_CUDA_TRY(cudaStreamEndCapture(stream, &graph));
    PAISPARSE_CUDA_TRY(cudaGraphInstantiate(&exec, graph, 0));
    PAISPARSE_CUDA_TRY(cudaGraphUpload(exec, stream));
    PAISPARSE_CUDA_TRY(cudaGraphLaunch(exec, stream));  // warm-up
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
    event_pair ev;
    std::vector<double> us;
    for (int s = 0; s < samples; ++s) {
      ev.start(stream);
      PAISPARSE_CUDA_TRY(cudaGraphLaunch(exec, stream));
      ev.stop(stream);
      us.push_back(ev.elapsed_us() / t.launches);
    }
    t.graph = spread::of(std::move(us));
    t.graph_ok = true;
  } catch (const paisparse::error& e) {
    t.graph_ok = false;
    t.graph_error = e.what();
    cudaGetLastError();
  }
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  return t;
}

}  // namespace paisparse::bench
