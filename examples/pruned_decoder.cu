// paisparse example: an end-to-end pruned decoder, batch-1 token generation.
//
// A stack of transformer decoder layers with LLaMA-7B shapes (hidden 4096,
// 32 heads of 128, MLP 11008 with SiLU gating, 32 layers), fp16 values and
// fp32 accumulation, random weights pruned to a chosen sparsity, distinct per
// layer (every token step reads all of them from HBM, as a real model does).
// One token step (all layers) is captured in a CUDA graph twice: with the
// linear layers run by dense cuBLAS (cublasGemmEx, N = 1) on the pruned
// weights stored dense, and by paisparse SpMV plans. Every other kernel is
// shared by both variants. Prints per-token latency, tokens/s and weight
// memory for both, and checks that both give the same final hidden state.
//
//   pruned_decoder [--sparsity 0.9 | 0.5,0.7,0.9,0.95,0.99] [--layers 32]
//                  [--tokens 100] [--budget 2] [--seed 1] [--overlap all|none|plans|kernels]
//                  [--verbose]
//
// One layer, 6 kernels (4 of them linear layers):
//
//   qkv  = Wqkv h                      Q, K and V weights concatenated by rows
//   attn = attention(qkv, h, KV cache) RMSNorm scale, RoPE, softmax over the
//                                      cache (128 past positions) + the new one
//   h    = Wo attn + h                 residual by the epilog: beta = 1, in place
//   gu   = Wgu h                       gate and up weights concatenated by rows
//   m    = silu(g) * u                 RMSNorm scale, SiLU, product
//   h    = Wdown m + h                 residual by the epilog
//
// RMSNorm, rmsnorm(h) = g * h / rms(h), runs in factored form: its gain g
// is folded into the columns of the weight that consumes it (here random
// weights, so the folded weight is just another random weight), and the
// scalar 1 / rms(h) is applied by the kernel after the linear layer (W (h /
// r) = (W h) / r), which reads h and computes r itself. This saves two
// kernels per layer in both variants.
//
// The small kernels launch with programmatic dependent launch, like
// paisparse's: each lets the next kernel start as soon as it runs, and waits
// for its predecessor only before reading what it produced; the attention
// kernel fetches its (immutable) KV cache before that wait.
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <paisparse/paisparse.cuh>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#define CUBLAS_TRY(call)                                                                              \
  do {                                                                                                \
    cublasStatus_t s_ = (call);                                                                       \
    PAISPARSE_EXPECTS(s_ == CUBLAS_STATUS_SUCCESS, #call << " failed: status " << static_cast<int>(s_)); \
  } while (0)

namespace {

using T = __half;

// ---------------------------------------------------------------- model shapes

constexpr int kHidden = 4096;
constexpr int kHeads = 32;
constexpr int kHeadDim = 128;
constexpr int kMlp = 11008;
constexpr int kPast = 128;           // past positions in the KV cache
constexpr int kSlots = kPast + 1;    // + the slot the new token's K and V are written to
constexpr float kRmsEps = 1e-5f;
constexpr float kRopeBase = 10000.f;
static_assert(kHidden == kHeads * kHeadDim, "heads x head dim must be the hidden size");

enum linear_id { qkv_proj, out_proj, gate_up_proj, down_proj, n_linear };

struct linear_shape {
  const char* name;
  int rows, cols;
};
constexpr std::array<linear_shape, n_linear> kShapes{{{"qkv", 3 * kHidden, kHidden},
                                                      {"o", kHidden, kHidden},
                                                      {"gate_up", 2 * kMlp, kHidden},
                                                      {"down", kHidden, kMlp}}};

// ------------------------------------------------------------------- kernels

// Programmatic dependent launch (sm_90): let the next kernel launch, and wait
// for the previous one (completion and memory) before reading its output.
__device__ __forceinline__ void let_next_kernel_start() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaTriggerProgrammaticLaunchCompletion();
#endif
}
__device__ __forceinline__ void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
#endif
}

constexpr int kBlock = 256;  // threads of the small kernels
constexpr int kWarps = kBlock / 32;

// What earlier kernels of the step wrote (h, qkv, gu) is read with ld.global.cg
// (L2 only): with programmatic dependent launch a kernel is already running
// while its predecessor writes, so neither the non-coherent read-only path
// (ld.global.nc, which `const __restrict__` lets the compiler pick) nor lines
// left in this SM's L1 may serve those reads.
template <class V>
__device__ __forceinline__ V load_produced(const T* p) {
  return __ldcg(reinterpret_cast<const V*>(p));
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ void unpack4(uint2 w, float (&f)[4]) {
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&w.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&w.y));
  f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
}
__device__ __forceinline__ uint2 pack4(const float (&f)[4]) {
  uint2 w;
  *reinterpret_cast<__half2*>(&w.x) = __floats2half2_rn(f[0], f[1]);
  *reinterpret_cast<__half2*>(&w.y) = __floats2half2_rn(f[2], f[3]);
  return w;
}
__device__ __forceinline__ float sum_squares8(uint4 w) {
  const __half2* h = reinterpret_cast<const __half2*>(&w);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(h[i]);
    s = fmaf(f.x, f.x, fmaf(f.y, f.y, s));
  }
  return s;
}

/// 1 / rms(h) for the kHidden elements of h; every thread of the block gets it.
/// `a` and `b` are this thread's two 8-element pieces of h (loaded by the caller).
__device__ __forceinline__ float inverse_rms(uint4 a, uint4 b, float* red) {
  static_assert(kHidden == 2 * 8 * kBlock, "inverse_rms: each thread holds 16 elements of h");
  float s = warp_sum(sum_squares8(a) + sum_squares8(b));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = s;
  __syncthreads();
  s = 0.f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) s += red[w];
  return rsqrtf(s / kHidden + kRmsEps);
}

