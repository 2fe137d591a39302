// paisparse: saving and loading tuned plans, and a plan cache directory.
//
// Plan files (tuning/plan_file.hpp) record a tuned configuration with the key
// it is valid for: the weight's fingerprint, value type, N and layouts, the
// GPU and the library version. This header ties them to the tuners:
//
//   // one file, chosen by the caller
//   auto tuned = tune_spmv(w, opt);
//   save_spmv_plan("ffn1.plan.json", w, tuned);
//   spmv_plan<__half> p = load_spmv_plan("ffn1.plan.json", w);   // refuses another weight, GPU, version
//   spmv_plan<__half> q = open_spmv_plan("ffn1.plan.json", w, on_key_mismatch::retune, opt);  // or tunes
//
//   // a cache directory: tune once per (weight, type, N, layouts, GPU, version)
//   plan_cache cache("plans/");
//   spmv_plan<__half> p = cache.spmv(w, opt);        // tunes and saves on the first start
//   spmm_plan<__half> q = cache.spmm(w, 8, {}, opt); // ... loads on the next
//   if (cache.last().hit) ...                        // how the last plan was obtained
//
// A malformed plan file is always an error (file, line, column); a file
// whose key differs is refused or retuned as the caller chooses
// (on_key_mismatch). A configuration the program cannot build (its kernel is
// not in this build's compiled-in space) counts as a mismatch. Tune options
// (filter, index kinds, budget) are not part of the key: a cached plan is
// reused whatever options tuned it. Files are written atomically (temporary
// file, then rename).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "../format/csr.hpp"
#include "plan.cuh"
#include "plan_file.hpp"
#include "spmm_plan.cuh"
#include "spmm_tuner.cuh"
#include "tuner.cuh"

namespace paisparse {

/// What a load does when the plan file's key differs from the caller's (or
/// its configuration cannot be built in this program).
enum class on_key_mismatch {
  refuse,  // throw paisparse::error naming each differing field and both values
  retune,  // tune again and overwrite the file
};

/// How a plan was obtained.
struct plan_lookup {
  bool hit = false;     // true: built from the file, no tuning
  std::string path;     // the plan file
  std::string reason;   // when tuned: why ("no plan file", or what differed)
  plan_record record;   // the record loaded, or the one written
  double seconds = 0;   // the whole lookup (fingerprint, read, build; or tune and write)
};

namespace detail {

/// The record of a tuner's result (spmv_tune_result or spmm_tune_result) for
/// `key`, keeping the first `top` candidates that passed.
template <class TuneResult>
plan_record tuned_plan_record(const plan_key& key, const TuneResult& r, std::size_t top) {
  plan_record rec;
  rec.key = key;
  rec.config = r.plan.name();
  for (const auto& c : r.candidates) {
    if (c.status != candidate_status::ok) continue;
    if (rec.info.top.empty()) rec.info.median_us = c.median_us, rec.info.gbps = c.gbps;
    if (rec.info.top.size() < top) rec.info.top.push_back({c.config.name(), c.median_us});
  }
  rec.info.tuned_at = utc_timestamp();
  rec.info.tune_seconds = r.seconds;
  rec.info.candidates = static_cast<int64_t>(r.candidates.size());
  rec.info.budget_exhausted = r.budget_exhausted;
  return rec;
}

/// Throws unless the tuned plan has the weight's shape.
template <class T, class Plan>
void expect_plan_of(const std::string& path, const host_csr<T, int32_t>& w, const Plan& plan) {
  PAISPARSE_EXPECTS(plan.rows() == w.rows() && plan.cols() == w.cols(),
                    path << ": the tuned plan is " << plan.rows() << " x " << plan.cols() << ", the weight "
                         << w.rows() << " x " << w.cols());
}

}  // namespace detail

/// The record of a tuning result for `key` (top: how many candidates to keep).
template <class T>
plan_record make_plan_record(const plan_key& key, const spmv_tune_result<T>& r, std::size_t top = 5) {
  return detail::tuned_plan_record(key, r, top);
}

template <class T>
plan_record make_plan_record(const plan_key& key, const spmm_tune_result<T>& r, std::size_t top = 5) {
  return detail::tuned_plan_record(key, r, top);
}

/// Saves a tuned SpMV plan for `w` on the current GPU (atomic write); returns the record.
template <class T>
plan_record save_spmv_plan(const std::string& path, const host_csr<T, int32_t>& w, const spmv_tune_result<T>& r) {
  detail::expect_plan_of(path, w, r.plan);
  plan_record rec = make_plan_record(spmv_plan_key(w, current_gpu_identity()), r);
  write_plan_file(path, rec);
  return rec;
}

/// Saves a tuned SpMM plan for `w` (max_n = the N tuned for, layouts from its configuration).
template <class T>
plan_record save_spmm_plan(const std::string& path, const host_csr<T, int32_t>& w, const spmm_tune_result<T>& r) {
  detail::expect_plan_of(path, w, r.plan);
  const spmm_config& c = r.plan.config();
  plan_record rec = make_plan_record(spmm_plan_key(w, r.plan.max_n(), c.b_layout, c.c_layout, current_gpu_identity()), r);
  write_plan_file(path, rec);
  return rec;
}

namespace detail {

/// The common path of every load: read the file if there is one, compare
/// keys, build the plan from the configuration name; otherwise (by policy)
/// tune and write the file.
template <class Plan, class Build, class Tune>
Plan open_plan(const std::string& path, const plan_key& key, on_key_mismatch policy, bool tune_if_missing,
               Build&& build, Tune&& tune, plan_lookup* out) {
  const auto t0 = std::chrono::steady_clock::now();
  plan_lookup lk;
  lk.path = path;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    plan_record rec = read_plan_file(path);  // malformed: always an error
    const std::vector<key_difference> diff = compare_plan_keys(rec.key, key);
    if (diff.empty()) {
      try {
        Plan p = build(rec.config);
        lk.hit = true;
        lk.record = std::move(rec);
        lk.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (out) *out = std::move(lk);
        return p;
      } catch (const error& e) {
        lk.reason = "its configuration " + rec.config + " cannot be built in this program: " + e.what();
        PAISPARSE_EXPECTS(policy == on_key_mismatch::retune,
                          path << ": " << lk.reason << " (on_key_mismatch::retune would tune again)");
      }
    } else {
      lk.reason = "the plan was made for another setting: " + describe(diff);
      PAISPARSE_EXPECTS(policy == on_key_mismatch::retune,
                        path << ": the plan was made for another setting and is not reused: " << describe(diff)
                             << " (on_key_mismatch::retune would tune again)");
    }
  } else {
    PAISPARSE_EXPECTS(tune_if_missing, path << ": no such plan file"
                                            << (ec ? " (" + ec.message() + ")" : std::string()));
    lk.reason = "no plan file";
  }
  std::pair<Plan, plan_record> tuned = tune();
  tuned.second.key = key;
  write_plan_file(path, tuned.second);
  lk.record = std::move(tuned.second);
  lk.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out) *out = std::move(lk);
  return std::move(tuned.first);
}

}  // namespace detail

