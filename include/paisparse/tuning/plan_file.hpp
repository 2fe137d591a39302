// paisparse: plan files, a tuned configuration saved as a small JSON record.
//
// Tuning takes seconds per weight; a plan file keeps its outcome, the
// configuration's name, from which the plan is rebuilt in milliseconds
// (spmv_plan(w, name), spmm_plan(w, name, max_n)). The file is keyed by
// everything that makes the choice valid; a file whose key differs from the
// caller's is refused by check_plan_key (or retuned, see tuning/plan_cache.cuh):
//
//   operation        "spmv" or "spmm"
//   value_type       "fp32", "fp16" or "bf16"
//   n / max_n        SpMV: n = 1; SpMM: max_n, the N tuned for (the plan runs any N up to it)
//   b_layout, c_layout   SpMM only: "row_major" or "col_major"
//   rows, cols, nnz  the weight's shape
//   pattern_hash     64-bit hash of the sparsity pattern (see fingerprint below)
//   values_hash      64-bit hash of the values, so new values on the same pattern are noticed
//   gpu_name, compute_capability   cudaDeviceProp::name and "major.minor"
//   library_version  PAISPARSE_VERSION_STRING of the program that tuned
//
// A record also holds informational fields under "info" (not part of the
// key): the tuned time and GB/s, when, how long tuning took, how many
// candidates ran, whether the time budget cut the search, and the fastest
// few candidates. An example (SpMV):
//
//   {
//     "format": "paisparse-plan",
//     "format_version": 1,
//     "library_version": "0.1.0",
//     "operation": "spmv",
//     "value_type": "fp16",
//     "n": 1,
//     "rows": 4096,
//     "cols": 4096,
//     "nnz": 1677722,
//     "pattern_hash": "0xcf8bba47a44c546e",
//     "values_hash": "0xc32603f7bb59c8a5",
//     "gpu_name": "NVIDIA H100 80GB HBM3",
//     "compute_capability": "9.0",
//     "config": "b256.t32.r1.v8.u1.u16.c0.lf",
//     "info": { "median_us": 8.928, "gbps": 755.3, "tuned_at": "2026-11-24T14:11:46Z", ... }
//   }
//
// An SpMM file has "max_n", "b_layout" and "c_layout" in place of "n".
//
// Host-only C++17 (no CUDA compiler needed; current_gpu_identity calls the
// CUDA runtime). Every malformed file is a paisparse::error naming the file,
// the line and column, and what was expected.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cuda_runtime_api.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "../detail/json.hpp"
#include "../error.hpp"
#include "../format/csr.hpp"
#include "../format/dense.hpp"
#include "../io/detail/parse.hpp"
#include "../types.hpp"
#include "../version.hpp"
#include "config.hpp"
#include "spmm_config.hpp"

namespace paisparse {

// ---------------------------------------------------------------------------
// Fingerprints

namespace detail {

/// The finalizer of SplitMix64: a bijection of 64-bit words with full avalanche.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/// A fast, order-sensitive 64-bit hash of a sequence of 64-bit words (not
/// cryptographic: it notices a changed weight, it does not resist a forged one).
/// Input words are assembled from integers explicitly, so the digest is the
/// same on every host.
class hash64 {
 public:
  explicit hash64(uint64_t domain) : h_(mix64(domain ^ 0x70616973706172ull)) {}

  void add(uint64_t w) {
    const uint64_t x = h_ ^ mix64(w);
    h_ = ((x << 29) | (x >> 35)) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    ++words_;
  }
  /// 32-bit items, two per word (the first in the low half); an odd tail is zero-padded.
  void add_u32(const uint32_t* p, std::size_t n) {
    std::size_t i = 0;
    for (; i + 2 <= n; i += 2) add(uint64_t{p[i]} | uint64_t{p[i + 1]} << 32);
    if (i < n) add(uint64_t{p[i]});
  }
  /// 16-bit items, four per word (the first in the lowest quarter).
  void add_u16(const uint16_t* p, std::size_t n) {
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
      add(uint64_t{p[i]} | uint64_t{p[i + 1]} << 16 | uint64_t{p[i + 2]} << 32 | uint64_t{p[i + 3]} << 48);
    uint64_t tail = 0;
    for (int s = 0; i < n; ++i, s += 16) tail |= uint64_t{p[i]} << s;
    if (n % 4) add(tail);
  }
  void add_string(std::string_view s) {
    add(s.size());
    uint64_t w = 0;
    int b = 0;
    for (const char c : s) {
      w |= uint64_t{static_cast<unsigned char>(c)} << (8 * b);
      if (++b == 8) add(w), w = 0, b = 0;
    }
    if (b) add(w);
  }
  uint64_t digest() const { return mix64(h_ ^ (words_ * 0xd6e8feb86659fd93ull)); }

