// GPU test entry point: skips (exit 77, shown by CTest as "Not Run") with a
// clear message when no CUDA device is present.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  int n = 0;
  const cudaError_t st = cudaGetDeviceCount(&n);
  if (st != cudaSuccess || n == 0) {
    std::printf("paisparse GPU tests SKIPPED: no CUDA device (%s). Run them on a machine with a GPU.\n",
                st != cudaSuccess ? cudaGetErrorString(st) : "cudaGetDeviceCount reports 0 devices");
    return 77;
  }
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  std::printf("paisparse GPU tests on %s (sm_%d%d, %d SMs)\n", p.name, p.major, p.minor, p.multiProcessorCount);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
