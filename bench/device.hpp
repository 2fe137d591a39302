// paisparse benchmark: the GPU, its handles, and rotation timing.
//
// Nothing here runs at registration: bench_device::get() initializes CUDA,
// cuSPARSE and cuBLAS on first use, inside the first benchmark that runs,
// and measures the device-to-device copy bandwidth once per process.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace paisparse::bench {

/// Whether a CUDA device can be used; `why` explains when not. Safe without a driver.
bool cuda_device_available(std::string* why);

struct device_info {
  int device = 0;
  std::string name;
  int sms = 0;
  int cc_major = 0, cc_minor = 0;
  int64_t l2_bytes = 0;
  int64_t total_bytes = 0;
  double copy_gbps = 0;       // device-to-device cudaMemcpyAsync, read + write bytes, median
  int64_t copy_test_bytes = 0;
};

/// The process-wide GPU state the benchmarks share.
class bench_device {
 public:
  /// Initializes on first call (CUDA context, handles, copy bandwidth). Throws paisparse::error.
  static bench_device& get();
  /// The device if get() initialized it already, else null (never initializes).
  static const bench_device* peek();
  /// Destroys handles and the stream (call once, after the benchmarks ran). No-op if never initialized.
  static void shutdown();

  const device_info& info() const { return info_; }
  cudaStream_t stream() const { return stream_; }
  cusparseHandle_t cusparse() const { return cusparse_; }
  cublasHandle_t cublas() const { return cublas_; }
  /// Free device memory now, in bytes.
  int64_t free_bytes() const;

  bench_device(const bench_device&) = delete;
  bench_device& operator=(const bench_device&) = delete;

 private:
  bench_device();
  ~bench_device();
  void measure_copy_bandwidth();
  void release() noexcept;

  device_info info_;
  cudaStream_t stream_ = nullptr;
  cusparseHandle_t cusparse_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
};

/// Median and spread of a sample.
struct spread {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
  int n = 0;
  static spread of(std::vector<double> v);
};

/// Times of one method on one case, microseconds per call.
struct rotation_timing {
  spread stream;               // plain launches on a stream
  spread graph;                // the same launches captured once into a CUDA graph, replayed
  bool graph_ok = false;
  std::string graph_error;     // why graph capture failed, when it did
  int copies = 1;              // copies rotated over
  int launches = 0;            // launches per sample (a multiple of copies)
  bool capped = false;         // fewer launches / samples than asked, to stay within max_seconds
};

struct rotation_options {
  int samples = 15;
  int min_launches = 20;
  /// 0: no cap. Otherwise a call is timed once first, and if the two modes
  /// would take longer than this, a sample becomes one rotation (a call this
  /// slow needs no amortizing of the events), then the samples are cut (to 5
  /// at least). For cuSPARSE's slowest SpMM algorithms (tens of ms per call).
  double max_seconds = 0;
};

/// How many copies of `bytes_per_copy` bytes to rotate over so one rotation
/// touches at least factor x L2, capped by free device memory (keeping
/// `reserve_bytes` free); 1 with hot_l2.
int rotation_copies(int64_t bytes_per_copy, bool hot_l2, double factor, int64_t reserve_bytes = int64_t{1} << 30);

/// Times launch(copy, stream) over `copies` copies, in two modes:
///  stream: per sample, L launches (L = copies x ceil(min_launches / copies))
///          between two events, divided by L;
///  graph:  the same L launches captured into a CUDA graph once, each sample
///          one replay between two events, divided by L.
/// One untimed rotation (and one untimed replay) warms up first. With
/// opt.max_seconds, slow calls get fewer launches and samples (see
/// rotation_options). Blocking.
/// Throws paisparse::error on stream-mode failures; graph failures are
/// recorded in graph_error.
rotation_timing time_rotation(const std::function<void(int copy, cudaStream_t)>& launch, int copies,
                              const rotation_options& opt, cudaStream_t stream);

}  // namespace paisparse::bench