 private:
  uint64_t h_;
  uint64_t words_ = 0;
};

inline std::string hex64(uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 15; i >= 0; --i) s += hex[(v >> (4 * i)) & 15];
  return s;
}

}  // namespace detail

/// What identifies a weight in a plan file.
///   pattern_hash: hash64 of rows, cols, nnz, then the rows + 1 row offsets
///                 and the nnz column indices as 32-bit integers, in order;
///   values_hash:  hash64 of the value size in bytes and nnz, then the nnz
///                 values' bit patterns in their stored type T (so -0 and +0
///                 differ, and the same weight in fp16 and fp32 hashes apart).
struct weight_fingerprint {
  int32_t rows = 0, cols = 0, nnz = 0;
  uint64_t pattern_hash = 0, values_hash = 0;
};

template <class T>
weight_fingerprint fingerprint(const host_csr<T, int32_t>& w) {
  static_assert(is_value_type_v<T>, "fingerprint: T must be float, __half or __nv_bfloat16");
  weight_fingerprint f;
  f.rows = w.rows();
  f.cols = w.cols();
  f.nnz = w.nnz();
  detail::hash64 p(0x7061747465726eull);  // "pattern"
  p.add(static_cast<uint64_t>(f.rows));
  p.add(static_cast<uint64_t>(f.cols));
  p.add(static_cast<uint64_t>(f.nnz));
  static_assert(sizeof(int32_t) == sizeof(uint32_t), "");
  p.add_u32(reinterpret_cast<const uint32_t*>(w.row_offsets().data()), w.row_offsets().size());
  p.add_u32(reinterpret_cast<const uint32_t*>(w.col_indices().data()), w.col_indices().size());
  f.pattern_hash = p.digest();

  detail::hash64 v(0x76616c756573ull);  // "values"
  v.add(sizeof(T));
  v.add(static_cast<uint64_t>(f.nnz));
  const std::size_t n = w.values().size();
  if constexpr (sizeof(T) == 4) {
    std::vector<uint32_t> bits(n);
    if (n) std::memcpy(bits.data(), w.values().data(), n * 4);
    v.add_u32(bits.data(), n);
  } else {
    std::vector<uint16_t> bits(n);
    if (n) std::memcpy(bits.data(), w.values().data(), n * 2);
    v.add_u16(bits.data(), n);
  }
  f.values_hash = v.digest();
  return f;
}

// ---------------------------------------------------------------------------
// Keys and records

enum class plan_operation { spmv, spmm };

inline const char* to_string(plan_operation o) { return o == plan_operation::spmv ? "spmv" : "spmm"; }

/// The GPU a plan was tuned on.
struct gpu_identity {
  std::string name;  // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  std::string compute_capability() const { return std::to_string(cc_major) + "." + std::to_string(cc_minor); }
};

/// The identity of a CUDA device (the current one when device < 0). Throws
/// paisparse::error when there is none.
inline gpu_identity current_gpu_identity(int device = -1) {
  if (device < 0) PAISPARSE_CUDA_TRY(cudaGetDevice(&device));
  cudaDeviceProp p{};
  PAISPARSE_CUDA_TRY(cudaGetDeviceProperties(&p, device));
  gpu_identity g;
  g.name = p.name;
  g.cc_major = p.major;
  g.cc_minor = p.minor;
  return g;
}

/// Everything a plan is valid for. Two keys that differ in any field mean the
/// plan must not be reused as is.
struct plan_key {
  plan_operation operation = plan_operation::spmv;
  std::string value_type = "fp16";  // value_type_name<T>(): fp32, fp16, bf16
  int32_t n = 1;                    // SpMV: 1; SpMM: max_n
  dense_layout b_layout = dense_layout::col_major;  // SpMM only
  dense_layout c_layout = dense_layout::col_major;  // SpMM only
  weight_fingerprint weight;
  gpu_identity gpu;
  std::string library_version = PAISPARSE_VERSION_STRING;
};

