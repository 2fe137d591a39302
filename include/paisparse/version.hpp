// paisparse: the library version.
//
// Kept equal to project(VERSION) in the top-level CMakeLists.txt: configuring
// fails when they differ, and the plan-file CPU test compares them too. The
// version is part of every plan file's key (tuning/plan_file.hpp): a plan
// tuned by another version is not reused.
#pragma once

#define PAISPARSE_VERSION_MAJOR 0
#define PAISPARSE_VERSION_MINOR 1
#define PAISPARSE_VERSION_PATCH 0
#define PAISPARSE_VERSION_STRING "0.1.0"

namespace paisparse {

/// "major.minor.patch" of this copy of the headers.
inline constexpr const char* version_string = PAISPARSE_VERSION_STRING;

}  // namespace paisparse
