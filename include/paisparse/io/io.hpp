// paisparse: one entry point for weight files, dispatching on the extension.
//
//   host_csr<float> read_weight(path, options)
//   host_csr<float> parse_weight(bytes, name, options)   the same on bytes in memory
//
//   .mtx   Matrix Market coordinate (matrix_market.hpp); pattern values from seed
//   .smtx  DLMC sparsity pattern (smtx.hpp); values from seed
//   .npy   dense float32/float16 2-D array (npy.hpp); the nonzeros, or magnitude
//          pruning to options.sparsity when it is set
// The extension is matched case-insensitively; anything else is an error.
// options.sparsity applies to .npy only: .mtx and .smtx already are sparse.
// Convert the result with convert_values / convert_indices (format/csr.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "../format/csr.hpp"
#include "detail/parse.hpp"
#include "matrix_market.hpp"
#include "npy.hpp"
#include "smtx.hpp"

namespace paisparse {

struct weight_read_options {
  /// Seed of the values drawn for .smtx files and .mtx pattern files (uniform in [-1, 1)).
  uint64_t seed = 1;
  /// .npy only: prune by magnitude to this sparsity (0..1); unset keeps the nonzeros.
  std::optional<double> sparsity;
  /// .mtx only: what to do with a position given twice.
  duplicate_policy duplicates = duplicate_policy::reject;
  /// .mtx and .npy: more rows than this are rejected before allocating.
  int64_t max_rows = default_max_rows;
};

/// The weight formats read_weight understands.
enum class weight_format { mtx, smtx, npy };

inline const char* to_string(weight_format f) {
  switch (f) {
    case weight_format::mtx: return "mtx";
    case weight_format::smtx: return "smtx";
    case weight_format::npy: return "npy";
  }
  return "?";
}

/// The format named by a path's extension (case-insensitive); throws for others.
inline weight_format weight_format_of(std::string_view path) {
  const std::string p = detail::io::lower(path);
  const auto ends_with = [&](std::string_view ext) {
    return p.size() >= ext.size() && std::string_view(p).substr(p.size() - ext.size()) == ext;
  };
  if (ends_with(".smtx")) return weight_format::smtx;
  if (ends_with(".mtx")) return weight_format::mtx;
  if (ends_with(".npy")) return weight_format::npy;
  const std::size_t slash = path.find_last_of('/');
  const std::size_t dot = path.find_last_of('.');
  const bool has_ext = dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash);
  PAISPARSE_FAIL(path << ": unsupported extension " << detail::io::quote(has_ext ? path.substr(dot) : std::string_view())
                      << ": expected .mtx, .smtx or .npy");
}

/// Parses weight bytes already in memory; the format comes from `name`'s extension.
inline host_csr<float, int32_t> parse_weight(std::string_view bytes, std::string_view name,
                                             const weight_read_options& opt = {}) {
  switch (weight_format_of(name)) {
    case weight_format::mtx: {
      mtx_options o;
      o.seed = opt.seed;
      o.duplicates = opt.duplicates;
      o.max_rows = opt.max_rows;
      return parse_mtx(bytes, name, o);
    }
    case weight_format::smtx: {
      smtx_options o;
      o.seed = opt.seed;
      return parse_smtx(bytes, name, o);
    }
    case weight_format::npy: {
      npy_options o;
      o.max_rows = opt.max_rows;
      const npy_array a = parse_npy(bytes, name, o);
      return opt.sparsity ? npy_prune(a, *opt.sparsity) : npy_to_csr(a);
    }
  }
  PAISPARSE_FAIL(name << ": unknown weight format");
}

/// Reads a weight file; the format comes from the extension (see the top of this header).
inline host_csr<float, int32_t> read_weight(const std::string& path, const weight_read_options& opt = {}) {
  weight_format_of(path);  // an unsupported extension fails before the file is read
  const std::string bytes = detail::io::read_file(path);
  return parse_weight(bytes, path, opt);
}

}  // namespace paisparse