template <class T>
plan_key spmv_plan_key(const host_csr<T, int32_t>& w, const gpu_identity& gpu) {
  plan_key k;
  k.operation = plan_operation::spmv;
  k.value_type = value_type_name<T>();
  k.n = 1;
  k.weight = fingerprint(w);
  k.gpu = gpu;
  return k;
}

template <class T>
plan_key spmm_plan_key(const host_csr<T, int32_t>& w, int32_t max_n, dense_layout b, dense_layout c,
                       const gpu_identity& gpu) {
  PAISPARSE_EXPECTS(max_n >= 1, "spmm_plan_key: max_n = " << max_n << ", expected >= 1");
  plan_key k;
  k.operation = plan_operation::spmm;
  k.value_type = value_type_name<T>();
  k.n = max_n;
  k.b_layout = b;
  k.c_layout = c;
  k.weight = fingerprint(w);
  k.gpu = gpu;
  return k;
}

/// One candidate of the tuner's table, as kept in a plan file.
struct plan_candidate_info {
  std::string config;
  double median_us = 0;
};

/// Informational fields of a plan file (not part of the key).
struct plan_info {
  double median_us = 0;      // the plan's tuned time (median, cold L2)
  double gbps = 0;           // its useful bytes / median time
  std::string tuned_at;      // UTC, ISO 8601
  double tune_seconds = 0;   // how long tuning took
  int64_t candidates = 0;    // how many candidates the tuner had
  bool budget_exhausted = false;
  std::vector<plan_candidate_info> top;  // the fastest few, fastest first
};

struct plan_record {
  plan_key key;
  std::string config;  // spmv_config / spmm_config name
  plan_info info;
};

/// One field in which a plan file's key differs from the caller's.
struct key_difference {
  std::string field;     // as named in the file, e.g. "gpu_name"
  std::string in_file;   // the file's value
  std::string expected;  // this run's value
};

/// Every field in which `in_file` differs from `expected` (empty: they match).
inline std::vector<key_difference> compare_plan_keys(const plan_key& in_file, const plan_key& expected) {
  std::vector<key_difference> d;
  auto cmp = [&](const char* field, const std::string& a, const std::string& b) {
    if (a != b) d.push_back({field, a, b});
  };
  auto num = [](int64_t v) { return std::to_string(v); };
  cmp("operation", to_string(in_file.operation), to_string(expected.operation));
  cmp("library_version", in_file.library_version, expected.library_version);
  cmp("value_type", in_file.value_type, expected.value_type);
  const bool spmm = in_file.operation == plan_operation::spmm && expected.operation == plan_operation::spmm;
  cmp(in_file.operation == plan_operation::spmm ? "max_n" : "n", num(in_file.n), num(expected.n));
  if (spmm) {
    cmp("b_layout", to_string(in_file.b_layout), to_string(expected.b_layout));
    cmp("c_layout", to_string(in_file.c_layout), to_string(expected.c_layout));
  }
  cmp("rows", num(in_file.weight.rows), num(expected.weight.rows));
  cmp("cols", num(in_file.weight.cols), num(expected.weight.cols));
  cmp("nnz", num(in_file.weight.nnz), num(expected.weight.nnz));
  cmp("pattern_hash", detail::hex64(in_file.weight.pattern_hash), detail::hex64(expected.weight.pattern_hash));
  cmp("values_hash", detail::hex64(in_file.weight.values_hash), detail::hex64(expected.weight.values_hash));
  cmp("gpu_name", in_file.gpu.name, expected.gpu.name);
  cmp("compute_capability", in_file.gpu.compute_capability(), expected.gpu.compute_capability());
  return d;
}

/// "gpu_name: the file has 'A', this run has 'B'; ..." for a list of differences.
inline std::string describe(const std::vector<key_difference>& d) {
  std::string s;
  for (const auto& x : d) {
    if (!s.empty()) s += "; ";
    s += x.field + ": the file has '" + x.in_file + "', this run has '" + x.expected + "'";
  }
  return s;
}

