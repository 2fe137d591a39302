// paisparse examples: small pieces the command-line examples share.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <string>

namespace paisparse::examples {

/// nullptr when the program sees a CUDA GPU, else why not (the CUDA error, or "0 devices").
inline const char* missing_gpu() {
  int devices = 0;
  const cudaError_t st = cudaGetDeviceCount(&devices);
  if (st != cudaSuccess) return cudaGetErrorString(st);
  return devices == 0 ? "0 devices" : nullptr;
}

/// run(T{}) with T the value type named by `type`: __half for "fp16",
/// __nv_bfloat16 for "bf16", float otherwise (the options check the name).
template <class Run>
int with_value_type(const std::string& type, Run&& run) {
  if (type == "fp16") return run(__half{});
  if (type == "bf16") return run(__nv_bfloat16{});
  return run(float{});
}

}  // namespace paisparse::examples