/// The SpMV plan in `path` for `w` on the current GPU. A missing file is an
/// error; a key mismatch is refused (an error naming the fields) or retuned
/// and the file overwritten, per `policy`. `lookup` (optional) tells which.
template <class T>
spmv_plan<T> open_spmv_plan(const std::string& path, const host_csr<T, int32_t>& w,
                            on_key_mismatch policy = on_key_mismatch::refuse, const tune_options& opt = {},
                            plan_lookup* lookup = nullptr) {
  const plan_key key = spmv_plan_key(w, current_gpu_identity());
  return detail::open_plan<spmv_plan<T>>(
      path, key, policy, false, [&](const std::string& name) { return spmv_plan<T>(w, name); },
      [&] {
        spmv_tune_result<T> r = tune_spmv(w, opt);
        plan_record rec = make_plan_record(key, r);
        return std::pair<spmv_plan<T>, plan_record>(std::move(r.plan), std::move(rec));
      },
      lookup);
}

/// Same for SpMM: the plan in `path` for `w`, N up to max_n, and the layouts.
template <class T>
spmm_plan<T> open_spmm_plan(const std::string& path, const host_csr<T, int32_t>& w, int32_t max_n,
                            spmm_layouts layouts = {}, on_key_mismatch policy = on_key_mismatch::refuse,
                            const tune_options& opt = {}, plan_lookup* lookup = nullptr) {
  const plan_key key = spmm_plan_key(w, max_n, layouts.b, layouts.c, current_gpu_identity());
  return detail::open_plan<spmm_plan<T>>(
      path, key, policy, false, [&](const std::string& name) { return spmm_plan<T>(w, name, max_n); },
      [&] {
        spmm_tune_result<T> r = tune_spmm(w, max_n, layouts, opt);
        plan_record rec = make_plan_record(key, r);
        return std::pair<spmm_plan<T>, plan_record>(std::move(r.plan), std::move(rec));
      },
      lookup);
}

