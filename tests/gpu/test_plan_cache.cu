// GPU tests of plan files and the plan cache: tune a small weight with a
// short time budget, save, load (through the cache: a hit), check the loaded
// plan's output against the float64 reference (fresh random inputs, poisoned
// outputs), and check that a file made for another GPU, library version,
// weight, value type, N or layout is refused (or retuned when asked).
#include <gtest/gtest.h>

#include <paisparse/paisparse.cuh>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "../expect_error.hpp"
#include "common.cuh"

namespace {

using namespace paisparse;
namespace fs = std::filesystem;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("paisparse-plan-gpu-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

tune_options quick() {
  tune_options o;
  o.time_budget_s = 0.25;
  o.reps = 3;
  o.warmup = 1;
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

/// `text` with the value of the string field `field` replaced by `value`.
std::string set_string_field(const std::string& text, const std::string& field, const std::string& value) {
  const std::string key = "\"" + field + "\": \"";
  const std::size_t p = text.find(key);
  EXPECT_NE(p, std::string::npos) << field;
  const std::size_t b = p + key.size(), e = text.find('"', b);
  return text.substr(0, b) + value + text.substr(e);
}

template <class T>
void expect_spmv_correct(const spmv_plan<T>& plan, const host_csr<T>& w, uint64_t seed) {
  const std::vector<T> x = detail::random_vector<T>(static_cast<std::size_t>(w.cols()), seed);
  device_buffer<T> dx(x), dy(static_cast<std::size_t>(w.rows()));
  ptest::poison(dy);
  plan.run({dx.data(), dx.size()}, {dy.data(), dy.size()});
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  EXPECT_LE(relative_error(dy.to_host(), spmv_reference(w, x)), relative_tolerance<T>()) << plan.name();
}

template <class T>
void expect_spmm_correct(const spmm_plan<T>& plan, const host_csr<T>& w, int32_t n, spmm_layouts l, uint64_t seed) {
  const int64_t K = w.cols(), M = w.rows();
  const int64_t ldb = l.b == dense_layout::row_major ? n : K, ldc = l.c == dense_layout::row_major ? n : M;
  const std::vector<T> b = detail::random_vector<T>(static_cast<std::size_t>(dense_extent(K, n, ldb, l.b)), seed);
  device_buffer<T> db(b), dc(static_cast<std::size_t>(dense_extent(M, n, ldc, l.c)));
  ptest::poison(dc);
  plan.run(dense_view<const T>(db.data(), db.size(), ldb, l.b), dense_view<T>(dc.data(), dc.size(), ldc, l.c), n);
  PAISPARSE_CUDA_TRY(cudaDeviceSynchronize());
  const reference_result ref = spmm_reference(w, host_dense_ref<T>{&b, l.b, ldb}, n);
  EXPECT_LE(relative_error(compact_row_major(dc.to_host(), M, n, ldc, l.c), ref), relative_tolerance<T>())
      << plan.name();
}

host_csr<float> small_weight(uint64_t seed) {
  return random_csr<float>(1000, 777, 0.05, row_distribution::lognormal, 0.8, seed);
}

}  // namespace

TEST(PlanCache, SpmvTunesOnceThenLoads) {
  temp_dir d;
  const host_csr<__half> w = convert_values<__half>(small_weight(31));
  std::string tuned_name, path;
  {
    plan_cache cache(d.path.string());
    const spmv_plan<__half> p = cache.spmv(w, quick());
    EXPECT_FALSE(cache.last().hit);
    EXPECT_EQ(cache.last().reason, "no plan file");
    path = cache.last().path;
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(fs::path(path).filename().string(), plan_file_name(spmv_plan_key(w, current_gpu_identity())));
    EXPECT_EQ(cache.last().record.config, p.name());
    EXPECT_GT(cache.last().record.info.median_us, 0);
    tuned_name = p.name();
    expect_spmv_correct(p, w, 1);
  }
  plan_cache again(d.path.string());  // "the next start"
  const spmv_plan<__half> q = again.spmv(w, quick());
  EXPECT_TRUE(again.last().hit);
  EXPECT_EQ(again.last().path, path);
  EXPECT_EQ(q.name(), tuned_name);
  expect_spmv_correct(q, w, 2);
  const plan_record rec = read_plan_file(path);
  EXPECT_EQ(rec.key.gpu.name, current_gpu_identity().name);
  EXPECT_EQ(rec.key.library_version, PAISPARSE_VERSION_STRING);
  EXPECT_FALSE(rec.info.tuned_at.empty());
  int files = 0;
  for (const auto& e : fs::directory_iterator(d.path)) ++files, (void)e;
  EXPECT_EQ(files, 1) << "one plan file, no temporary left behind";
}

TEST(PlanCache, SpmmTunesOnceThenLoadsPerNAndLayout) {
  temp_dir d;
  const host_csr<float> w = small_weight(32);
  const spmm_layouts col{dense_layout::col_major, dense_layout::col_major};
  const spmm_layouts row{dense_layout::row_major, dense_layout::row_major};
  plan_cache cache(d.path.string());
  const spmm_plan<float> a = cache.spmm(w, 8, col, quick());
  EXPECT_FALSE(cache.last().hit);
  const spmm_plan<float> b = cache.spmm(w, 8, row, quick());
  EXPECT_FALSE(cache.last().hit) << "another layout is another key";
  const spmm_plan<float> c = cache.spmm(w, 16, col, quick());
  EXPECT_FALSE(cache.last().hit) << "another N is another key";
  const spmm_plan<float> a2 = cache.spmm(w, 8, col, quick());
  EXPECT_TRUE(cache.last().hit);
  EXPECT_EQ(a2.name(), a.name());
  EXPECT_EQ(a2.max_n(), 8);
  const spmm_plan<float> b2 = cache.spmm(w, 8, row, quick());
  EXPECT_TRUE(cache.last().hit);
  EXPECT_EQ(b2.name(), b.name());
  expect_spmm_correct(a2, w, 8, col, 3);
  expect_spmm_correct(a2, w, 5, col, 4);  // any N up to max_n
  expect_spmm_correct(b2, w, 8, row, 5);
  expect_spmm_correct(c, w, 16, col, 6);
}

TEST(PlanFile, SaveLoadAndRefuseAnotherSetting) {
  temp_dir d;
  const host_csr<__nv_bfloat16> w = convert_values<__nv_bfloat16>(small_weight(33));
  const std::string path = d.file("ffn.plan.json");
  const spmv_tune_result<__nv_bfloat16> tuned = tune_spmv(w, quick());
  const plan_record saved = save_spmv_plan(path, w, tuned);
  EXPECT_EQ(saved.config, tuned.plan.name());

  const spmv_plan<__nv_bfloat16> loaded = load_spmv_plan(path, w);
  EXPECT_EQ(loaded.name(), tuned.plan.name());
  expect_spmv_correct(loaded, w, 7);

  const std::string gpu = current_gpu_identity().name;
  const std::string text = slurp(path);
  // another GPU
  spit(path, set_string_field(text, "gpu_name", "Tampered GPU"));
  expect_error([&] { load_spmv_plan(path, w); },
               {"ffn.plan.json", "not reused", "gpu_name: the file has 'Tampered GPU', this run has '", gpu.c_str()});
  // another library version
  spit(path, set_string_field(text, "library_version", "0.0.1"));
  expect_error([&] { load_spmv_plan(path, w); },
               {"library_version: the file has '0.0.1', this run has '" PAISPARSE_VERSION_STRING "'"});
  // another compute capability
  spit(path, set_string_field(text, "compute_capability", "7.5"));
  expect_error([&] { load_spmv_plan(path, w); }, {"compute_capability: the file has '7.5'"});
  spit(path, text);
  // new values on the same pattern, another value type
  auto w2 = small_weight(33);
  std::vector<float> v = w2.values();
  v[0] += 0.5f;
  const host_csr<__nv_bfloat16> changed =
      convert_values<__nv_bfloat16>(host_csr<float>(w2.rows(), w2.cols(), w2.row_offsets(), w2.col_indices(), v));
  expect_error([&] { load_spmv_plan(path, changed); }, {"values_hash: the file has '0x"});
  expect_error([&] { load_spmv_plan(path, convert_values<float>(changed)); },
               {"value_type: the file has 'bf16', this run has 'fp32'"});
  expect_error([&] { load_spmv_plan(d.file("missing.json"), w); }, {"missing.json", "no such plan file"});

  // retune instead of refusing: the file is rewritten for this setting
  spit(path, set_string_field(text, "gpu_name", "Tampered GPU"));
  plan_lookup how;
  const spmv_plan<__nv_bfloat16> retuned = open_spmv_plan(path, w, on_key_mismatch::retune, quick(), &how);
  EXPECT_FALSE(how.hit);
  EXPECT_NE(how.reason.find("gpu_name: the file has 'Tampered GPU'"), std::string::npos) << how.reason;
  EXPECT_EQ(read_plan_file(path).key.gpu.name, gpu);
  expect_spmv_correct(retuned, w, 8);
  const spmv_plan<__nv_bfloat16> reloaded = open_spmv_plan(path, w, on_key_mismatch::retune, quick(), &how);
  EXPECT_TRUE(how.hit);
  EXPECT_EQ(reloaded.name(), retuned.name());
}

TEST(PlanFile, SpmmKeyHoldsMaxNAndLayouts) {
  temp_dir d;
  const host_csr<__half> w = convert_values<__half>(small_weight(34));
  const std::string path = d.file("spmm.json");
  const spmm_layouts col{};
  save_spmm_plan(path, w, tune_spmm(w, 8, col, quick()));
  const spmm_plan<__half> p = load_spmm_plan(path, w, 8, col);
  EXPECT_EQ(p.max_n(), 8);
  expect_spmm_correct(p, w, 8, col, 9);
  expect_error([&] { load_spmm_plan(path, w, 16, col); }, {"max_n: the file has '8', this run has '16'"});
  expect_error([&] { load_spmm_plan(path, w, 8, {dense_layout::row_major, dense_layout::col_major}); },
               {"b_layout: the file has 'col_major', this run has 'row_major'"});
  expect_error([&] { load_spmv_plan(path, w); }, {"operation: the file has 'spmm', this run has 'spmv'"});
}

TEST(PlanCache, TamperedFilesAreRefusedOrRetunedByPolicy) {
  temp_dir d;
  const host_csr<float> w = small_weight(35);
  std::string path;
  {
    plan_cache cache(d.path.string());
    cache.spmv(w, quick());
    path = cache.last().path;
  }
  const std::string text = slurp(path);
  spit(path, set_string_field(text, "library_version", "9.9.9"));
  plan_cache strict(d.path.string(), on_key_mismatch::refuse);
  expect_error([&] { strict.spmv(w, quick()); },
               {fs::path(path).filename().string().c_str(), "library_version: the file has '9.9.9'"});
  plan_cache lenient(d.path.string());  // retune by default
  const spmv_plan<float> p = lenient.spmv(w, quick());
  EXPECT_FALSE(lenient.last().hit);
  EXPECT_NE(lenient.last().reason.find("library_version"), std::string::npos);
  expect_spmv_correct(p, w, 10);
  EXPECT_TRUE((strict.spmv(w, quick()), strict.last().hit)) << "the retuned file is valid again";

  // a configuration this program cannot build counts as a mismatch
  spit(path, set_string_field(text, "config", "b512.t8.r1.v16.u1.u16.c0.lf"));
  expect_error([&] { strict.spmv(w, quick()); }, {"b512.t8.r1.v16.u1.u16.c0.lf", "cannot be built"});
  lenient.spmv(w, quick());
  EXPECT_FALSE(lenient.last().hit);
  EXPECT_NE(lenient.last().reason.find("cannot be built"), std::string::npos) << lenient.last().reason;

  // a malformed file is an error whatever the policy (file, line, column)
  spit(path, text.substr(0, text.size() / 2));
  expect_error([&] { lenient.spmv(w, quick()); }, {fs::path(path).filename().string().c_str(), ": line ", "column"});
}
