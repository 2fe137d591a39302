// CPU tests: plan files (tuning/plan_file.hpp) and the version header.
//
// Round trips (text and files, SpMV and SpMM), the key comparison for every
// key field, the fingerprint's sensitivity, cache file names, atomic writes,
// and malformed files: every truncation of a valid file, bad JSON, each
// missing field, wrong types and ranges, unknown and repeated fields, bad
// hashes and configuration names, and a randomized corruption test (every
// outcome a record or a paisparse::error naming the file, line and column).
#include <gtest/gtest.h>

#include <paisparse/format/random.hpp>
#include <paisparse/tuning/plan_file.hpp>
#include <paisparse/version.hpp>

#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace paisparse;
namespace fs = std::filesystem;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const paisparse::error& e) {
    return e.what();
  }
  return "";
}

template <class F>
void expect_error(F&& f, std::initializer_list<std::string> fragments) {
  const std::string msg = error_of(f);
  ASSERT_FALSE(msg.empty()) << "expected paisparse::error";
  for (const auto& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "message: " << msg;
}

gpu_identity h100() { return {"NVIDIA H100 80GB HBM3", 9, 0}; }

plan_record spmv_record() {
  const auto w = convert_values<__half>(random_csr<float>(300, 200, 0.05, row_distribution::lognormal, 0.8, 7));
  plan_record r;
  r.key = spmv_plan_key(w, h100());
  r.config = "b256.tA2.r1.v16.u2.u16.c0.lf";
  r.info.median_us = 5.125;
  r.info.gbps = 1234.5;  // informational numbers are written rounded (3 decimals, 1 for GB/s)
  r.info.tuned_at = "2025-01-31T12:00:00Z";
  r.info.tune_seconds = 3.25;
  r.info.candidates = 412;
  r.info.budget_exhausted = true;
  r.info.top = {{"b256.tA2.r1.v16.u2.u16.c0.lf", 5.125}, {"b128.t8.r2.v16.u1.u16.c0.ro", 5.5}};
  return r;
}

plan_record spmm_record() {
  const auto w = random_csr<float>(100, 5000, 0.01, row_distribution::uniform, 0, 8);
  plan_record r;
  r.key = spmm_plan_key(w, 32, dense_layout::col_major, dense_layout::row_major, h100());
  r.config = "spmm.b128.g8.l2.n8.v16.u1.u16.c512.lf.Bt.Cr";
  r.info.median_us = 12;
  return r;
}

void expect_same(const plan_record& a, const plan_record& b) {
  EXPECT_TRUE(compare_plan_keys(a.key, b.key).empty()) << describe(compare_plan_keys(a.key, b.key));
  EXPECT_EQ(a.key.gpu.name, b.key.gpu.name);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.info.median_us, b.info.median_us);
  EXPECT_EQ(a.info.gbps, b.info.gbps);
  EXPECT_EQ(a.info.tuned_at, b.info.tuned_at);
  EXPECT_EQ(a.info.tune_seconds, b.info.tune_seconds);
  EXPECT_EQ(a.info.candidates, b.info.candidates);
  EXPECT_EQ(a.info.budget_exhausted, b.info.budget_exhausted);
  ASSERT_EQ(a.info.top.size(), b.info.top.size());
  for (std::size_t i = 0; i < a.info.top.size(); ++i) {
    EXPECT_EQ(a.info.top[i].config, b.info.top[i].config);
    EXPECT_EQ(a.info.top[i].median_us, b.info.top[i].median_us);
  }
}

/// `text` with the first occurrence of `from` replaced by `to` (which must exist).
std::string replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) text.replace(p, from.size(), to);
  return text;
}

