// Argument checks of the batch-normalization entries (batchnorm_forward_training,
// batchnorm_forward_inference, batchnorm_backward), shared by lamina._cpu
// (cpu_normalization.cpp) and lamina._cuda (cuda_normalization.cpp): the same checks and
// messages by construction. The templates take the module's array type and reader (arrays.h's
// ArrayReader).
#pragma once

#include <string>

#include "bindings/arrays.h"
#include "bindings/overlap.h"

namespace lamina::bind {

// A per-channel (C,) vector of x's dtype, or absent.
inline void expect_channels(const Arr& a, const Arr& x, const char* where, const char* name) {
  if (!a.present()) return;
  expect_dtype(a, x.dtype, where, name);
  expect_shape(a, {x.dim(1)}, where, name);
}

// Every entry's x (rows, C) of a float dtype.
inline void expect_rows_of_channels(const Arr& x, const char* where) {
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
}

template <class A, ArrayReader<A> Read>
struct BatchNormTrainingArgs {
  A x, gamma, beta, y, mean, var;  // gamma / beta may be absent
};

template <class A, ArrayReader<A> Read>
BatchNormTrainingArgs<A, Read> batchnorm_forward_training_args(
    py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, double eps, py::handle y_obj,
    py::handle mean_obj, py::handle var_obj) {
  constexpr const char* where = "batchnorm_forward_training";
  BatchNormTrainingArgs<A, Read> a;
  a.x = read_array<A, Read>(x_obj, where, "x");
  a.gamma = read_optional<A, Read>(gamma_obj, where, "gamma");
  a.beta = read_optional<A, Read>(beta_obj, where, "beta");
  a.y = read_array<A, Read>(y_obj, where, "y", kWrite);
  a.mean = read_array<A, Read>(mean_obj, where, "mean", kWrite);
  a.var = read_array<A, Read>(var_obj, where, "variance", kWrite);
  expect_rows_of_channels(a.x, where);
  if (a.x.dim(0) < 1) {
    fail_value(where, "x", "batch statistics need at least one row, got " + shape_string(a.x));
  }
  if (!(eps > 0)) fail_value(where, "epsilon", "expected > 0, got " + std::to_string(eps));
  expect_channels(a.gamma, a.x, where, "gamma");
  expect_channels(a.beta, a.x, where, "beta");
  expect_channels(a.mean, a.x, where, "mean");
  expect_channels(a.var, a.x, where, "variance");
  expect_dtype(a.y, a.x.dtype, where, "y");
  expect_same_shape(a.y, a.x, where, "y", "x");
  expect_all_disjoint(where, {{a.y, "y"}, {a.mean, "mean"}, {a.var, "variance"}},
                      {{a.x, "x"}, {a.gamma, "gamma"}, {a.beta, "beta"}});
  return a;
}

template <class A, ArrayReader<A> Read>
struct BatchNormInferenceArgs {
  A x, gamma, beta, mean, var, y;  // gamma / beta may be absent
};

template <class A, ArrayReader<A> Read>
BatchNormInferenceArgs<A, Read> batchnorm_forward_inference_args(
    py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, py::handle mean_obj,
    py::handle var_obj, double eps, py::handle y_obj) {
  constexpr const char* where = "batchnorm_forward_inference";
  BatchNormInferenceArgs<A, Read> a;
  a.x = read_array<A, Read>(x_obj, where, "x");
  a.gamma = read_optional<A, Read>(gamma_obj, where, "gamma");
  a.beta = read_optional<A, Read>(beta_obj, where, "beta");
  a.mean = read_array<A, Read>(mean_obj, where, "mean");
  a.var = read_array<A, Read>(var_obj, where, "variance");
  a.y = read_array<A, Read>(y_obj, where, "y", kWrite);
  expect_rows_of_channels(a.x, where);
  if (!(eps >= 0)) fail_value(where, "epsilon", "expected >= 0, got " + std::to_string(eps));
  expect_channels(a.gamma, a.x, where, "gamma");
  expect_channels(a.beta, a.x, where, "beta");
  expect_channels(a.mean, a.x, where, "mean");
  expect_channels(a.var, a.x, where, "variance");
  expect_dtype(a.y, a.x.dtype, where, "y");
  expect_same_shape(a.y, a.x, where, "y", "x");
  expect_all_disjoint(where, {{a.y, "y"}},
                      {{a.x, "x"}, {a.gamma, "gamma"}, {a.beta, "beta"}, {a.mean, "mean"},
                       {a.var, "variance"}});
  return a;
}

template <class A, ArrayReader<A> Read>
struct BatchNormBackwardArgs {
  A x, gamma, mean, var, dy, dx, dgamma, dbeta;  // optional: gamma, d*
};

template <class A, ArrayReader<A> Read>
BatchNormBackwardArgs<A, Read> batchnorm_backward_args(py::handle x_obj, py::handle gamma_obj,
                                                      py::handle mean_obj, py::handle var_obj,
                                                      double eps, py::handle dy_obj,
                                                      py::handle dx_obj, py::handle dgamma_obj,
                                                      py::handle dbeta_obj) {
  constexpr const char* where = "batchnorm_backward";
  BatchNormBackwardArgs<A, Read> a;
  a.x = read_array<A, Read>(x_obj, where, "x");
  a.gamma = read_optional<A, Read>(gamma_obj, where, "gamma");
  a.mean = read_array<A, Read>(mean_obj, where, "mean");
  a.var = read_array<A, Read>(var_obj, where, "variance");
  a.dy = read_array<A, Read>(dy_obj, where, "dy");
  a.dx = read_optional<A, Read>(dx_obj, where, "dx", kWrite);
  a.dgamma = read_optional<A, Read>(dgamma_obj, where, "dgamma", kWrite);
  a.dbeta = read_optional<A, Read>(dbeta_obj, where, "dbeta", kWrite);
  expect_rows_of_channels(a.x, where);
  if (!(eps >= 0)) fail_value(where, "epsilon", "expected >= 0, got " + std::to_string(eps));
  expect_channels(a.gamma, a.x, where, "gamma");
  expect_channels(a.mean, a.x, where, "mean");
  expect_channels(a.var, a.x, where, "variance");
  expect_channels(a.dgamma, a.x, where, "dgamma");
  expect_channels(a.dbeta, a.x, where, "dbeta");
  expect_dtype(a.dy, a.x.dtype, where, "dy");
  expect_same_shape(a.dy, a.x, where, "dy", "x");
  if (a.dx.present()) {
    expect_dtype(a.dx, a.x.dtype, where, "dx");
    expect_same_shape(a.dx, a.x, where, "dx", "x");
  }
  expect_all_disjoint(where, {{a.dx, "dx"}, {a.dgamma, "dgamma"}, {a.dbeta, "dbeta"}},
                      {{a.x, "x"}, {a.gamma, "gamma"}, {a.mean, "mean"}, {a.var, "variance"},
                       {a.dy, "dy"}});
  return a;
}

}  // namespace lamina::bind