/// Throws paisparse::error naming every differing field and both values
/// unless the record's key equals `expected`. `name` is the file, for the message.
inline void check_plan_key(const plan_record& r, const plan_key& expected, std::string_view name) {
  const auto d = compare_plan_keys(r.key, expected);
  PAISPARSE_EXPECTS(d.empty(), name << ": the plan was made for another setting and is not reused: " << describe(d));
}

// ---------------------------------------------------------------------------
// Text form

/// The record as JSON text (the layout shown at the top of this header).
inline std::string format_plan_record(const plan_record& r) {
  using detail::json::fixed_literal;  // informational numbers: rounded, readable
  using detail::json::string_literal;
  const plan_key& k = r.key;
  std::ostringstream os;
  os << "{\n"
     << "  \"format\": \"paisparse-plan\",\n"
     << "  \"format_version\": 1,\n"
     << "  \"library_version\": " << string_literal(k.library_version) << ",\n"
     << "  \"operation\": \"" << to_string(k.operation) << "\",\n"
     << "  \"value_type\": " << string_literal(k.value_type) << ",\n";
  if (k.operation == plan_operation::spmv) {
    os << "  \"n\": " << k.n << ",\n";
  } else {
    os << "  \"max_n\": " << k.n << ",\n"
       << "  \"b_layout\": \"" << to_string(k.b_layout) << "\",\n"
       << "  \"c_layout\": \"" << to_string(k.c_layout) << "\",\n";
  }
  os << "  \"rows\": " << k.weight.rows << ",\n"
     << "  \"cols\": " << k.weight.cols << ",\n"
     << "  \"nnz\": " << k.weight.nnz << ",\n"
     << "  \"pattern_hash\": \"" << detail::hex64(k.weight.pattern_hash) << "\",\n"
     << "  \"values_hash\": \"" << detail::hex64(k.weight.values_hash) << "\",\n"
     << "  \"gpu_name\": " << string_literal(k.gpu.name) << ",\n"
     << "  \"compute_capability\": \"" << k.gpu.compute_capability() << "\",\n"
     << "  \"config\": " << string_literal(r.config) << ",\n"
     << "  \"info\": {\n"
     << "    \"median_us\": " << fixed_literal(r.info.median_us, 3) << ",\n"
     << "    \"gbps\": " << fixed_literal(r.info.gbps, 1) << ",\n"
     << "    \"tuned_at\": " << string_literal(r.info.tuned_at) << ",\n"
     << "    \"tune_seconds\": " << fixed_literal(r.info.tune_seconds, 3) << ",\n"
     << "    \"candidates\": " << r.info.candidates << ",\n"
     << "    \"budget_exhausted\": " << (r.info.budget_exhausted ? "true" : "false") << ",\n"
     << "    \"top\": [";
  for (std::size_t i = 0; i < r.info.top.size(); ++i)
    os << (i ? ",\n      " : "\n      ") << "{\"config\": " << string_literal(r.info.top[i].config)
       << ", \"median_us\": " << fixed_literal(r.info.top[i].median_us, 3) << "}";
  os << (r.info.top.empty() ? "]\n" : "\n    ]\n") << "  }\n}\n";
  return os.str();
}

namespace detail {

/// Reads the fields of one JSON object against a schema, pointing every
/// error at the line and column of the offending value.
class plan_fields {
 public:
  plan_fields(const json::value& obj, std::string_view file, std::string prefix)
      : obj_(obj), file_(file), prefix_(std::move(prefix)), used_(obj.members.size(), false) {}

  [[noreturn]] void fail(const json::value& at, const std::string& msg) const {
    PAISPARSE_FAIL(file_ << ": line " << at.line << ", column " << at.column << ": " << msg);
  }

  /// The member `key` of kind `k`; null when absent and optional.
  const json::value* get(const char* key, json::kind k, const char* expect, bool required = true) {
    for (std::size_t i = 0; i < obj_.members.size(); ++i) {
      if (obj_.members[i].first != key) continue;
      used_[i] = true;
      const json::value& v = obj_.members[i].second;
      if (v.type != k)
        fail(v, "field '" + prefix_ + key + "' is " + json::to_string(v.type) + ": expected " + expect);
      return &v;
    }
    if (required) fail(obj_, "field '" + prefix_ + key + "' is missing from this object: expected " + expect);
    return nullptr;
  }