/// One block per head. qkv holds Wqkv h (not yet scaled by 1 / rms(h)); the
/// K and V caches are [head][slot][kHeadDim], past positions in slots
/// 0..kPast-1, the new token's K and V are written to slot kPast. Warp w
/// scores positions 16w..16w+15, lane l holds dimensions 4l..4l+3; the warps'
/// partial softmax sums are combined through shared memory.
__global__ void __launch_bounds__(kBlock) attention_kernel(const T* qkv, const T* resid, T* k_cache, T* v_cache,
                                                          T* out) {
  constexpr int per_warp = kPast / kWarps;
  static_assert(kPast % kWarps == 0 && kHeadDim == 4 * 32, "attention_kernel: layout");
  __shared__ float red[kWarps];
  __shared__ float part_o[kWarps][kHeadDim];
  __shared__ float part_m[kWarps], part_l[kWarps];
  const int head = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  let_next_kernel_start();

  // The past K and V do not depend on the previous kernels: fetch them first.
  const std::size_t head_base = static_cast<std::size_t>(head) * kSlots * kHeadDim;
  uint2 kr[per_warp], vr[per_warp];
#pragma unroll
  for (int i = 0; i < per_warp; ++i) {
    const std::size_t at = head_base + static_cast<std::size_t>(warp * per_warp + i) * kHeadDim + 4 * lane;
    kr[i] = *reinterpret_cast<const uint2*>(k_cache + at);
    vr[i] = *reinterpret_cast<const uint2*>(v_cache + at);
  }
  // RoPE at position kPast, on interleaved pairs (2i, 2i + 1): lane l rotates pairs 2l and 2l + 1
  float rope_sin[2], rope_cos[2];
#pragma unroll
  for (int p = 0; p < 2; ++p)
    sincosf(kPast * powf(kRopeBase, -2.f * (2 * lane + p) / kHeadDim), &rope_sin[p], &rope_cos[p]);
  wait_for_previous_kernel();

  const uint4 ha = load_produced<uint4>(resid + 8 * threadIdx.x);
  const uint4 hb = load_produced<uint4>(resid + 8 * (threadIdx.x + kBlock));
  const int d0 = head * kHeadDim + 4 * lane;
  float q[4], kn[4], vn[4];
  unpack4(load_produced<uint2>(qkv + d0), q);
  unpack4(load_produced<uint2>(qkv + kHidden + d0), kn);
  unpack4(load_produced<uint2>(qkv + 2 * kHidden + d0), vn);
  const float inv = inverse_rms(ha, hb, red);
#pragma unroll
  for (int e = 0; e < 4; ++e) q[e] *= inv, kn[e] *= inv, vn[e] *= inv;
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const float sn = rope_sin[p], cs = rope_cos[p];
    const float q0 = q[2 * p], q1 = q[2 * p + 1], k0 = kn[2 * p], k1 = kn[2 * p + 1];
    q[2 * p] = q0 * cs - q1 * sn, q[2 * p + 1] = q0 * sn + q1 * cs;
    kn[2 * p] = k0 * cs - k1 * sn, kn[2 * p + 1] = k0 * sn + k1 * cs;
  }
  const float scale = rsqrtf(static_cast<float>(kHeadDim));
  float s[per_warp];
#pragma unroll
  for (int i = 0; i < per_warp; ++i) {
    float k[4];
    unpack4(kr[i], k);
    s[i] = q[0] * k[0] + q[1] * k[1] + q[2] * k[2] + q[3] * k[3];
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2)
#pragma unroll
    for (int i = 0; i < per_warp; ++i) s[i] += __shfl_xor_sync(0xffffffffu, s[i], o);
  const float s_new = scale * warp_sum(q[0] * kn[0] + q[1] * kn[1] + q[2] * kn[2] + q[3] * kn[3]);
  float m = warp == 0 ? s_new : -INFINITY;  // warp 0 also owns the new position
#pragma unroll
  for (int i = 0; i < per_warp; ++i) m = fmaxf(m, s[i] *= scale);
  float l = 0.f, o[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int i = 0; i < per_warp; ++i) {
    const float pr = __expf(s[i] - m);
    float v[4];
    unpack4(vr[i], v);
    l += pr;
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] = fmaf(pr, v[e], o[e]);
  }
  if (warp == 0) {
    const float pr = __expf(s_new - m);
    l += pr;
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] = fmaf(pr, vn[e], o[e]);
    const std::size_t at = head_base + static_cast<std::size_t>(kPast) * kHeadDim + 4 * lane;
    *reinterpret_cast<uint2*>(k_cache + at) = pack4(kn);  // the cache entry of this position
    *reinterpret_cast<uint2*>(v_cache + at) = pack4(vn);
  }
#pragma unroll
  for (int e = 0; e < 4; ++e) part_o[warp][4 * lane + e] = o[e];
  if (lane == 0) part_m[warp] = m, part_l[warp] = l;
  __syncthreads();
  if (threadIdx.x < kHeadDim) {
    float mm = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mm = fmaxf(mm, part_m[w]);
    float num = 0.f, den = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float f = __expf(part_m[w] - mm);
      num = fmaf(f, part_o[w][threadIdx.x], num);
      den = fmaf(f, part_l[w], den);
    }
    out[head * kHeadDim + threadIdx.x] = __float2half_rn(num / den);
  }
}

