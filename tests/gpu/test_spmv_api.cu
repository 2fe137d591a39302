// GPU tests: epilog (alpha, beta, bias, activations), plans by name, graph
// capture, repeated runs of split rows, the tuner, and bad input.
#include "../expect_error.hpp"
#include "common.cuh"

using namespace ptest;

namespace {

// A few configurations covering each reduction stage, split rows and panels.
std::vector<std::string> epilog_configs() {
  return {"b256.t1.r1.v16.u1.u16.c0.ro", "b256.t8.r1.v16.u2.u16.c64.lf", "b128.t32.r1.v8.u1.i32.c0.lf",
          "b256.t128.r1.v16.u2.i32.c256.lf", "b128.t64.r1.v16.u1.u16.c128.ro", "b256.t4.r4.v16.u1.u16.c32.lf",
          "b128.t1.r2.v8.u2.i32.c0.ro", "b256.tA2.r1.v16.u1.u16.c0.lf", "b128.tA1.r1.v8.u2.i32.c2048.lf"};
}

}  // namespace

template <class T>
class SpmvApi : public ::testing::Test {};
using value_types = ::testing::Types<float, __half, __nv_bfloat16>;
TYPED_TEST_SUITE(SpmvApi, value_types);

TYPED_TEST(SpmvApi, EpilogAlphaBetaBiasActivation) {
  using T = TypeParam;
  uint64_t seed = 77;
  for (const auto& m : matrix_set()) {
    if (m.name.rfind("K65537", 0) == 0) continue;  // covered by candidates
    const host_csr<T> w = convert_values<T>(m.w);
    for (const auto& name : epilog_configs()) {
      spmv_plan<T> plan(w, name);
      device_vectors<T> d(w.rows(), w.cols());
      device_buffer<T> dbias(static_cast<std::size_t>(w.rows()));
      for (activation act : {activation::none, activation::relu, activation::gelu, activation::silu}) {
        for (float beta : {0.f, 0.75f}) {
          const auto x = detail::random_vector<T>(w.cols(), seed++);
          const auto y0 = detail::random_vector<T>(w.rows(), seed++);
          const auto bias = detail::random_vector<T>(w.rows(), seed++);
          upload(d.x, x);
          if (beta != 0.f) upload(d.y, y0);
          else poison(d.y);
          upload(dbias, bias);
          const float alpha = -1.5f;
          plan.run({d.x.data(), d.x.size()}, {d.y.data(), d.y.size()},
                   epilog_params<T>{alpha, beta, w.rows() ? dbias.data() : nullptr, act});
          const auto out = d.y.to_host();
          const auto ref = spmv_reference(w, x, alpha, beta, &y0, &bias, act);
          EXPECT_LE(relative_error(out, ref), relative_tolerance<T>())
              << m.name << " " << name << " act " << to_string(act) << " beta " << beta;
        }
      }
    }
  }
}