/// Loads an SpMV plan; throws if the file is missing, malformed, or made for
/// another weight, type, GPU or library version.
template <class T>
spmv_plan<T> load_spmv_plan(const std::string& path, const host_csr<T, int32_t>& w) {
  return open_spmv_plan(path, w, on_key_mismatch::refuse);
}

/// Loads an SpMM plan (same rules; max_n and layouts are part of the key).
template <class T>
spmm_plan<T> load_spmm_plan(const std::string& path, const host_csr<T, int32_t>& w, int32_t max_n,
                            spmm_layouts layouts = {}) {
  return open_spmm_plan(path, w, max_n, layouts, on_key_mismatch::refuse);
}

/// A directory of plan files, one per (weight, value type, N, layouts, GPU,
/// library version), named by plan_file_name(key). A lookup tunes and saves
/// on a miss and loads on a hit; last() says which happened. A file whose
/// content does not match its key (edited by hand, a name collision) is
/// retuned and overwritten, or refused, per the policy. Not thread-safe:
/// use one cache object per thread (several processes may share the
/// directory; a file is replaced atomically).
class plan_cache {
 public:
  explicit plan_cache(std::string dir, on_key_mismatch policy = on_key_mismatch::retune)
      : dir_(std::move(dir)), policy_(policy) {
    PAISPARSE_EXPECTS(!dir_.empty(), "plan_cache: the directory name is empty");
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    PAISPARSE_EXPECTS(!ec && std::filesystem::is_directory(dir_, ec),
                      "plan_cache: cannot create the directory " << dir_ << ": "
                                                                 << (ec ? ec.message() : "not a directory"));
  }

  /// The SpMV plan for `w` on the current GPU: loaded, or tuned with `opt` and saved.
  template <class T>
  spmv_plan<T> spmv(const host_csr<T, int32_t>& w, const tune_options& opt = {}) {
    const plan_key key = spmv_plan_key(w, gpu());
    return detail::open_plan<spmv_plan<T>>(
        path_for(key), key, policy_, true, [&](const std::string& name) { return spmv_plan<T>(w, name); },
        [&] {
          spmv_tune_result<T> r = tune_spmv(w, opt);
          plan_record rec = make_plan_record(key, r);
          return std::pair<spmv_plan<T>, plan_record>(std::move(r.plan), std::move(rec));
        },
        &last_);
  }

  /// The SpMM plan for `w`, N up to n and the layouts: loaded, or tuned and saved.
  template <class T>
  spmm_plan<T> spmm(const host_csr<T, int32_t>& w, int32_t n, spmm_layouts layouts = {},
                    const tune_options& opt = {}) {
    const plan_key key = spmm_plan_key(w, n, layouts.b, layouts.c, gpu());
    return detail::open_plan<spmm_plan<T>>(
        path_for(key), key, policy_, true, [&](const std::string& name) { return spmm_plan<T>(w, name, n); },
        [&] {
          spmm_tune_result<T> r = tune_spmm(w, n, layouts, opt);
          plan_record rec = make_plan_record(key, r);
          return std::pair<spmm_plan<T>, plan_record>(std::move(r.plan), std::move(rec));
        },
        &last_);
  }

  /// Stores a tuning result made elsewhere (e.g. with a table to print); returns the file's path.
  template <class T>
  std::string store(const host_csr<T, int32_t>& w, const spmv_tune_result<T>& r) {
    const plan_key key = spmv_plan_key(w, gpu());
    const std::string path = path_for(key);
    write_plan_file(path, make_plan_record(key, r));
    return path;
  }
  template <class T>
  std::string store(const host_csr<T, int32_t>& w, const spmm_tune_result<T>& r) {
    const spmm_config& c = r.plan.config();
    const plan_key key = spmm_plan_key(w, r.plan.max_n(), c.b_layout, c.c_layout, gpu());
    const std::string path = path_for(key);
    write_plan_file(path, make_plan_record(key, r));
    return path;
  }

  /// The file a key maps to.
  std::string path_for(const plan_key& key) const {
    return (std::filesystem::path(dir_) / plan_file_name(key)).string();
  }

  /// How the last spmv() or spmm() call obtained its plan.
  const plan_lookup& last() const { return last_; }
  const std::string& dir() const { return dir_; }
  on_key_mismatch policy() const { return policy_; }

 private:
  static gpu_identity gpu() { return current_gpu_identity(); }  // the current device, at each lookup

  std::string dir_;
  on_key_mismatch policy_;
  plan_lookup last_;
};

}  // namespace paisparse