constexpr int kActPerThread = 8;
constexpr int kActBlocks = (kMlp + kBlock * kActPerThread - 1) / (kBlock * kActPerThread);
static_assert(kMlp % kActPerThread == 0, "act_kernel: whole vectors");

/// m = silu(g / r) * (u / r), with gu = [Wgate h; Wup h] and r = rms(h).
__global__ void __launch_bounds__(kBlock) gated_silu_kernel(const T* gu, const T* resid, T* m) {
  __shared__ float red[kWarps];
  let_next_kernel_start();
  wait_for_previous_kernel();
  const uint4 ha = load_produced<uint4>(resid + 8 * threadIdx.x);
  const uint4 hb = load_produced<uint4>(resid + 8 * (threadIdx.x + kBlock));
  const int i = (blockIdx.x * kBlock + threadIdx.x) * kActPerThread;
  uint4 g{}, u{};
  if (i < kMlp) {
    g = load_produced<uint4>(gu + i);
    u = load_produced<uint4>(gu + kMlp + i);
  }
  const float inv = inverse_rms(ha, hb, red);
  if (i >= kMlp) return;
  const __half2* g2 = reinterpret_cast<const __half2*>(&g);
  const __half2* u2 = reinterpret_cast<const __half2*>(&u);
  uint4 r;
  __half2* r2 = reinterpret_cast<__half2*>(&r);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 gf = __half22float2(g2[k]), uf = __half22float2(u2[k]);
    const float a = gf.x * inv, b = gf.y * inv;
    r2[k] = __floats2half2_rn(a / (1.f + __expf(-a)) * (uf.x * inv), b / (1.f + __expf(-b)) * (uf.y * inv));
  }
  *reinterpret_cast<uint4*>(m + i) = r;
}

/// Writes the nonzeros of a CSR weight into a zeroed dense row-major matrix (one warp per row).
__global__ void scatter_to_dense_kernel(const int32_t* __restrict__ offsets, const int32_t* __restrict__ cols,
                                        const T* __restrict__ values, int32_t rows, int32_t ncols, T* __restrict__ dense) {
  const int32_t r = static_cast<int32_t>((blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32);
  if (r >= rows) return;
  T* row = dense + static_cast<std::size_t>(r) * ncols;
  for (int32_t k = offsets[r] + static_cast<int32_t>(threadIdx.x % 32); k < offsets[r + 1]; k += 32)
    row[cols[k]] = values[k];
}

/// Fills with uniform values of unit variance from a hash of the index (fixed seed).
__global__ void fill_random_kernel(T* __restrict__ p, std::size_t n, uint64_t seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * (1.f / 16777216.f);  // [0, 1)
    p[i] = __float2half_rn(1.7320508f * (2.f * u - 1.f));
  }
}

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), int grid, int block, cudaStream_t s, bool overlap, Args... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(grid);
  cfg.blockDim = dim3(block);
  cfg.stream = s;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = overlap ? &attr : nullptr;
  cfg.numAttrs = overlap ? 1 : 0;
  PAISPARSE_CUDA_TRY(cudaLaunchKernelEx(&cfg, kernel, args...));
}

// ------------------------------------------------------- weights (host side)

/// splitmix64: a small, fast generator with good statistics; one per weight.
struct splitmix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }             // [0, 1)
  double open_unit() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
};

