// paisparse: sparse kernels for pruned neural-network weights.
// Umbrella header: the public API.
#pragma once

#include "error.hpp"
#include "types.hpp"
#include "format/csr.hpp"
#include "format/schedule.hpp"
#include "format/device_schedule.cuh"
#include "format/random.hpp"
#include "prolog/vector_prolog.cuh"
#include "reduction/four_stage.cuh"
#include "epilog/linear_epilog.cuh"
#include "kernels/spmv_kernel.cuh"
#include "reference.hpp"
#include "io/io.hpp"
#include "tuning/config.hpp"
#include "tuning/registry.cuh"
#include "tuning/plan.cuh"
#include "tuning/timing.cuh"
#include "tuning/tuner.cuh"
#include "format/dense.hpp"
#include "format/spmm_schedule.cuh"
#include "prolog/spmm_prolog.cuh"
#include "reduction/column_tile_reduction.cuh"
#include "kernels/spmm_kernel.cuh"
#include "spmm_reference.hpp"
#include "tuning/spmm_config.hpp"
#include "tuning/spmm_registry.cuh"
#include "tuning/spmm_plan.cuh"
#include "tuning/spmm_tuner.cuh"

#define PAISPARSE_VERSION_MAJOR 0
#define PAISPARSE_VERSION_MINOR 1
#define PAISPARSE_VERSION_PATCH 0
#define PAISPARSE_VERSION_STRING "0.1.0"
