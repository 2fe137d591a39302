// paisparse_latency_probe: what a cold, microsecond kernel costs on this GPU,
// measured the way the tuner measures (L2 flushed, events around the kernel
// inside a CUDA graph). Prints the cost of an empty kernel and of chains of
// 1..4 dependent loads from HBM, with one thread and with the whole GPU
// (one chain per thread, 132 x 2048 threads), so SpMV times can be read
// against the latency floor of their dependency chain.
#include <paisparse/paisparse.cuh>

#include <cstdio>
#include <vector>

namespace {

__global__ void empty_kernel() {}

// Each thread follows `hops` dependent loads through p, starting at its own
// index; p[i] holds the index of a far-away element, so every hop misses L2.
__global__ void chase_kernel(const int32_t* __restrict__ p, int hops, int32_t* sink) {
  int32_t i = static_cast<int32_t>(blockIdx.x * blockDim.x + threadIdx.x);
  for (int h = 0; h < hops; ++h) i = __ldg(p + i);
  if (i == -1) *sink = i;
}

}  // namespace

int main() try {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("paisparse_latency_probe: no CUDA GPU\n");
    return 0;
  }
  paisparse::l2_flusher flush;
  const int64_t elems = 64 << 20;  // 256 MB of int32
  std::vector<int32_t> h(static_cast<std::size_t>(elems));
  for (int64_t i = 0; i < elems; ++i) h[i] = static_cast<int32_t>((i * 7919 + 12345678) % elems);
  paisparse::device_buffer<int32_t> p(h), sink(1);
  auto report = [&](const char* what, auto&& launch) {
    const auto g = paisparse::time_launches_in_graph(launch, nullptr, 3, 21, &flush);
    const auto s = paisparse::time_launches(launch, nullptr, 3, 21, &flush);
    std::printf("%-44s graph+events %6.2f us   stream+events %6.2f us\n", what, g.median, s.median);
  };
  report("empty kernel", [&](cudaStream_t s) { empty_kernel<<<1, 32, 0, s>>>(); });
  report("empty kernel, 1056 blocks x 256", [&](cudaStream_t s) { empty_kernel<<<1056, 256, 0, s>>>(); });
  for (int hops = 1; hops <= 4; ++hops) {
    char name[96];
    std::snprintf(name, sizeof name, "%d dependent loads, 1 thread", hops);
    report(name, [&](cudaStream_t s) { chase_kernel<<<1, 1, 0, s>>>(p.data(), hops, sink.data()); });
    std::snprintf(name, sizeof name, "%d dependent loads, 270336 threads", hops);
    report(name, [&](cudaStream_t s) { chase_kernel<<<1056, 256, 0, s>>>(p.data(), hops, sink.data()); });
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
