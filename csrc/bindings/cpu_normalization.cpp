// lamina._cpu batch-normalization entries: see csrc/cpu/batchnorm.h for the contract.
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/batchnorm.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

// A per-channel (C,) vector of x's dtype, or absent.
void expect_channels(const Arr& a, const Arr& x, const char* where, const char* name) {
  if (!a.present()) return;
  expect_dtype(a, x.dtype, where, name);
  expect_shape(a, {x.dim(1)}, where, name);
}

void forward_training_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                            double eps, py::handle y_obj, py::handle mean_obj,
                            py::handle var_obj) {
  constexpr const char* where = "batchnorm_forward_training";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr gamma = optional_array_arg(gamma_obj, where, "gamma");
  const Arr beta = optional_array_arg(beta_obj, where, "beta");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  const Arr mean = array_arg(mean_obj, where, "mean", kWrite);
  const Arr var = array_arg(var_obj, where, "variance", kWrite);
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  if (x.dim(0) < 1) fail_value(where, "x", "batch statistics need at least one row, got " + shape_string(x));
  if (!(eps > 0)) fail_value(where, "epsilon", "expected > 0, got " + std::to_string(eps));
  expect_channels(gamma, x, where, "gamma");
  expect_channels(beta, x, where, "beta");
  expect_channels(mean, x, where, "mean");
  expect_channels(var, x, where, "variance");
  expect_dtype(y, x.dtype, where, "y");
  expect_same_shape(y, x, where, "y", "x");
  expect_all_disjoint(where, {{y, "y"}, {mean, "mean"}, {var, "variance"}},
                      {{x, "x"}, {gamma, "gamma"}, {beta, "beta"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& a) { return a.present() ? a.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_forward_training<T>(x.dim(0), x.dim(1), x.ptr<T>(), p(gamma), p(beta),
                                  static_cast<T>(eps), y.ptr<T>(), mean.ptr<T>(), var.ptr<T>());
  });
}

void forward_inference_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                             py::handle mean_obj, py::handle var_obj, double eps,
                             py::handle y_obj) {
  constexpr const char* where = "batchnorm_forward_inference";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr gamma = optional_array_arg(gamma_obj, where, "gamma");
  const Arr beta = optional_array_arg(beta_obj, where, "beta");
  const Arr mean = array_arg(mean_obj, where, "mean");
  const Arr var = array_arg(var_obj, where, "variance");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  if (!(eps >= 0)) fail_value(where, "epsilon", "expected >= 0, got " + std::to_string(eps));
  expect_channels(gamma, x, where, "gamma");
  expect_channels(beta, x, where, "beta");
  expect_channels(mean, x, where, "mean");
  expect_channels(var, x, where, "variance");
  expect_dtype(y, x.dtype, where, "y");
  expect_same_shape(y, x, where, "y", "x");
  expect_all_disjoint(where, {{y, "y"}},
                      {{x, "x"}, {gamma, "gamma"}, {beta, "beta"}, {mean, "mean"},
                       {var, "variance"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& a) { return a.present() ? a.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_forward_inference<T>(x.dim(0), x.dim(1), x.ptr<T>(), p(gamma), p(beta),
                                   mean.ptr<T>(), var.ptr<T>(), static_cast<T>(eps), y.ptr<T>());
  });
}

void backward_entry(py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                    py::handle var_obj, double eps, py::handle dy_obj, bool training,
                    py::handle dx_obj, py::handle dgamma_obj, py::handle dbeta_obj) {
  constexpr const char* where = "batchnorm_backward";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr gamma = optional_array_arg(gamma_obj, where, "gamma");
  const Arr mean = array_arg(mean_obj, where, "mean");
  const Arr var = array_arg(var_obj, where, "variance");
  const Arr dy = array_arg(dy_obj, where, "dy");
  const Arr dx = optional_array_arg(dx_obj, where, "dx", kWrite);
  const Arr dgamma = optional_array_arg(dgamma_obj, where, "dgamma", kWrite);
  const Arr dbeta = optional_array_arg(dbeta_obj, where, "dbeta", kWrite);
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  if (!(eps >= 0)) fail_value(where, "epsilon", "expected >= 0, got " + std::to_string(eps));
  expect_channels(gamma, x, where, "gamma");
  expect_channels(mean, x, where, "mean");
  expect_channels(var, x, where, "variance");
  expect_channels(dgamma, x, where, "dgamma");
  expect_channels(dbeta, x, where, "dbeta");
  expect_dtype(dy, x.dtype, where, "dy");
  expect_same_shape(dy, x, where, "dy", "x");
  if (dx.present()) {
    expect_dtype(dx, x.dtype, where, "dx");
    expect_same_shape(dx, x, where, "dx", "x");
  }
  expect_all_disjoint(where, {{dx, "dx"}, {dgamma, "dgamma"}, {dbeta, "dbeta"}},
                      {{x, "x"}, {gamma, "gamma"}, {mean, "mean"}, {var, "variance"},
                       {dy, "dy"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& a) { return a.present() ? a.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_backward<T>(x.dim(0), x.dim(1), x.ptr<T>(), p(gamma), mean.ptr<T>(), var.ptr<T>(),
                          static_cast<T>(eps), dy.ptr<T>(), training, p(dx), p(dgamma),
                          p(dbeta));
  });
}

}  // namespace

void bind_normalization(py::module_& m) {
  m.def("batchnorm_forward_training", &forward_training_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"), py::arg("y"), py::arg("mean"), py::arg("variance"),
        "Batch statistics of x (rows, C) into mean/variance (biased), and the normalized y. "
        "gamma/beta may be None.");
  m.def("batchnorm_forward_inference", &forward_inference_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("mean"), py::arg("variance"), py::arg("epsilon"), py::arg("y"),
        "y = (x - mean) * gamma / sqrt(variance + epsilon) + beta with the given statistics.");
  m.def("batchnorm_backward", &backward_entry, py::arg("x"), py::arg("gamma"), py::arg("mean"),
        py::arg("variance"), py::arg("epsilon"), py::arg("dy"), py::arg("training"),
        py::arg("dx"), py::arg("dgamma"), py::arg("dbeta"),
        "Fused backward of batch normalization; training=True differentiates through the batch "
        "statistics. Assigns whichever of dx, dgamma, dbeta is not None.");
}

}  // namespace lamina::bind