/// A pruned rows x cols weight at mean density `density`, built directly as
/// CSR: row densities lognormal (sigma 0.8, as magnitude-pruned LLM layers;
/// clipped at 1 and rescaled so the mean is exact), columns uniform; values
/// of random sign and magnitude uniform in [t, 3t] (what survives magnitude
/// pruning has no small values), t chosen so that a unit-variance input
/// gives outputs of about unit variance.
paisparse::host_csr<T> make_pruned_weight(int rows, int cols, double density, uint64_t seed) {
  splitmix64 rng{seed};
  constexpr double sigma = 0.8;
  std::vector<double> factor(static_cast<std::size_t>(rows));
  for (auto& f : factor) {  // Box-Muller
    const double z = std::sqrt(-2.0 * std::log(rng.open_unit())) * std::cos(6.283185307179586 * rng.unit());
    f = std::exp(sigma * z - 0.5 * sigma * sigma);
  }
  auto mean_density = [&](double s) {
    double sum = 0;
    for (const double f : factor) sum += std::min(1.0, s * density * f);
    return sum / rows;
  };
  double lo = 0, hi = 1;
  while (mean_density(hi) < density && hi < 1e6) hi *= 2;
  for (int it = 0; it < 60; ++it) (mean_density(0.5 * (lo + hi)) < density ? lo : hi) = 0.5 * (lo + hi);
  const double t = std::sqrt(3.0 / 13.0) / std::sqrt(std::max(density, 1e-9) * cols);  // E[(t(1+2u))^2] = 13t^2/3

  std::vector<int32_t> offsets(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<int32_t> idx;
  std::vector<T> val;
  idx.reserve(static_cast<std::size_t>(density * rows * cols * 1.01) + 1024);
  val.reserve(idx.capacity());
  auto push = [&](int32_t c) {
    idx.push_back(c);
    const uint64_t r = rng.next();
    const float mag = static_cast<float>(t * (1.0 + 2.0 * static_cast<double>(r >> 12) * 0x1.0p-52));
    val.push_back(__float2half_rn((r & 1) ? -mag : mag));
  };
  for (int r = 0; r < rows; ++r) {
    const double p = std::min(1.0, hi * density * factor[static_cast<std::size_t>(r)]);
    if (p >= 1.0) {
      for (int32_t c = 0; c < cols; ++c) push(c);
    } else if (p > 0.25) {  // a Bernoulli draw per column
      const auto threshold = static_cast<uint64_t>(p * 0x1.0p64);
      for (int32_t c = 0; c < cols; ++c)
        if (rng.next() < threshold) push(c);
    } else if (p > 0) {  // geometric gaps between kept columns
      const double inv_log = 1.0 / std::log1p(-p);
      for (int64_t c = -1;;) {
        const double gap = std::floor(std::log(rng.open_unit()) * inv_log);
        if (gap >= cols) break;
        c += 1 + static_cast<int64_t>(gap);
        if (c >= cols) break;
        push(static_cast<int32_t>(c));
      }
    }
    offsets[static_cast<std::size_t>(r) + 1] = static_cast<int32_t>(idx.size());
  }
  return paisparse::host_csr<T>(rows, cols, std::move(offsets), std::move(idx), std::move(val));
}

uint64_t weight_seed(uint64_t seed, int layer, int lin) {
  splitmix64 g{seed * 0x100000001b3ull + static_cast<uint64_t>(layer) * n_linear + lin};
  return g.next();
}

/// Runs fn(0..n-1) on up to `threads` threads; rethrows the first exception.
template <class Fn>
void parallel_for(int n, int threads, Fn&& fn) {
  std::atomic<int> next{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto work = [&] {
    for (int i; (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < std::min(threads, n); ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

// ----------------------------------------------------------------- the model

struct options {
  std::vector<double> sparsities{0.9};
  int layers = 32;
  int tokens = 100;
  double budget = 2.0;
  std::string filter;  // tune only configurations whose name contains this
  uint64_t seed = 1;
  bool overlap_plans = true;    // paisparse plans launch with programmatic dependent launch
  bool overlap_kernels = true;  // and so do the attention and gated SiLU kernels
  bool verbose = false;
};

/// Activations of one variant (each variant has its own, so the results can be compared).
struct activations {
  paisparse::device_buffer<T> h{kHidden}, qkv{3 * kHidden}, attn{kHidden}, gu{2 * kMlp}, m{kMlp};
};

enum class variant { dense, sparse };
/// Which kernels a captured step contains: all of them, or parts (to time them alone).
enum step_part : unsigned {
  part_qkv = 1u << qkv_proj,
  part_out = 1u << out_proj,
  part_gate_up = 1u << gate_up_proj,
  part_down = 1u << down_proj,
  part_attention = 16,
  part_gated_silu = 32,
  linear_parts = part_qkv | part_out | part_gate_up | part_down,
  other_parts = part_attention | part_gated_silu,
  all_parts = linear_parts | other_parts
};

struct decoder {
  const options& opt;
  int layers;
  paisparse::device_buffer<T> embed{kHidden};
  paisparse::device_buffer<T> k_cache, v_cache;  // [layer][head][slot][dim]
  std::array<paisparse::device_buffer<T>, n_linear> dense;  // [layer][rows][cols] each
  std::vector<std::array<paisparse::spmv_plan<T>, n_linear>> plans;
  activations act_dense, act_sparse;
  cublasHandle_t blas = nullptr;
  paisparse::device_buffer<char> blas_workspace{32u << 20};

  explicit decoder(const options& o) : opt(o), layers(o.layers) {
    const std::size_t cache = static_cast<std::size_t>(layers) * kHeads * kSlots * kHeadDim;
    k_cache = paisparse::device_buffer<T>(cache);
    v_cache = paisparse::device_buffer<T>(cache);
    fill_random_kernel<<<1024, 256>>>(embed.data(), embed.size(), o.seed ^ 0xe1);
    fill_random_kernel<<<1024, 256>>>(k_cache.data(), cache, o.seed ^ 0x4b);
    fill_random_kernel<<<1024, 256>>>(v_cache.data(), cache, o.seed ^ 0x56);
    PAISPARSE_CUDA_CHECK_LAST();
    for (int i = 0; i < n_linear; ++i)
      dense[i] = paisparse::device_buffer<T>(static_cast<std::size_t>(layers) * kShapes[i].rows * kShapes[i].cols);
    CUBLAS_TRY(cublasCreate(&blas));
    CUBLAS_TRY(cublasSetWorkspace(blas, blas_workspace.data(), blas_workspace.size()));
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  }
  ~decoder() {
    if (blas) cublasDestroy(blas);
  }
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;

  T* dense_weight(int layer, int lin) {
    return dense[lin].data() + static_cast<std::size_t>(layer) * kShapes[lin].rows * kShapes[lin].cols;
  }

  /// y = W x + beta * y + bias (bias: sparse variant only, layer 0's residual is the embedding).
  void linear(variant v, int layer, int lin, const T* x, T* y, float beta, const T* bias, cudaStream_t s) {
    const linear_shape& sh = kShapes[lin];
    if (v == variant::sparse) {
      plans[layer][lin].run({x, static_cast<std::size_t>(sh.cols)}, {y, static_cast<std::size_t>(sh.rows)},
                            paisparse::epilog_params<T>{1.f, beta, bias}, s);
      return;
    }
    const float one = 1.f;
    // row-major W (rows x cols) is column-major W^T with ld = cols: y = (W^T)^T x
    CUBLAS_TRY(cublasSetStream(blas, s));
    CUBLAS_TRY(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, sh.rows, 1, sh.cols, &one, dense_weight(layer, lin),
                            CUDA_R_16F, sh.cols, x, CUDA_R_16F, sh.cols, &beta, y, CUDA_R_16F, sh.rows,
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }

  /// One token step through all layers, starting from the embedding; the
  /// final hidden state is in the variant's h.
  void step(variant v, cudaStream_t s, unsigned parts = all_parts) {
    activations& a = v == variant::sparse ? act_sparse : act_dense;
    if (v == variant::dense && (parts & part_out))  // the layer-0 residual (the sparse variant adds it as a bias)
      PAISPARSE_CUDA_TRY(cudaMemcpyAsync(a.h.data(), embed.data(), kHidden * sizeof(T), cudaMemcpyDeviceToDevice, s));
    const std::size_t cache_layer = static_cast<std::size_t>(kHeads) * kSlots * kHeadDim;
    for (int l = 0; l < layers; ++l) {
      const T* x0 = l == 0 ? embed.data() : a.h.data();
      if (parts & part_qkv) linear(v, l, qkv_proj, x0, a.qkv.data(), 0.f, nullptr, s);
      if (parts & part_attention)
        launch(attention_kernel, kHeads, kBlock, s, opt.overlap_kernels, static_cast<const T*>(a.qkv.data()), x0,
               k_cache.data() + l * cache_layer, v_cache.data() + l * cache_layer, a.attn.data());
      if (parts & part_out) {
        if (l == 0 && v == variant::sparse) linear(v, l, out_proj, a.attn.data(), a.h.data(), 0.f, embed.data(), s);
        else linear(v, l, out_proj, a.attn.data(), a.h.data(), 1.f, nullptr, s);
      }
      if (parts & part_gate_up) linear(v, l, gate_up_proj, a.h.data(), a.gu.data(), 0.f, nullptr, s);
      if (parts & part_gated_silu)
        launch(gated_silu_kernel, kActBlocks, kBlock, s, opt.overlap_kernels, static_cast<const T*>(a.gu.data()),
               static_cast<const T*>(a.h.data()), a.m.data());
      if (parts & part_down) linear(v, l, down_proj, a.m.data(), a.h.data(), 1.f, nullptr, s);
    }
  }
};

// ------------------------------------------------------------ graphs, timing

struct graph {
  cudaGraph_t g = nullptr;
  cudaGraphExec_t exec = nullptr;
  int kernels = 0, other_nodes = 0;
  graph() = default;
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;
  ~graph() {
    if (exec) cudaGraphExecDestroy(exec);
    if (g) cudaGraphDestroy(g);
  }
};

template <class Step>
void capture(graph& out, cudaStream_t s, Step&& step) {
  PAISPARSE_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  try {
    step(s);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(s, &broken);
    if (broken) cudaGraphDestroy(broken);
    throw;
  }
  PAISPARSE_CUDA_TRY(cudaStreamEndCapture(s, &out.g));
  PAISPARSE_CUDA_TRY(cudaGraphInstantiate(&out.exec, out.g, 0));
  std::size_t n = 0;
  PAISPARSE_CUDA_TRY(cudaGraphGetNodes(out.g, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  PAISPARSE_CUDA_TRY(cudaGraphGetNodes(out.g, nodes.data(), &n));
  for (auto node : nodes) {
    cudaGraphNodeType type;
    PAISPARSE_CUDA_TRY(cudaGraphNodeGetType(node, &type));
    (type == cudaGraphNodeTypeKernel ? out.kernels : out.other_nodes)++;
  }
}

/// Median microseconds per replay: CUDA events around each replay, L2
/// flushed before each (outside the events), after a few warm-up replays.
double time_replays(const graph& gr, cudaStream_t s, int reps, paisparse::l2_flusher& flusher) {
  for (int i = 0; i < 3; ++i) PAISPARSE_CUDA_TRY(cudaGraphLaunch(gr.exec, s));
  std::vector<cudaEvent_t> ev(2 * static_cast<std::size_t>(reps));
  for (auto& e : ev) PAISPARSE_CUDA_TRY(cudaEventCreate(&e));
  for (int r = 0; r < reps; ++r) {
    flusher.flush(s);
    PAISPARSE_CUDA_TRY(cudaEventRecord(ev[2 * r], s));
    PAISPARSE_CUDA_TRY(cudaGraphLaunch(gr.exec, s));
    PAISPARSE_CUDA_TRY(cudaEventRecord(ev[2 * r + 1], s));
  }
  PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
  std::vector<double> us(static_cast<std::size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    float ms = 0;
    PAISPARSE_CUDA_TRY(cudaEventElapsedTime(&ms, ev[2 * r], ev[2 * r + 1]));
    us[static_cast<std::size_t>(r)] = 1e3 * ms;
  }
  for (auto e : ev) cudaEventDestroy(e);
  return paisparse::timing_stats::of(us).median;
}

struct row {
  double sparsity = 0, density = 0;
  double dense_us = 0, sparse_us = 0;
  double dense_lin_us = 0, sparse_lin_us = 0, other_us = 0;
  int dense_kernels = 0, sparse_kernels = 0;
  double dense_bytes = 0, sparse_bytes = 0, nnz = 0;
  double max_rel = 0, l2_rel = 0;
  double check_err[2] = {0, 0};
  double setup_s = 0, tune_s = 0;
  bool ok = true;
};

std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    PAISPARSE_EXPECTS(end != item.c_str() && *end == '\0' && v >= 0 && v < 1,
                      "--sparsity: '" << item << "' is not a number in [0, 1)");
    out.push_back(v);
  }
  PAISPARSE_EXPECTS(!out.empty(), "--sparsity: empty list");
  return out;
}

void usage() {
  std::printf(
      "pruned_decoder: batch-1 token generation through a pruned LLaMA-7B-shaped decoder\n"
      "(hidden 4096, 32 heads x 128, MLP 11008, fp16), linear layers by dense cuBLAS vs\n"
      "paisparse SpMV plans, one token step captured in a CUDA graph.\n\n"
      "  --sparsity S[,S...]  fraction of weights pruned (default 0.9), e.g. 0.5,0.7,0.9,0.95,0.99\n"
      "  --layers N           decoder layers (default 32)\n"
      "  --tokens N           timed graph replays per measurement (default 100)\n"
      "  --budget S           tuning time per distinct layer shape, seconds (default 2)\n"
      "  --filter STR         tune only configurations whose name contains STR (e.g. tA: adaptive)\n"
      "  --seed N             weight seed (default 1)\n"
      "  --overlap MODE       programmatic dependent launch for: all (default), none, plans\n"
      "                       (paisparse's kernels only) or kernels (the attention and SiLU kernels only)\n"
      "  --no-overlap         same as --overlap none\n"
      "  --verbose            print the tuner's tables and a timing breakdown\n");
}

/// Largest |a - b| over largest |b|, and ||a - b|| / ||b||.
std::pair<double, double> compare(const std::vector<T>& a, const std::vector<T>& b) {
  double dmax = 0, bmax = 0, d2 = 0, b2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = __half2float(a[i]), y = __half2float(b[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) return {INFINITY, INFINITY};
    dmax = std::max(dmax, std::fabs(x - y));
    bmax = std::max(bmax, std::fabs(y));
    d2 += (x - y) * (x - y);
    b2 += y * y;
  }
  return {dmax / std::max(bmax, 1e-30), std::sqrt(d2 / std::max(b2, 1e-30))};
}

constexpr double kStateTolerance = 1e-2;  // on max |h_sparse - h_dense| / max |h_dense| after all layers

row run_sparsity(decoder& dec, double sparsity, cudaStream_t stream, paisparse::l2_flusher& flusher) {
  const options& opt = dec.opt;
  row out;
  out.sparsity = sparsity;
  const double density = 1.0 - sparsity;
  const int threads = static_cast<int>(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
  const auto t0 = std::chrono::steady_clock::now();
  auto since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };
  std::printf("\n== sparsity %.2f: %d layers, %d threads generating weights\n", sparsity, dec.layers, threads);
  std::fflush(stdout);

  // 1. Layer 0's weights, one plan tuned per distinct shape.
  std::array<paisparse::host_csr<T>, n_linear> first;
  parallel_for(n_linear, threads, [&](int i) {
    first[i] = make_pruned_weight(kShapes[i].rows, kShapes[i].cols, density, weight_seed(opt.seed, 0, i));
  });
  dec.plans.clear();
  dec.plans.resize(static_cast<std::size_t>(dec.layers));
  std::array<std::string, n_linear> names;
  const auto t_tune = std::chrono::steady_clock::now();
  for (int i = 0; i < n_linear; ++i) {
    paisparse::tune_options to;
    to.index_kinds = {paisparse::index_kind::u16};  // 2-byte indices: 4 bytes per nonzero in fp16
    to.time_budget_s = opt.budget;
    to.filter = opt.filter;
    auto tuned = paisparse::tune_spmv(first[i], to);
    if (opt.verbose) tuned.print(std::cout, 5);
    names[i] = tuned.plan.name();
    const auto& best = tuned.candidates.front();
    std::size_t tried = 0;
    for (const auto& c : tuned.candidates) tried += c.status != paisparse::candidate_status::skipped;
    std::printf("  tuned %-7s %5d x %5d, nnz %9d: %-30s %7.2f us  (%zu of %zu candidates in %.1f s)\n",
                kShapes[i].name, kShapes[i].rows, kShapes[i].cols, first[i].nnz(), names[i].c_str(), best.median_us,
                tried, tuned.candidates.size(), tuned.seconds);
    dec.plans[0][i] = std::move(tuned.plan);
  }
  out.tune_s = since(t_tune);

  // 2. The plans are right: layer 0's qkv (beta 0) and down (beta 1, the
  //    residual path) against a float64 CPU reference.
  {
    const int checks[2] = {qkv_proj, down_proj};
    for (int c = 0; c < 2; ++c) {
      const int i = checks[c];
      const auto& w = first[i];
      std::vector<T> x(static_cast<std::size_t>(w.cols())), y0(static_cast<std::size_t>(w.rows()));
      splitmix64 g{0x5eedull + static_cast<uint64_t>(i)};
      for (auto& e : x) e = __float2half_rn(static_cast<float>(2 * g.unit() - 1));
      for (auto& e : y0) e = __float2half_rn(static_cast<float>(2 * g.unit() - 1));
      const float beta = i == down_proj ? 1.f : 0.f;
      paisparse::device_buffer<T> dx(x), dy(y0);
      dec.plans[0][i].run({dx.data(), dx.size()}, {dy.data(), dy.size()}, paisparse::epilog_params<T>{1.f, beta}, stream);
      PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
      const auto ref = paisparse::spmv_reference(w, x, 1.0, beta, &y0);
      out.check_err[c] = paisparse::relative_error(dy.to_host(), ref);
      const bool ok = out.check_err[c] <= paisparse::relative_tolerance<T>();
      out.ok = out.ok && ok;
      std::printf("  check %-7s layer 0 (%s) vs float64 CPU reference: relative error %.2e (tolerance %.0e) %s\n",
                  kShapes[i].name, beta != 0 ? "y = W x + y" : "y = W x", out.check_err[c],
                  paisparse::relative_tolerance<T>(), ok ? "ok" : "FAILED");
    }
  }

  // 3. Every other layer: generate, build its plan from the tuned configuration's
  //    name, and write the same pruned weight dense for cuBLAS.
  for (auto& d : dec.dense) PAISPARSE_CUDA_TRY(cudaMemset(d.data(), 0, d.size() * sizeof(T)));
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  std::atomic<int64_t> nnz{0};
  parallel_for(dec.layers * n_linear, threads, [&](int job) {
    const int l = job / n_linear, i = job % n_linear;
    paisparse::host_csr<T> generated;
    if (l > 0) generated = make_pruned_weight(kShapes[i].rows, kShapes[i].cols, density, weight_seed(opt.seed, l, i));
    const paisparse::host_csr<T>& w = l > 0 ? generated : first[i];
    if (l > 0) dec.plans[l][i] = paisparse::spmv_plan<T>(w, names[i]);
    nnz += w.nnz();
    cudaStream_t s;
    PAISPARSE_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    paisparse::device_buffer<int32_t> off(w.row_offsets()), col(w.col_indices());
    paisparse::device_buffer<T> val(w.values());
    const int64_t threads_needed = static_cast<int64_t>(w.rows()) * 32;
    scatter_to_dense_kernel<<<static_cast<unsigned>((threads_needed + 255) / 256), 256, 0, s>>>(
        off.data(), col.data(), val.data(), w.rows(), w.cols(), dec.dense_weight(l, i));
    PAISPARSE_CUDA_CHECK_LAST();
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
    PAISPARSE_CUDA_TRY(cudaStreamDestroy(s));
  });
  for (auto& lp : dec.plans)
    for (auto& p : lp) {
      p.set_overlap(opt.overlap_plans);
      out.sparse_bytes += static_cast<double>(p.weight_bytes());
    }
  for (int i = 0; i < n_linear; ++i)
    out.dense_bytes += static_cast<double>(dec.layers) * kShapes[i].rows * kShapes[i].cols * sizeof(T);
  out.nnz = static_cast<double>(nnz.load());
  double total = 0;
  for (const auto& sh : kShapes) total += static_cast<double>(sh.rows) * sh.cols;
  out.density = out.nnz / (total * dec.layers);
  out.setup_s = since(t0);
  std::printf("  weights: %.3g nonzeros (density %.4f), built in %.1f s (tuning %.1f s)\n", out.nnz, out.density,
              out.setup_s, out.tune_s);

  // 4. Capture one token step per variant, and the linear-only / rest-only parts.
  graph full[2], lin_only[2], rest_only;
  const variant vs[2] = {variant::dense, variant::sparse};
  for (int k = 0; k < 2; ++k) {
    capture(full[k], stream, [&](cudaStream_t s) { dec.step(vs[k], s); });
    capture(lin_only[k], stream, [&](cudaStream_t s) { dec.step(vs[k], s, linear_parts); });
  }
  capture(rest_only, stream, [&](cudaStream_t s) { dec.step(variant::sparse, s, other_parts); });
  out.dense_kernels = full[0].kernels;
  out.sparse_kernels = full[1].kernels;

  // 5. Same final hidden state?
  PAISPARSE_CUDA_TRY(cudaMemsetAsync(dec.act_dense.h.data(), 0xff, kHidden * sizeof(T), stream));
  PAISPARSE_CUDA_TRY(cudaMemsetAsync(dec.act_sparse.h.data(), 0xff, kHidden * sizeof(T), stream));
  PAISPARSE_CUDA_TRY(cudaGraphLaunch(full[0].exec, stream));
  PAISPARSE_CUDA_TRY(cudaGraphLaunch(full[1].exec, stream));
  PAISPARSE_CUDA_TRY(cudaStreamSynchronize(stream));
  const auto hd = dec.act_dense.h.to_host(), hs = dec.act_sparse.h.to_host();
  std::tie(out.max_rel, out.l2_rel) = compare(hs, hd);
  double rms = 0;
  for (const T v : hd) rms += static_cast<double>(__half2float(v)) * __half2float(v);
  rms = std::sqrt(rms / kHidden);
  const bool same = out.max_rel <= kStateTolerance;
  out.ok = out.ok && same;
  std::printf("  final hidden state (rms %.3g): paisparse vs cuBLAS max|diff|/max|h| %.2e, ||diff||/||h|| %.2e "
              "(tolerance %.0e) %s\n",
              rms, out.max_rel, out.l2_rel, kStateTolerance, same ? "ok" : "FAILED");

  // 6. Time the replays.
  out.dense_us = time_replays(full[0], stream, opt.tokens, flusher);
  out.sparse_us = time_replays(full[1], stream, opt.tokens, flusher);
  out.dense_lin_us = time_replays(lin_only[0], stream, opt.tokens, flusher);
  out.sparse_lin_us = time_replays(lin_only[1], stream, opt.tokens, flusher);
  out.other_us = time_replays(rest_only, stream, opt.tokens, flusher);
  std::printf("  per token: cuBLAS %.1f us (%d kernels), paisparse %.1f us (%d kernels) -> %.2fx\n", out.dense_us,
              out.dense_kernels, out.sparse_us, out.sparse_kernels, out.dense_us / out.sparse_us);
  std::printf("  parts alone: linear layers cuBLAS %.1f us, paisparse %.1f us; attention + gated SiLU %.1f us (%d kernels)\n",
              out.dense_lin_us, out.sparse_lin_us, out.other_us, rest_only.kernels);
  if (opt.verbose) {  // each kind of kernel alone, replayed back to back over all layers
    std::printf("  each kind alone, us per kernel (graph of %d of them):\n", dec.layers);
    for (int i = 0; i < n_linear; ++i) {
      double us[2];
      for (int k = 0; k < 2; ++k) {
        graph g;
        capture(g, stream, [&](cudaStream_t s) { dec.step(vs[k], s, 1u << i); });
        us[k] = time_replays(g, stream, opt.tokens, flusher) / dec.layers;
      }
      std::printf("    %-12s cuBLAS %8.2f  paisparse %8.2f\n", kShapes[i].name, us[0], us[1]);
    }
    const std::pair<const char*, unsigned> small[2] = {{"attention", part_attention}, {"gated SiLU", part_gated_silu}};
    for (const auto& item : small) {
      graph g;
      capture(g, stream, [&](cudaStream_t s) { dec.step(variant::sparse, s, item.second); });
      std::printf("    %-12s %8.2f\n", item.first, time_replays(g, stream, opt.tokens, flusher) / dec.layers);
    }
  }
  std::fflush(stdout);
  dec.plans.clear();
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  options opt;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    auto value = [&]() -> std::string {
      PAISPARSE_EXPECTS(a + 1 < argc, arg << " needs a value (see --help)");
      return argv[++a];
    };
    if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else if (arg == "--sparsity") {
      opt.sparsities = parse_list(value());
    } else if (arg == "--layers") {
      opt.layers = std::atoi(value().c_str());
      PAISPARSE_EXPECTS(opt.layers >= 1, "--layers: expected >= 1");
    } else if (arg == "--tokens") {
      opt.tokens = std::atoi(value().c_str());
      PAISPARSE_EXPECTS(opt.tokens >= 1, "--tokens: expected >= 1");
    } else if (arg == "--budget") {
      opt.budget = std::atof(value().c_str());
      PAISPARSE_EXPECTS(opt.budget > 0, "--budget: expected seconds > 0");
    } else if (arg == "--filter") {
      opt.filter = value();
    } else if (arg == "--seed") {
      opt.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--overlap") {
      const std::string m = value();
      PAISPARSE_EXPECTS(m == "all" || m == "none" || m == "plans" || m == "kernels",
                        "--overlap: '" << m << "', expected all, none, plans or kernels");
      opt.overlap_plans = m == "all" || m == "plans";
      opt.overlap_kernels = m == "all" || m == "kernels";
    } else if (arg == "--no-overlap") {
      opt.overlap_plans = opt.overlap_kernels = false;
    } else if (arg == "--verbose") {
      opt.verbose = true;
    } else {
      PAISPARSE_FAIL("unknown argument '" << arg << "' (see --help)");
    }
  }
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::printf("pruned_decoder needs a CUDA GPU; none found (skipped).\n");
    return 77;
  }
  cudaDeviceProp prop{};
  PAISPARSE_CUDA_TRY(cudaGetDeviceProperties(&prop, 0));
  std::printf("pruned_decoder on %s: %d layers (hidden %d, %d heads x %d, MLP %d), fp16, KV cache of %d past positions,\n"
              "graph replays timed: %d per measurement, L2 flushed before each; programmatic dependent launch: plans %s, "
              "other kernels %s\n",
              prop.name, opt.layers, kHidden, kHeads, kHeadDim, kMlp, kPast, opt.tokens, opt.overlap_plans ? "on" : "off",
              opt.overlap_kernels ? "on" : "off");

  decoder dec(opt);
  cudaStream_t stream;
  PAISPARSE_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  paisparse::l2_flusher flusher;
  std::vector<row> rows;
  for (const double s : opt.sparsities) rows.push_back(run_sparsity(dec, s, stream, flusher));

  std::printf("\n%8s %12s %12s %8s %10s %10s %9s %9s %7s %12s\n", "sparsity", "dense us/tok", "paisp us/tok",
              "speedup", "dense t/s", "paisp t/s", "dense GB", "paisp GB", "B/nnz", "max rel diff");
  bool ok = true;
  for (const row& r : rows) {
    std::printf("%8.2f %12.1f %12.1f %7.2fx %10.1f %10.1f %9.2f %9.3f %7.2f %12.2e%s\n", r.sparsity, r.dense_us,
                r.sparse_us, r.dense_us / r.sparse_us, 1e6 / r.dense_us, 1e6 / r.sparse_us, r.dense_bytes / 1e9,
                r.sparse_bytes / 1e9, r.sparse_bytes / std::max(1.0, r.nnz), r.max_rel, r.ok ? "" : "  FAILED");
    ok = ok && r.ok;
  }
  std::printf("(max rel diff: max |h_paisparse - h_cublas| / max |h_cublas| of the final hidden state, tolerance %.0e)\n",
              kStateTolerance);
  std::printf("\nwhere the time goes (us per token; each part captured and replayed alone):\n");
  std::printf("%8s %14s %14s %14s %14s %16s %8s\n", "sparsity", "dense kernels", "paisp kernels", "dense linear",
              "paisp linear", "attn+gated SiLU", "setup s");
  for (const row& r : rows)
    std::printf("%8.2f %14d %14d %14.1f %14.1f %16.1f %8.1f\n", r.sparsity, r.dense_kernels, r.sparse_kernels,
                r.dense_lin_us, r.sparse_lin_us, r.other_us, r.setup_s);
  cudaStreamDestroy(stream);
  return ok ? 0 : 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "pruned_decoder: %s\n", e.what());
  return 1;
}
