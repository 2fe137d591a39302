// paisparse_bench: SpMV and SpMM of pruned weights, paisparse (tuned) vs
// cuSPARSE CSR vs dense cuBLAS, on synthetic LLM-shaped weights and DLMC matrices.
//
// Benchmarks are registered without touching CUDA, so --help and
// --benchmark_list_tests work on a machine without a GPU; running without a
// GPU prints why and exits 0. See bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "device.hpp"
#include "options.hpp"
#include "spmm_case.hpp"
#include "spmv_case.hpp"
#include "summary.hpp"

namespace {

void print_help() {
  paisparse::bench::print_usage(std::cout);
  benchmark::PrintDefaultHelp();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace paisparse::bench;
  bench_options opt;
  std::vector<case_spec> cases;
  try {
    opt = parse_options(argc, argv);
    if (!opt.help) cases = build_cases(opt);
  } catch (const std::exception& e) {
    std::cerr << "paisparse_bench: " << e.what() << "\n(see paisparse_bench --help)\n";
    return 2;
  }
  if (!opt.help && cases.empty())
    std::cerr << "paisparse_bench: no case selected (--set=none without --dlmc or --matrix?)\n";
  // Cases live until the end of main; the registered lambdas refer to them.
  for (const case_spec& c : cases) {
    benchmark::RegisterBenchmark(c.name.c_str(),
                                 [&c, &opt](benchmark::State& state) {
                                   if (c.is_spmm()) run_spmm_case(state, c, opt);
                                   else run_spmv_case(state, c, opt);
                                 })
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMicrosecond);
  }

  benchmark::Initialize(&argc, argv, print_help);  // --help prints and exits here
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  if (!opt.list_only) {
    std::string why;
    if (!cuda_device_available(&why)) {
      std::cout << "paisparse_bench: no usable CUDA device (" << why << "); skipping all " << cases.size()
                << " benchmark(s)\n";
      benchmark::Shutdown();
      return 0;
    }
  }

  benchmark::RunSpecifiedBenchmarks();
  if (!opt.list_only) {
    const bench_device* dev = bench_device::peek();
    const double copy_gbps = dev ? dev->info().copy_gbps : 0.0;
    print_summary(opt.summary_to_stderr ? std::cerr : std::cout, copy_gbps);
    bench_device::shutdown();
  }
  benchmark::Shutdown();
  return 0;
}