/// `text` without the line containing `needle` (the previous line's comma kept).
std::string drop_line(const std::string& text, const std::string& needle) {
  const std::size_t p = text.find(needle);
  EXPECT_NE(p, std::string::npos) << needle;
  const std::size_t b = text.rfind('\n', p) + 1, e = text.find('\n', p) + 1;
  return text.substr(0, b) + text.substr(e);
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("paisparse-plan-test-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

// ---------------------------------------------------------------------------

TEST(Version, HeaderMatchesCMakeProject) {
#ifdef PAISPARSE_CMAKE_PROJECT_VERSION
  EXPECT_STREQ(PAISPARSE_VERSION_STRING, PAISPARSE_CMAKE_PROJECT_VERSION)
      << "include/paisparse/version.hpp and project(VERSION) in CMakeLists.txt differ";
#endif
  EXPECT_EQ(std::to_string(PAISPARSE_VERSION_MAJOR) + "." + std::to_string(PAISPARSE_VERSION_MINOR) + "." +
                std::to_string(PAISPARSE_VERSION_PATCH),
            PAISPARSE_VERSION_STRING);
  EXPECT_STREQ(version_string, PAISPARSE_VERSION_STRING);
  EXPECT_EQ(spmv_record().key.library_version, PAISPARSE_VERSION_STRING);
}

TEST(PlanFile, TextRoundTripSpmv) {
  const plan_record r = spmv_record();
  const std::string text = format_plan_record(r);
  expect_same(parse_plan_record(text, "p.json"), r);
  EXPECT_NE(text.find("\"operation\": \"spmv\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"n\": 1,"), std::string::npos);
  EXPECT_EQ(text.find("b_layout"), std::string::npos);
  EXPECT_EQ(format_plan_record(parse_plan_record(text, "p.json")), text);  // a fixed point
}

TEST(PlanFile, TextRoundTripSpmm) {
  const plan_record r = spmm_record();
  const std::string text = format_plan_record(r);
  const plan_record back = parse_plan_record(text, "q.json");
  expect_same(back, r);
  EXPECT_EQ(back.key.operation, plan_operation::spmm);
  EXPECT_EQ(back.key.n, 32);
  EXPECT_EQ(back.key.b_layout, dense_layout::col_major);
  EXPECT_EQ(back.key.c_layout, dense_layout::row_major);
  EXPECT_NE(text.find("\"max_n\": 32"), std::string::npos) << text;
  EXPECT_TRUE(back.info.top.empty());
}

TEST(PlanFile, FileRoundTripAndAtomicOverwrite) {
  temp_dir d;
  const std::string path = (d.path / "plan.json").string();
  plan_record r = spmv_record();
  write_plan_file(path, r);
  expect_same(read_plan_file(path), r);
  r.config = "b128.t8.r2.v16.u1.i32.c64.ro";
  r.info.top.clear();
  write_plan_file(path, r);  // replaces the file
  expect_same(read_plan_file(path), r);
  int files = 0;
  for (const auto& e : fs::directory_iterator(d.path)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "plan.json");
  }
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  expect_error([&] { write_plan_file((d.path / "no" / "such" / "dir.json").string(), r); },
               {"dir.json", "cannot write"});
  expect_error([&] { read_plan_file((d.path / "missing.json").string()); }, {"missing.json"});
}

TEST(PlanFile, InformationalNumbersAreRounded) {
  plan_record r = spmv_record();
  r.info.median_us = 8.927999995648861;
  r.info.gbps = 755.3382620168662;
  r.info.tune_seconds = 0.150327614;
  r.info.top = {{"b256.t32.r1.v8.u1.u16.c0.lf", 1e-9}};
  const std::string text = format_plan_record(r);
  EXPECT_NE(text.find("\"median_us\": 8.928,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"gbps\": 755.3,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"tune_seconds\": 0.15,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"median_us\": 0}"), std::string::npos) << text;
  EXPECT_DOUBLE_EQ(parse_plan_record(text, "p.json").info.median_us, 8.928);
}

TEST(PlanFile, OddStringsRoundTrip) {
  plan_record r = spmv_record();
  r.key.gpu.name = "GPU \"quoted\" \\ back\tslash\x01 \xc3\xa9";
  r.info.tuned_at = "";
  expect_same(parse_plan_record(format_plan_record(r), "p.json"), r);
  EXPECT_EQ(parse_plan_record(format_plan_record(r), "p.json").key.gpu.name, r.key.gpu.name);
}

TEST(PlanFile, AcceptsOtherWhitespaceOrderAndEscapes) {
  const plan_record r = spmv_record();
  std::string text = format_plan_record(r);
  // compact, CRLF, members reordered, \u escapes: still the same record
  std::string compact;
  for (char c : text)
    if (c != '\n') compact += c;
  expect_same(parse_plan_record(compact, "c.json"), r);
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  expect_same(parse_plan_record(crlf, "c.json"), r);
  std::string moved = drop_line(text, "\"gpu_name\"");
  moved = replace(moved, "{\n", "{\n  \"gpu_name\": \"NVIDIA H100 80GB \\u0048BM3\",\n");
  expect_same(parse_plan_record(moved, "m.json"), r);
}

// ---------------------------------------------------------------------------
// Key comparison: every field is noticed, named, with both values.

TEST(PlanKey, EveryFieldIsCompared) {
  const plan_key base = spmm_record().key;
  struct change {
    const char* field;
    void (*edit)(plan_key&);
    const char* in_file;
  };
  const change changes[] = {
      {"library_version", [](plan_key& k) { k.library_version = "0.0.9"; }, "'0.0.9'"},
      {"value_type", [](plan_key& k) { k.value_type = "bf16"; }, "'bf16'"},
      {"max_n", [](plan_key& k) { k.n = 8; }, "'8'"},
      {"b_layout", [](plan_key& k) { k.b_layout = dense_layout::row_major; }, "'row_major'"},
      {"c_layout", [](plan_key& k) { k.c_layout = dense_layout::col_major; }, "'col_major'"},
      {"rows", [](plan_key& k) { k.weight.rows = 101; }, "'101'"},
      {"cols", [](plan_key& k) { k.weight.cols = 4999; }, "'4999'"},
      {"nnz", [](plan_key& k) { k.weight.nnz += 1; }, "'"},
      {"pattern_hash", [](plan_key& k) { k.weight.pattern_hash ^= 1; }, "'0x"},
      {"values_hash", [](plan_key& k) { k.weight.values_hash ^= 1ull << 63; }, "'0x"},
      {"gpu_name", [](plan_key& k) { k.gpu.name = "NVIDIA A100-SXM4-80GB"; }, "'NVIDIA A100-SXM4-80GB'"},
      {"compute_capability", [](plan_key& k) { k.gpu.cc_major = 8; }, "'8.0'"},
      {"compute_capability", [](plan_key& k) { k.gpu.cc_minor = 9; }, "'9.9'"},
      {"operation", [](plan_key& k) { k.operation = plan_operation::spmv; }, "'spmv'"},
  };
  EXPECT_TRUE(compare_plan_keys(base, base).empty());
  for (const change& c : changes) {
    SCOPED_TRACE(c.field);
    plan_key in_file = base;
    c.edit(in_file);
    const auto d = compare_plan_keys(in_file, base);
    ASSERT_GE(d.size(), 1u);
    EXPECT_EQ(d[0].field, c.field);
    plan_record r;
    r.key = in_file;
    r.config = "spmm.b128.g8.l2.n8.v16.u1.u16.c512.lf.Bt.Cr";
    expect_error([&] { check_plan_key(r, base, "plans/ffn1.json"); },
                 {"plans/ffn1.json", "not reused", std::string(c.field) + ": the file has " + c.in_file,
                  "this run has '"});
  }
  // several differences are all listed
  plan_key other = base;
  other.gpu.name = "X";
  other.library_version = "9.9.9";
  const std::string msg = describe(compare_plan_keys(other, base));
  EXPECT_NE(msg.find("gpu_name: the file has 'X', this run has 'NVIDIA H100 80GB HBM3'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("library_version: the file has '9.9.9', this run has '" PAISPARSE_VERSION_STRING "'"),
            std::string::npos)
      << msg;
}

TEST(PlanKey, SpmvKeysIgnoreLayouts) {
  plan_key a = spmv_record().key, b = a;
  b.b_layout = dense_layout::row_major;
  EXPECT_TRUE(compare_plan_keys(a, b).empty());
  b.n = 2;
  ASSERT_EQ(compare_plan_keys(a, b).size(), 1u);
  EXPECT_EQ(compare_plan_keys(a, b)[0].field, "n");
}

TEST(PlanKey, RefusalThroughAFileNamesTheField) {
  // what a user sees: a file made on another GPU, loaded here
  plan_record r = spmv_record();
  const plan_key here = r.key;
  const std::string text = replace(format_plan_record(r), "NVIDIA H100 80GB HBM3", "NVIDIA L4");
  const plan_record loaded = parse_plan_record(text, "cache/spmv.json");
  expect_error([&] { check_plan_key(loaded, here, "cache/spmv.json"); },
               {"cache/spmv.json", "gpu_name: the file has 'NVIDIA L4', this run has 'NVIDIA H100 80GB HBM3'"});
}

// ---------------------------------------------------------------------------
// Fingerprints

TEST(Fingerprint, DeterministicAndStable) {
  const auto w = random_csr<float>(64, 48, 0.2, row_distribution::uniform, 0, 3);
  const weight_fingerprint a = fingerprint(w), b = fingerprint(w);
  EXPECT_EQ(a.pattern_hash, b.pattern_hash);
  EXPECT_EQ(a.values_hash, b.values_hash);
  EXPECT_EQ(a.rows, 64);
  EXPECT_EQ(a.cols, 48);
  EXPECT_EQ(a.nnz, w.nnz());
  // The digest of a fixed small weight: a change of the hash function must be
  // deliberate (it invalidates every plan file written before).
  const host_csr<float> fixed(2, 3, {0, 2, 3}, {0, 2, 1}, {1.f, -2.f, 0.5f});
  const weight_fingerprint f = fingerprint(fixed);
  EXPECT_EQ(detail::hex64(f.pattern_hash), "0xd67b7ab9697390f0");
  EXPECT_EQ(detail::hex64(f.values_hash), "0x7578174719d44910");
}

TEST(Fingerprint, NoticesEveryKindOfChange) {
  const auto w = random_csr<float>(200, 300, 0.05, row_distribution::lognormal, 1.0, 11);
  const weight_fingerprint f0 = fingerprint(w);
  std::vector<int32_t> off = w.row_offsets(), idx = w.col_indices();
  std::vector<float> val = w.values();
  std::set<uint64_t> patterns{f0.pattern_hash}, values{f0.values_hash};

  {  // one value, one bit of its mantissa
    auto v = val;
    uint32_t bits;
    std::memcpy(&bits, &v[v.size() / 2], 4);
    bits ^= 1;
    std::memcpy(&v[v.size() / 2], &bits, 4);
    const auto f = fingerprint(host_csr<float>(200, 300, off, idx, v));
    EXPECT_EQ(f.pattern_hash, f0.pattern_hash) << "the pattern did not change";
    EXPECT_TRUE(values.insert(f.values_hash).second);
  }
  {  // two values swapped
    auto v = val;
    std::swap(v[0], v[1]);
    ASSERT_NE(v[0], v[1]);
    EXPECT_TRUE(values.insert(fingerprint(host_csr<float>(200, 300, off, idx, v)).values_hash).second);
  }
  {  // +0 becomes -0 (bit patterns are hashed)
    auto v = val;
    v[3] = 0.f;
    const auto a = fingerprint(host_csr<float>(200, 300, off, idx, v));
    v[3] = -0.f;
    const auto b = fingerprint(host_csr<float>(200, 300, off, idx, v));
    EXPECT_NE(a.values_hash, b.values_hash);
  }
  {  // one column index moved within its row (to a free column)
    auto i = idx;
    int32_t r = 0;
    while (off[r + 1] - off[r] < 1) ++r;
    const int32_t last = off[r + 1] - 1;
    if (i[last] + 1 < 300) ++i[last];
    else --i[off[r]];  // the first moves left instead: still sorted, unique? check below
    const auto f = fingerprint(host_csr<float>(200, 300, off, i, val));  // validated by the constructor
    EXPECT_EQ(f.values_hash, f0.values_hash);
    EXPECT_TRUE(patterns.insert(f.pattern_hash).second);
  }
  {  // an entry moved to the next row (same nnz, same indices array, different offsets)
    auto o = off;
    int32_t r = 0;
    while (!(o[r + 1] - o[r] >= 1 && o[r + 2] - o[r + 1] >= 1 && idx[o[r + 1] - 1] < idx[o[r + 1]])) ++r;
    --o[r + 1];
    const auto f = fingerprint(host_csr<float>(200, 300, o, idx, val));
    EXPECT_TRUE(patterns.insert(f.pattern_hash).second);
  }
  {  // same arrays, one more column
    EXPECT_TRUE(patterns.insert(fingerprint(host_csr<float>(200, 301, off, idx, val)).pattern_hash).second);
  }
  {  // the same values in another type hash apart
    const auto h = convert_values<__half>(w);
    const auto b = convert_values<__nv_bfloat16>(w);
    EXPECT_EQ(fingerprint(h).pattern_hash, f0.pattern_hash);
    EXPECT_TRUE(values.insert(fingerprint(h).values_hash).second);
    EXPECT_TRUE(values.insert(fingerprint(b).values_hash).second);
  }
  {  // empty weights of different shapes
    const auto a = fingerprint(host_csr<float>(3, 4, {0, 0, 0, 0}, {}, {}));
    const auto b = fingerprint(host_csr<float>(4, 3, {0, 0, 0, 0, 0}, {}, {}));
    EXPECT_NE(a.pattern_hash, b.pattern_hash);
  }
}

TEST(Fingerprint, FewCollisionsOnSmallChanges) {
  // every single-index change of a small weight's pattern hashes differently
  const host_csr<float> w(4, 64, {0, 3, 5, 5, 8}, {1, 7, 40, 0, 63, 2, 3, 4}, std::vector<float>(8, 1.f));
  std::set<uint64_t> seen{fingerprint(w).pattern_hash};
  int variants = 1;
  for (std::size_t k = 0; k < w.col_indices().size(); ++k)
    for (int32_t c = 0; c < 64; ++c) {
      auto idx = w.col_indices();
      if (idx[k] == c) continue;
      idx[k] = c;
      try {
        seen.insert(fingerprint(host_csr<float>(4, 64, w.row_offsets(), idx, w.values())).pattern_hash);
        ++variants;
      } catch (const paisparse::error&) {  // unsorted or duplicate: not a valid weight
      }
    }
  EXPECT_GT(variants, 100);
  EXPECT_EQ(static_cast<int>(seen.size()), variants);
}

// ---------------------------------------------------------------------------
// Cache file names

TEST(PlanFileName, DerivedFromTheWholeKey) {
  const plan_key k = spmm_record().key;
  const std::string n = plan_file_name(k);
  EXPECT_EQ(n.rfind("spmm-100x5000-nnz", 0), 0u) << n;
  EXPECT_NE(n.find("-fp32-n32-bcol-crow-"), std::string::npos) << n;
  EXPECT_EQ(n.substr(n.size() - 5), ".json");
  EXPECT_EQ(plan_file_name(k), n);
  std::set<std::string> names{n};
  for (int i = 0; i < 8; ++i) {
    plan_key o = k;
    switch (i) {
      case 0: o.gpu.name += "x"; break;
      case 1: o.gpu.cc_minor = 1; break;
      case 2: o.library_version = "0.2.0"; break;
      case 3: o.weight.values_hash ^= 4; break;
      case 4: o.weight.pattern_hash ^= 4; break;
      case 5: o.n = 31; break;
      case 6: o.b_layout = dense_layout::row_major; break;
      case 7: o.value_type = "fp16"; break;
    }
    EXPECT_TRUE(names.insert(plan_file_name(o)).second) << i;
  }
  const std::string s = plan_file_name(spmv_record().key);
  EXPECT_EQ(s.rfind("spmv-300x200-nnz", 0), 0u) << s;
  EXPECT_NE(s.find("-fp16-n1-"), std::string::npos) << s;
  for (char c : s) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') << s;
}

// ---------------------------------------------------------------------------
// Malformed files

TEST(PlanFileErrors, EveryTruncationIsAnError) {
  for (const plan_record& r : {spmv_record(), spmm_record()}) {
    const std::string text = format_plan_record(r);
    for (std::size_t n = 0; n + 1 < text.size(); ++n) {  // dropping the final newline alone is still valid
      const std::string msg = error_of([&] { parse_plan_record(text.substr(0, n), "t.json"); });
      ASSERT_FALSE(msg.empty()) << "a truncation to " << n << " bytes was accepted";
      EXPECT_NE(msg.find("t.json: line "), std::string::npos) << msg;
      EXPECT_NE(msg.find(", column "), std::string::npos) << msg;
    }
  }
  expect_error([] { parse_plan_record("", "e.json"); }, {"e.json: line 1, column 1", "ends where a value was expected"});
  expect_error([] { parse_plan_record("{\n  \"format\": \"paisparse-plan\",\n", "t.json"); },
               {"t.json: line 3, column 1", "ends inside the object opened at line 1, column 1"});
  expect_error([] { parse_plan_record("{\"gpu_name\": \"NVIDIA", "t.json"); },
               {"line 1, column 14", "ends inside the string"});
}

TEST(PlanFileErrors, BadJson) {
  const std::string good = format_plan_record(spmv_record());
  struct bad {
    std::string text, where, what;
  };
  const std::vector<bad> cases = {
      {replace(good, "\"n\": 1,", "\"n\": 1,,"), "line 7, column 10", "expected a member name"},
      {replace(good, "\"n\": 1,", "\"n\" 1,"), "line 7, column 7", "expected ':' after member name 'n'"},
      {replace(good, "\"n\": 1,", "\"n\": 01,"), "line 7, column 9", "leading zero"},
      {replace(good, "\"n\": 1,", "\"n\": 1.,"), "line 7, column 10", "digit after the decimal point"},
      {replace(good, "\"n\": 1,", "\"n\": -,"), "line 7, column 9", "expected a digit"},
      {replace(good, "\"n\": 1,", "\"n\": 1e,"), "line 7, column 10", "digit in the exponent"},
      {replace(good, "\"n\": 1,", "\"n\": tru,"), "line 7, column 8", "expected a value"},
      {replace(good, "\"n\": 1,", "\"n\": 'x',"), "line 7, column 8", "expected a value"},
      {replace(good, "\"n\": 1,", "\"n\": 1 2,"), "line 7, column 10", "expected ',' or '}'"},
      {replace(good, "\"nnz\"", "nnz"), "line 10, column 3", "member name in double quotes"},
      {replace(good, "\"fp16\"", "\"fp\\q16\""), "line 6, column 20", "unknown escape '\\x5cq'"},
      {replace(good, "\"fp16\"", "\"fp\\u12\""), "line 6, column 22", "4 hexadecimal digits"},
      {replace(good, "\"fp16\"", "\"fp\\udc00\""), "line 6, column 20", "lone low surrogate"},
      {replace(good, "\"fp16\"", "\"fp\\ud800x\""), "line 6, column 20", "high surrogate"},
      {replace(good, "\"fp16\"", "\"fp\t16\""), "line 6, column 20", "control byte"},
      {replace(good, "\"fp16\"", "\"fp16\n\""), "line 6, column 22", "line break inside a string"},
      {replace(good, "5.5}\n    ]", "5.5},\n    ]"), "line 26, column 5", "trailing commas"},
      {replace(good, "\"budget_exhausted\": true,", "\"budget_exhausted\": true"), "line 23, column 5",
       "expected ',' or '}' after a member"},
      {good + "x", "line 29, column 1", "after the end of the top-level value"},
      {good + "{}", "line 29, column 1", "after the end"},
      {std::string(70, '[') + std::string(70, ']'), "line 1, column 65", "nesting deeper than 64"},
      {"[1, 2]", "line 1, column 1", "the file holds an array: expected a plan object"},
      {"\"plan\"", "line 1, column 1", "holds a string"},
      {replace(good, "\"rows\": 300,", "\"rows\": 300, \"rows\": 300,"), "line 8, column 16",
       "member 'rows' appears twice"},
  };
  for (const bad& b : cases) {
    SCOPED_TRACE(b.what);
    expect_error([&] { parse_plan_record(b.text, "bad.json"); }, {"bad.json: " + b.where + ":", b.what});
  }
}

TEST(PlanFileErrors, EveryMissingField) {
  const std::string spmv = format_plan_record(spmv_record());
  for (const char* f : {"format", "format_version", "library_version", "operation", "value_type", "n", "rows", "cols",
                        "nnz", "pattern_hash", "values_hash", "gpu_name", "compute_capability", "config"}) {
    SCOPED_TRACE(f);
    const std::string key = std::string("\"") + f + "\":";
    expect_error([&] { parse_plan_record(drop_line(spmv, "  " + key), "m.json"); },
                 {"m.json: line 1, column 1", std::string("field '") + f + "' is missing", "expected"});
  }
  const std::string spmm = format_plan_record(spmm_record());
  for (const char* f : {"max_n", "b_layout", "c_layout"}) {
    SCOPED_TRACE(f);
    expect_error([&] { parse_plan_record(drop_line(spmm, std::string("\"") + f + "\":"), "m.json"); },
                 {std::string("field '") + f + "' is missing"});
  }
  // info is optional, and so is each of its fields; a top entry needs both of its fields
  std::string no_info = spmv.substr(0, spmv.find(",\n  \"info\"")) + "\n}\n";
  const plan_record r = parse_plan_record(no_info, "i.json");
  EXPECT_EQ(r.config, spmv_record().config);
  EXPECT_EQ(r.info.candidates, 0);
  expect_error([&] { parse_plan_record(replace(spmv, ", \"median_us\": 5.5", ""), "i.json"); },
               {"i.json: line 25, column 7", "field 'info.top[].median_us' is missing"});
}

TEST(PlanFileErrors, WrongTypesAndRanges) {
  const std::string good = format_plan_record(spmv_record());
  struct bad {
    std::string from, to, what;
  };
  const std::vector<bad> cases = {
      {"\"format\": \"paisparse-plan\"", "\"format\": \"other\"", "field 'format' = 'other': expected \"paisparse-plan\""},
      {"\"format_version\": 1", "\"format_version\": 2", "field 'format_version' = '2': expected an integer in 1..1"},
      {"\"format_version\": 1", "\"format_version\": \"1\"", "field 'format_version' is a string: expected an integer"},
      {"\"library_version\": \"" PAISPARSE_VERSION_STRING "\"", "\"library_version\": 1",
       "field 'library_version' is a number: expected a version string"},
      {"\"operation\": \"spmv\"", "\"operation\": \"gemm\"", "field 'operation' = 'gemm': expected \"spmv\" or \"spmm\""},
      {"\"value_type\": \"fp16\"", "\"value_type\": \"fp64\"", "field 'value_type' = 'fp64'"},
      {"\"value_type\": \"fp16\"", "\"value_type\": null", "field 'value_type' is null"},
      {"\"n\": 1", "\"n\": 8", "field 'n' = '8': expected an integer in 1..1"},
      {"\"n\": 1", "\"n\": 1.0", "field 'n' = '1.0'"},
      {"\"n\": 1", "\"n\": true", "field 'n' is a boolean"},
      {"\"rows\": 300", "\"rows\": -1", "field 'rows' = '-1': expected an integer in 0..2147483647"},
      {"\"rows\": 300", "\"rows\": 2147483648", "field 'rows' = '2147483648'"},
      {"\"rows\": 300", "\"rows\": 99999999999999999999999", "field 'rows'"},
      {"\"cols\": 200", "\"cols\": [200]", "field 'cols' is an array"},
      {"\"nnz\": ", "\"nnz\": {}, \"x\": ", "field 'nnz' is an object"},
      {"\"pattern_hash\": \"0x", "\"pattern_hash\": \"0y", "field 'pattern_hash' = '0y"},
      {"\"values_hash\": \"0x", "\"values_hash\": \"0x1", "field 'values_hash' = '0x1"},
      {"\"values_hash\": \"0x", "\"values_hash\": \"0xg", "expected \"0x\" and 16 hexadecimal digits"},
      {"\"gpu_name\": \"", "\"gpu_name\": 5, \"x\": \"", "field 'gpu_name' is a number"},
      {"\"compute_capability\": \"9.0\"", "\"compute_capability\": \"9\"", "field 'compute_capability' = '9'"},
      {"\"compute_capability\": \"9.0\"", "\"compute_capability\": \"9.x\"", "expected \"major.minor\""},
      {"\"compute_capability\": \"9.0\"", "\"compute_capability\": 9.0", "field 'compute_capability' is a number"},
      {"\"config\": \"b256.tA2", "\"config\": \"b256.tB2", "field 'config' = 'b256.tB2.r1.v16.u2.u16.c0.lf' is not a valid spmv configuration name"},
      {"\"config\": \"b256.tA2.r1.v16.u2.u16.c0.lf\"", "\"config\": \"spmm.b128.g8.l2.n8.v16.u1.u16.c0.lf.Bt.Cc\"",
       "is not a valid spmv configuration name"},
      {"\"median_us\": 5.125", "\"median_us\": \"fast\"", "field 'info.median_us' is a string: expected a number"},
      {"\"median_us\": 5.125", "\"median_us\": 1e999", "field 'info.median_us' = '1e999': expected a finite number"},
      {"\"candidates\": 412", "\"candidates\": -3", "field 'info.candidates' = '-3'"},
      {"\"budget_exhausted\": true", "\"budget_exhausted\": 1", "field 'info.budget_exhausted' is a number: expected true or false"},
      {"\"tuned_at\": \"", "\"tuned_at\": 7, \"x\": \"", "field 'info.tuned_at' is a number"},
      {"\"top\": [", "\"top\": [3, ", "an element of 'info.top' is a number"},
      {"\"top\": [", "\"top\": {}, \"t\": [", "field 'info.top' is an object: expected an array"},
      {"\"info\": {", "\"info\": [], \"i\": {", "field 'info' is an array"},
      {"\"rows\": 300", "\"rows\": 300, \"extra\": 1", "unknown field 'extra': expected only format, "},
      {"\"gbps\": ", "\"speed\": 1, \"gbps\": ", "unknown field 'info.speed'"},
  };
  for (const bad& b : cases) {
    SCOPED_TRACE(b.to);
    expect_error([&] { parse_plan_record(replace(good, b.from, b.to), "w.json"); }, {"w.json: line ", b.what});
  }
  // an spmm file: layouts, max_n, and a configuration that serves other layouts
  const std::string spmm = format_plan_record(spmm_record());
  expect_error([&] { parse_plan_record(replace(spmm, "\"b_layout\": \"col_major\"", "\"b_layout\": \"cols\""), "s.json"); },
               {"s.json: line 8", "field 'b_layout' = 'cols': expected \"row_major\" or \"col_major\""});
  expect_error([&] { parse_plan_record(replace(spmm, "\"max_n\": 32", "\"max_n\": 0"), "s.json"); },
               {"field 'max_n' = '0': expected an integer in 1..2147483647"});
  expect_error([&] { parse_plan_record(replace(spmm, ".Bt.Cr\"", ".Bt.Cc\""), "s.json"); },
               {"s.json: line 17, column 13", "serves col_major B and col_major C: expected b_layout col_major, c_layout row_major"});
  expect_error([&] { parse_plan_record(replace(spmm, "\"max_n\": 32", "\"n\": 32"), "s.json"); },
               {"field 'max_n' is missing"});
  expect_error([&] { parse_plan_record(replace(spmm, "\"spmm.b128", "\"spmm.x128"), "s.json"); },
               {"is not a valid spmm configuration name", "field 'x128' should be 'b<number>'"});
}

TEST(PlanFileErrors, RandomCorruptionGivesARecordOrAPositionedError) {
  const std::vector<std::string> seeds = {format_plan_record(spmv_record()), format_plan_record(spmm_record())};
  const char interesting[] = "{}[],:\"\\0123456789.eE-+ \ntfnul";
  std::mt19937_64 rng(20250131);
  int accepted = 0, rejected = 0;
  const int inputs = 20000;
  for (int i = 0; i < inputs; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t p = rng() % s.size();
      switch (rng() % 5) {
        case 0: s[p] = static_cast<char>(s[p] ^ (1 << (rng() % 8))); break;
        case 1: s[p] = interesting[rng() % (sizeof interesting - 1)]; break;
        case 2: s.erase(p, 1 + rng() % 8); break;
        case 3: s.insert(p, 1, interesting[rng() % (sizeof interesting - 1)]); break;
        case 4: s.resize(p); break;
      }
    }
    try {
      const plan_record r = parse_plan_record(s, "fuzz.json");
      ++accepted;
      // an accepted record writes and reads back to the same text
      const std::string text = format_plan_record(r);
      ASSERT_EQ(format_plan_record(parse_plan_record(text, "again.json")), text);
    } catch (const paisparse::error& e) {
      ++rejected;
      const std::string msg = e.what();
      ASSERT_NE(msg.find("fuzz.json: line "), std::string::npos) << msg;
      ASSERT_NE(msg.find(", column "), std::string::npos) << msg;
    }
  }
  std::printf("plan-file corruption test: %d inputs, %d accepted, %d rejected with a positioned error\n", inputs,
              accepted, rejected);
  EXPECT_EQ(accepted + rejected, inputs);
  EXPECT_GT(rejected, inputs / 2);
}