  std::string string(const char* key, const char* expect = "a string") { return get(key, json::kind::string, expect)->text; }

  int64_t integer(const char* key, int64_t lo, int64_t hi, bool required = true, int64_t fallback = 0) {
    const std::string expect = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
    const json::value* v = get(key, json::kind::number, expect.c_str(), required);
    if (!v) return fallback;
    const std::string& t = v->text;
    const bool integral = t.find_first_of(".eE") == std::string::npos;
    errno = 0;
    const long long x = integral ? std::strtoll(t.c_str(), nullptr, 10) : 0;
    if (!integral || errno == ERANGE || x < lo || x > hi)
      fail(*v, "field '" + prefix_ + key + "' = " + detail::io::quote(t) + ": expected " + expect);
    return x;
  }

  double number(const char* key, bool required = true) {
    const json::value* v = get(key, json::kind::number, "a number", required);
    if (!v) return 0;
    if (!std::isfinite(v->number)) fail(*v, "field '" + prefix_ + key + "' = " + detail::io::quote(v->text) + ": expected a finite number");
    return v->number;
  }

  bool boolean(const char* key, bool required = true) {
    const json::value* v = get(key, json::kind::boolean, "true or false", required);
    return v && v->boolean;
  }

  /// Every member must have been read: an unknown one is an error (a typo, or a newer format).
  void no_other_fields(const char* known) const {
    for (std::size_t i = 0; i < obj_.members.size(); ++i)
      if (!used_[i])
        fail(obj_.members[i].second, "unknown field '" + prefix_ + obj_.members[i].first + "': expected only " + known);
  }

