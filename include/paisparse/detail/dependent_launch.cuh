// paisparse detail: programmatic dependent launch (sm_90+).
//
// A kernel launched with the programmatic-stream-serialization attribute may
// start while the previous kernel in the stream is still running. paisparse
// kernels (SpMV, SpMM, the SpMM staging copy of B) read only their own
// immutable weight before calling wait_for_inputs(); x / B, y / C, bias and
// the split-row and split-K workspaces, which the previous kernel may write
// or still read, are touched after it, and x / B with coherent loads (a
// non-coherent ld.global.nc may be reordered before the wait or see stale
// data). So the weight fetch of one layer overlaps the tail of the previous
// layer, as far as that layer calls allow_dependent_launch() early: the SpMV
// kernels and the SpMM staging copy do, at their start; the SpMM kernels do
// not (see kernels/spmm_kernel.cuh). On GPUs before sm_90, or when launched
// without the attribute, both calls do nothing.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

namespace paisparse::detail {

/// Blocks until every grid this one depends on has completed and its memory is visible.
__device__ __forceinline__ void wait_for_inputs() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/// Lets the next kernel in the stream start launching (it still waits for
/// this grid's completion before reading what this grid writes).
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

/// The launch attribute for clusters of `size` consecutive blocks along x
/// (the launch below and the tuner's cluster occupancy query).
inline cudaLaunchAttribute cluster_attribute(unsigned size) {
  cudaLaunchAttribute a{};
  a.id = cudaLaunchAttributeClusterDimension;
  a.val.clusterDim.x = size;
  a.val.clusterDim.y = 1;
  a.val.clusterDim.z = 1;
  return a;
}

/// Launches `kernel` on `stream` with `smem` bytes of dynamic shared memory
/// in clusters of `cluster` consecutive blocks along x (1: no cluster; sm_90
/// and later); with `overlap`, with programmatic stream serialization (the
/// kernel may start before the previous one ends).
template <class... Params, class... Args>
cudaError_t launch_kernel_in_clusters(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                                      cudaStream_t stream, bool overlap, unsigned cluster, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  if (overlap) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n++].val.programmaticStreamSerializationAllowed = 1;
  }
  if (cluster > 1) attr[n++] = cluster_attribute(cluster);
  cfg.attrs = n > 0 ? attr : nullptr;
  cfg.numAttrs = n;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

/// The same without clusters.
template <class... Params, class... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                          bool overlap, Args&&... args) {
  return launch_kernel_in_clusters(kernel, grid, block, smem, stream, overlap, 1u, std::forward<Args>(args)...);
}

}  // namespace paisparse::detail