TYPED_TEST(SpmvApi, RepeatedRunsAndGraphReplayWithSplitRows) {
  using T = TypeParam;
  const host_csr<T> w =
      convert_values<T>(random_csr<float>(3000, 4000, 0.02, row_distribution::lognormal, 1.5, 9));
  spmv_plan<T> plan(w, "b256.t8.r1.v16.u1.u16.c64.lf");
  ASSERT_GT(plan.schedule().split_rows(), 0);
  device_vectors<T> d(w.rows(), w.cols());
  cudaStream_t s;
  PAISPARSE_CUDA_TRY(cudaStreamCreate(&s));
  // capture once
  cudaGraph_t g;
  cudaGraphExec_t ge;
  PAISPARSE_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  plan.run({d.x.data(), d.x.size()}, {d.y.data(), d.y.size()}, {}, s);
  PAISPARSE_CUDA_TRY(cudaStreamEndCapture(s, &g));
  PAISPARSE_CUDA_TRY(cudaGraphInstantiate(&ge, g, 0));
  for (int it = 0; it < 4; ++it) {  // fresh x each replay; workspace must reset between launches
    const auto x = detail::random_vector<T>(w.cols(), 300 + it);
    upload(d.x, x);
    poison(d.y);
    if (it % 2) PAISPARSE_CUDA_TRY(cudaGraphLaunch(ge, s));
    else plan.run({d.x.data(), d.x.size()}, {d.y.data(), d.y.size()}, {}, s);
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
    EXPECT_LE(relative_error(d.y.to_host(), spmv_reference(w, x)), relative_tolerance<T>()) << "iteration " << it;
  }
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

TYPED_TEST(SpmvApi, TunerReturnsACheckedPlanAndTheWholeTable) {
  using T = TypeParam;
  const host_csr<T> w =
      convert_values<T>(random_csr<float>(4096, 4096, 0.01, row_distribution::lognormal, 0.8, 12));
  tune_options opt;
  opt.reps = 3;
  int progress_calls = 0;
  opt.on_progress = [&](int, int, const std::string&) { ++progress_calls; };
  auto res = tune_spmv(w, opt);
  const auto space = spmv_space(sizeof(T), compute_row_stats(w), detail::resident_threads());
  EXPECT_EQ(res.candidates.size(), space.size());
  EXPECT_GT(progress_calls, 0);
  EXPECT_FALSE(res.budget_exhausted);
  EXPECT_EQ(res.candidates[0].config, res.plan.config());
  EXPECT_EQ(res.candidates[0].status, candidate_status::ok);
  for (std::size_t i = 1; i < res.candidates.size(); ++i) {
    EXPECT_NE(res.candidates[i].status, candidate_status::wrong) << res.candidates[i].config.name();
    if (res.candidates[i].status == candidate_status::ok)
      EXPECT_GE(res.candidates[i].median_us, res.candidates[0].median_us);
  }
  std::ostringstream table;
  res.print(table, 5);
  EXPECT_NE(table.str().find(res.plan.name()), std::string::npos);
  device_vectors<T> d(w.rows(), w.cols());
  const auto x = detail::random_vector<T>(w.cols(), 4242);
  upload(d.x, x);
  poison(d.y);
  res.plan.run({d.x.data(), d.x.size()}, {d.y.data(), d.y.size()});
  EXPECT_LE(relative_error(d.y.to_host(), spmv_reference(w, x)), relative_tolerance<T>());
}

TEST(SpmvTuner, TimeBudgetStopsEarlyAndSaysSo) {
  const auto w = random_csr<float>(2048, 2048, 0.01, row_distribution::lognormal, 0.8, 13);
  tune_options opt;
  opt.time_budget_s = 1e-6;
  auto res = tune_spmv(w, opt);
  EXPECT_TRUE(res.budget_exhausted);
  int skipped = 0;
  for (const auto& c : res.candidates) skipped += c.status == candidate_status::skipped;
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(res.candidates[0].status, candidate_status::ok);  // one winner always
  std::ostringstream table;
  res.print(table);
  EXPECT_NE(table.str().find("time budget reached"), std::string::npos);
}

TEST(SpmvTuner, FilterAndIndexKinds) {
  const auto w = random_csr<__half>(1024, 1024, 0.05, row_distribution::uniform, 0, 14);
  tune_options opt;
  opt.index_kinds = {index_kind::i32};
  opt.filter = ".t8.";
  opt.reps = 2;
  auto res = tune_spmv(w, opt);
  for (const auto& c : res.candidates) {
    EXPECT_EQ(c.config.kernel.index, index_kind::i32);
    EXPECT_EQ(c.config.kernel.row_threads, 8);
  }
  opt.filter = "no-such-config";
  expect_error([&] { tune_spmv(w, opt); }, {"no configuration matches"});
}

TEST(SpmvBadInput, RunArgumentsAreChecked) {
  const auto w = random_csr<float>(100, 80, 0.1, row_distribution::uniform, 0, 15);
  spmv_plan<float> plan(w, "b256.t8.r1.v16.u1.u16.c0.lf");
  device_buffer<float> x(80), y(100), big(200);
  expect_error([&] { plan.run({x.data(), 79}, {y.data(), 100}); }, {"x has 79 elements", "80 columns"});
  expect_error([&] { plan.run({x.data(), 80}, {y.data(), 99}); }, {"y has 99 elements", "100 rows"});
  expect_error([&] { plan.run({static_cast<const float*>(nullptr), 80}, {y.data(), 100}); }, {"x is null"});
  expect_error([&] { plan.run({x.data(), 80}, {static_cast<float*>(nullptr), 100}); }, {"y is null"});
  expect_error([&] { plan.run({big.data(), 80}, {big.data() + 50, 100}); }, {"overlap"});
  spmv_plan<float> empty;
  expect_error([&] { empty.run({x.data(), 80}, {y.data(), 100}); }, {"plan is empty"});
}

TEST(SpmvBadInput, PlanShapeAndConfigNames) {
  const auto w = random_csr<float>(100, 80, 0.1, row_distribution::uniform, 0, 16);
  spmv_plan<float> plan(w, "b256.t8.r1.v16.u1.i32.c0.lf");
  const auto other = random_csr<float>(100, 81, 0.1, row_distribution::uniform, 0, 17);
  expect_error([&] { plan.rebind(other); }, {"tuned for a 100 x 80 weight", "got 100 x 81"});
  EXPECT_NO_THROW(plan.rebind(random_csr<float>(100, 80, 0.2, row_distribution::uniform, 0, 18)));
  expect_error([&] { spmv_plan<float>(w, "b256.t8.r1.v16.u1.i32.c0"); }, {"expected 8 dot-separated fields"});
  expect_error([&] { spmv_plan<float>(w, "b256.t3.r1.v16.u1.i32.c0.lf"); }, {"does not divide into teams of 3"});
  expect_error([&] { spmv_plan<float>(w, "b256.t8.r1.v4.u1.i32.c0.lf"); }, {"not compiled in"});
}

TEST(SpmvEdge, ZeroRowsAndZeroColumns) {
  host_csr<float> w0(0, 10, {0}, {}, {});
  spmv_plan<float> p0(w0, "b256.t8.r1.v16.u1.u16.c0.lf");
  device_buffer<float> x(10);
  p0.run({x.data(), 10}, {static_cast<float*>(nullptr), 0});  // nothing to do
  host_csr<float> wk(5, 0, {0, 0, 0, 0, 0, 0}, {}, {});
  spmv_plan<float> pk(wk, "b256.t8.r1.v16.u1.u16.c0.lf");
  device_buffer<float> y(5), bias(5);
  const std::vector<float> b{1, -2, 3, -4, 5};
  upload(bias, b);
  poison(y);
  pk.run({static_cast<const float*>(nullptr), 0}, {y.data(), 5}, {1.f, 0.f, bias.data(), activation::relu});
  EXPECT_EQ(y.to_host(), (std::vector<float>{1, 0, 3, 0, 5}));
}

TYPED_TEST(SpmvApi, ChainedRunsWithOverlapReadCompletedInputs) {
  // y1 = W x, y2 = W y1, y3 = W y2 back to back on one stream, launched with
  // programmatic dependent launch: each run must see its predecessor's whole
  // output. Each stage is checked against W times the downloaded input.
  using T = TypeParam;
  const host_csr<T> w =
      convert_values<T>(random_csr<float>(20000, 20000, 0.002, row_distribution::lognormal, 1.0, 31));
  for (const char* name : {"b256.tA2.r1.v16.u1.u16.c0.lf", "b256.t8.r1.v16.u1.u16.c64.lf", "b128.t32.r1.v8.u2.i32.c0.ro"}) {
    spmv_plan<T> plan(w, name);
    ASSERT_TRUE(plan.overlap());
    std::vector<device_buffer<T>> v;
    for (int i = 0; i < 4; ++i) v.emplace_back(static_cast<std::size_t>(w.rows()));
    const auto x = detail::random_vector<T>(w.cols(), 32);
    for (int i = 0; i < 4; ++i) poison(v[i]);
    PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());  // the poison runs on the legacy stream
    cudaStream_t s;
    PAISPARSE_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    // x arrives by a copy in the same stream right before the first run
    PAISPARSE_CUDA_TRY(cudaMemcpyAsync(v[0].data(), x.data(), x.size() * sizeof(T), cudaMemcpyHostToDevice, s));
    for (int i = 0; i < 3; ++i)
      plan.run({v[i].data(), v[i].size()}, {v[i + 1].data(), v[i + 1].size()}, {0.5f, 0.f, nullptr, activation::none}, s);
    PAISPARSE_CUDA_TRY(cudaStreamSynchronize(s));
    cudaStreamDestroy(s);
    for (int i = 0; i < 3; ++i) {
      const auto in = v[i].to_host();
      EXPECT_LE(relative_error(v[i + 1].to_host(), spmv_reference(w, in, 0.5)), relative_tolerance<T>())
          << name << " stage " << i + 1;
    }
  }
}