 private:
  const json::value& obj_;
  std::string_view file_;
  std::string prefix_;
  std::vector<bool> used_;
};

inline bool parse_hex64(const std::string& s, uint64_t& out) {
  if (s.size() != 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  uint64_t v = 0;
  for (std::size_t i = 2; i < 18; ++i) {
    const char c = s[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

}  // namespace detail

/// Parses a plan file's text (`name` is the file, for messages). Throws
/// paisparse::error with the line and column for bad JSON, a missing or
/// unknown field, a field of the wrong type or range, or a configuration
/// name that does not parse or does not fit the operation and layouts.
inline plan_record parse_plan_record(std::string_view text, std::string_view name) {
  namespace json = detail::json;
  const json::value doc = json::parse(text, name);
  if (doc.type != json::kind::object)
    PAISPARSE_FAIL(name << ": line " << doc.line << ", column " << doc.column << ": the file holds "
                        << json::to_string(doc.type) << ": expected a plan object { ... }");
  detail::plan_fields f(doc, name, "");
  plan_record r;
  plan_key& k = r.key;

  const json::value* format = f.get("format", json::kind::string, "\"paisparse-plan\"");
  if (format->text != "paisparse-plan")
    f.fail(*format, "field 'format' = " + detail::io::quote(format->text) + ": expected \"paisparse-plan\" (not a paisparse plan file?)");
  f.integer("format_version", 1, 1);
  k.library_version = f.string("library_version", "a version string such as \"0.1.0\"");

  const json::value* op = f.get("operation", json::kind::string, "\"spmv\" or \"spmm\"");
  if (op->text != "spmv" && op->text != "spmm")
    f.fail(*op, "field 'operation' = " + detail::io::quote(op->text) + ": expected \"spmv\" or \"spmm\"");
  k.operation = op->text == "spmv" ? plan_operation::spmv : plan_operation::spmm;

  const json::value* vt = f.get("value_type", json::kind::string, "\"fp32\", \"fp16\" or \"bf16\"");
  if (vt->text != "fp32" && vt->text != "fp16" && vt->text != "bf16")
    f.fail(*vt, "field 'value_type' = " + detail::io::quote(vt->text) + ": expected \"fp32\", \"fp16\" or \"bf16\"");
  k.value_type = vt->text;

  constexpr int64_t i32max = std::numeric_limits<int32_t>::max();
  if (k.operation == plan_operation::spmv) {
    k.n = static_cast<int32_t>(f.integer("n", 1, 1));
  } else {
    k.n = static_cast<int32_t>(f.integer("max_n", 1, i32max));
    for (const char* key : {"b_layout", "c_layout"}) {
      const json::value* l = f.get(key, json::kind::string, "\"row_major\" or \"col_major\"");
      if (l->text != "row_major" && l->text != "col_major")
        f.fail(*l, std::string("field '") + key + "' = " + detail::io::quote(l->text) + ": expected \"row_major\" or \"col_major\"");
      (key[0] == 'b' ? k.b_layout : k.c_layout) =
          l->text == "row_major" ? dense_layout::row_major : dense_layout::col_major;
    }
  }
  k.weight.rows = static_cast<int32_t>(f.integer("rows", 0, i32max));
  k.weight.cols = static_cast<int32_t>(f.integer("cols", 0, i32max));
  k.weight.nnz = static_cast<int32_t>(f.integer("nnz", 0, i32max));
  for (const char* key : {"pattern_hash", "values_hash"}) {
    const json::value* h = f.get(key, json::kind::string, "\"0x\" and 16 hexadecimal digits");
    uint64_t v = 0;
    if (!detail::parse_hex64(h->text, v))
      f.fail(*h, std::string("field '") + key + "' = " + detail::io::quote(h->text) + ": expected \"0x\" and 16 hexadecimal digits");
    (key[0] == 'p' ? k.weight.pattern_hash : k.weight.values_hash) = v;
  }
  k.gpu.name = f.string("gpu_name");
  const json::value* cc = f.get("compute_capability", json::kind::string, "\"major.minor\", e.g. \"9.0\"");
  {
    const std::string& t = cc->text;
    const std::size_t dot = t.find('.');
    const bool ok = dot != std::string::npos && dot > 0 && dot < 4 && t.size() - dot - 1 > 0 &&
                    t.size() - dot - 1 < 4 &&
                    t.find_first_not_of("0123456789", 0) == dot &&
                    t.find_first_not_of("0123456789", dot + 1) == std::string::npos;
    if (!ok) f.fail(*cc, "field 'compute_capability' = " + detail::io::quote(t) + ": expected \"major.minor\", e.g. \"9.0\"");
    k.gpu.cc_major = std::atoi(t.substr(0, dot).c_str());
    k.gpu.cc_minor = std::atoi(t.substr(dot + 1).c_str());
  }

  const json::value* cfg = f.get("config", json::kind::string, "a configuration name");
  r.config = cfg->text;
  spmm_config parsed_spmm;
  try {
    if (k.operation == plan_operation::spmv) spmv_config::parse(r.config);
    else parsed_spmm = spmm_config::parse(r.config);
  } catch (const error& e) {
    f.fail(*cfg, "field 'config' = " + detail::io::quote(r.config, 100) + " is not a valid " + to_string(k.operation) +
                     " configuration name: " + e.what());
  }
  if (k.operation == plan_operation::spmm &&
      (parsed_spmm.b_layout != k.b_layout || parsed_spmm.c_layout != k.c_layout))
    f.fail(*cfg, "field 'config' = " + detail::io::quote(r.config, 100) + " serves " + to_string(parsed_spmm.b_layout) +
                     " B and " + to_string(parsed_spmm.c_layout) + " C: expected b_layout " + to_string(k.b_layout) +
                     ", c_layout " + to_string(k.c_layout) + " as the file says");

  if (const json::value* info = f.get("info", json::kind::object, "an object", false)) {
    detail::plan_fields g(*info, name, "info.");
    r.info.median_us = g.number("median_us", false);
    r.info.gbps = g.number("gbps", false);
    if (g.get("tuned_at", json::kind::string, "a string", false)) r.info.tuned_at = g.string("tuned_at");
    r.info.tune_seconds = g.number("tune_seconds", false);
    r.info.candidates = g.integer("candidates", 0, std::numeric_limits<int64_t>::max(), false);
    r.info.budget_exhausted = g.boolean("budget_exhausted", false);
    if (const json::value* top = g.get("top", json::kind::array, "an array of {\"config\", \"median_us\"}", false)) {
      for (const json::value& item : top->items) {
        if (item.type != json::kind::object)
          g.fail(item, std::string("an element of 'info.top' is ") + json::to_string(item.type) +
                           ": expected {\"config\": ..., \"median_us\": ...}");
        detail::plan_fields t(item, name, "info.top[].");
        plan_candidate_info c;
        c.config = t.string("config");
        c.median_us = t.number("median_us");
        t.no_other_fields("config, median_us");
        r.info.top.push_back(std::move(c));
      }
    }
    g.no_other_fields("median_us, gbps, tuned_at, tune_seconds, candidates, budget_exhausted, top");
  }
  f.no_other_fields(k.operation == plan_operation::spmv
                        ? "format, format_version, library_version, operation, value_type, n, rows, cols, nnz, "
                          "pattern_hash, values_hash, gpu_name, compute_capability, config, info"
                        : "format, format_version, library_version, operation, value_type, max_n, b_layout, "
                          "c_layout, rows, cols, nnz, pattern_hash, values_hash, gpu_name, compute_capability, "
                          "config, info");
  return r;
}

namespace detail {

/// Writes `text` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path` (readers see the old file or
/// the new one, never a partial one).
inline void write_file_atomic(const std::string& path, std::string_view text) {
  static std::atomic<unsigned> counter{0};
#if defined(__unix__) || defined(__APPLE__)
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  const std::string tmp = path + ".tmp." + std::to_string(pid) + "." + std::to_string(counter++);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  PAISPARSE_EXPECTS(f != nullptr, path << ": cannot write: cannot create the temporary file " << tmp << ": "
                                       << std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ok;
#if defined(__unix__) || defined(__APPLE__)
  ok = ::fsync(::fileno(f)) == 0 && ok;
#endif
  const int write_errno = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    PAISPARSE_FAIL(path << ": cannot write the temporary file " << tmp << ": " << std::strerror(write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    PAISPARSE_FAIL(path << ": cannot rename " << tmp << " to it: " << std::strerror(e));
  }
}

}  // namespace detail

/// Reads and parses a plan file (see parse_plan_record).
inline plan_record read_plan_file(const std::string& path) {
  return parse_plan_record(detail::io::read_file(path), path);
}

/// Writes a plan file atomically (temporary file + rename).
inline void write_plan_file(const std::string& path, const plan_record& r) {
  detail::write_file_atomic(path, format_plan_record(r));
}

/// A file name for a key: readable fields, then a hash of the whole key so
/// that keys differing anywhere (GPU, version, values) get different names:
///   spmv-4096x4096-nnz167772-fp16-n1-<16 hex>.json
///   spmm-4096x4096-nnz167772-fp16-n8-bcol-ccol-<16 hex>.json
inline std::string plan_file_name(const plan_key& k) {
  detail::hash64 h(0x706c616e6b6579ull);  // "plankey"
  h.add_string(to_string(k.operation));
  h.add_string(k.value_type);
  h.add(static_cast<uint64_t>(k.n));
  h.add(k.operation == plan_operation::spmm ? static_cast<uint64_t>(k.b_layout) * 2 + static_cast<uint64_t>(k.c_layout) : 0);
  h.add(static_cast<uint64_t>(k.weight.rows));
  h.add(static_cast<uint64_t>(k.weight.cols));
  h.add(static_cast<uint64_t>(k.weight.nnz));
  h.add(k.weight.pattern_hash);
  h.add(k.weight.values_hash);
  h.add_string(k.gpu.name);
  h.add(static_cast<uint64_t>(k.gpu.cc_major) << 32 | static_cast<uint32_t>(k.gpu.cc_minor));
  h.add_string(k.library_version);
  std::ostringstream os;
  os << to_string(k.operation) << '-' << k.weight.rows << 'x' << k.weight.cols << "-nnz" << k.weight.nnz << '-'
     << k.value_type << "-n" << k.n;
  if (k.operation == plan_operation::spmm)
    os << (k.b_layout == dense_layout::row_major ? "-brow" : "-bcol")
       << (k.c_layout == dense_layout::row_major ? "-crow" : "-ccol");
  os << '-' << detail::hex64(h.digest()).substr(2) << ".json";
  return os.str();
}

/// The current time, UTC, as ISO 8601 ("2025-01-31T12:00:00Z").
inline std::string utc_timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
#if defined(__unix__) || defined(__APPLE__)
  gmtime_r(&t, &tm);
#else
  tm = *std::gmtime(&t);
#endif
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace paisparse
