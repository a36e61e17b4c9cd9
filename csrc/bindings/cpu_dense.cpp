// lamina._cpu.dense_forward / dense_backward: see csrc/cpu/dense.h.
#include "bindings/activation_args.h"
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/fastcall.h"
#include "bindings/overlap.h"
#include "cpu/dense.h"

namespace lamina::bind {

namespace {

// A 2-D (or 1-D for biases) array of `dtype` with the given shape (-1: any).
Arr matrix_arg(py::handle obj, const char* where, const char* name, Access access, DType dtype,
               std::initializer_list<std::int64_t> shape, bool optional = false) {
  const Arr a = optional ? optional_array_arg(obj, where, name, access)
                         : array_arg(obj, where, name, access);
  if (!a.present()) return a;
  expect_dtype(a, dtype, where, name);
  expect_shape(a, shape, where, name);
  return a;
}

void dense_forward_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle z_obj,
                         py::handle y_obj, int kind_code, py::handle alpha_obj) {
  constexpr const char* where = "dense_forward";
  const Activation kind = activation_arg(kind_code, where);
  const double alpha = alpha_arg(alpha_obj, kind, where);
  const Arr x = array_arg(x_obj, where, "x");
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  const std::int64_t N = x.dim(0), F = x.dim(1);
  const Arr y = matrix_arg(y_obj, where, "y", kWrite, x.dtype, {N, -1});
  const std::int64_t U = y.dim(1);
  const Arr w = matrix_arg(w_obj, where, "w", kRead, x.dtype, {F, U});
  const Arr b = matrix_arg(b_obj, where, "b", kRead, x.dtype, {U}, true);
  const Arr z = matrix_arg(z_obj, where, "z", kWrite, x.dtype, {N, U}, true);
  for (const Arr* out : {&z, &y}) {
    const char* name = out == &z ? "z" : "y";
    expect_disjoint(*out, x, where, name, "x");
    expect_disjoint(*out, w, where, name, "w");
    expect_disjoint(*out, b, where, name, "b");
  }
  expect_disjoint(z, y, where, "z", "y");
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(N * F * U >= kGilMinMacs);
    dense_forward<T>(x.ptr<T>(), w.ptr<T>(), b.ptr<T>(), z.ptr<T>(), y.ptr<T>(), N, F, U, kind,
                     static_cast<T>(alpha));
  });
}

void dense_backward_entry(py::handle x_obj, py::handle w_obj, py::handle z_obj, py::handle y_obj,
                          py::handle dy_obj, py::handle dx_obj, py::handle dw_obj,
                          py::handle db_obj, py::handle dz_obj, int kind_code,
                          py::handle alpha_obj) {
  constexpr const char* where = "dense_backward";
  const Activation kind = activation_arg(kind_code, where);
  const double alpha = alpha_arg(alpha_obj, kind, where);
  const bool linear = kind == Activation::linear;
  const bool needs_z = activation_needs_input(kind, alpha);
  const bool needs_y = !needs_z && !linear;
  const Arr x = array_arg(x_obj, where, "x");
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  const DType dt = x.dtype;
  const std::int64_t N = x.dim(0), F = x.dim(1);
  const Arr dy = matrix_arg(dy_obj, where, "dy", kRead, dt, {N, -1});
  const std::int64_t U = dy.dim(1);
  const Arr w = matrix_arg(w_obj, where, "w", kRead, dt, {F, U});
  if (needs_z && z_obj.is_none()) {
    fail_value(where, "z", std::string("the '") + activation_name(kind) +
                               "' activation needs the pre-activation z for the backward pass, "
                               "got None");
  }
  if (needs_y && y_obj.is_none()) {
    fail_value(where, "y", std::string("the '") + activation_name(kind) +
                               "' activation differentiates from its output y, got None");
  }
  if (!linear && dz_obj.is_none()) {
    fail_value(where, "dz", std::string("the '") + activation_name(kind) +
                                "' activation needs a (N, U) workspace dz, got None");
  }
  const Arr z = matrix_arg(z_obj, where, "z", kRead, dt, {N, U}, true);
  const Arr y = matrix_arg(y_obj, where, "y", kRead, dt, {N, U}, true);
  const Arr dx = matrix_arg(dx_obj, where, "dx", kWrite, dt, {N, F}, true);
  const Arr dw = matrix_arg(dw_obj, where, "dw", kWrite, dt, {F, U});
  const Arr db = matrix_arg(db_obj, where, "db", kWrite, dt, {U}, true);
  const Arr dz = matrix_arg(dz_obj, where, "dz", kWrite, dt, {N, U}, true);
  // dz may be dy; every other output is disjoint from everything else.
  expect_same_or_disjoint(dz, dy, where, "dz", "dy");
  const std::pair<const Arr*, const char*> inputs[] = {{&x, "x"}, {&w, "w"}, {&z, "z"}, {&y, "y"}};
  const std::pair<const Arr*, const char*> outputs[] = {{&dx, "dx"}, {&dw, "dw"}, {&db, "db"}};
  for (const auto& [in, in_name] : inputs) expect_disjoint(dz, *in, where, "dz", in_name);
  for (const auto& [out, out_name] : outputs) {
    for (const auto& [in, in_name] : inputs) expect_disjoint(*out, *in, where, out_name, in_name);
    expect_disjoint(*out, dy, where, out_name, "dy");
    expect_disjoint(*out, dz, where, out_name, "dz");
  }
  expect_disjoint(dx, dw, where, "dx", "dw");
  expect_disjoint(dx, db, where, "dx", "db");
  expect_disjoint(dw, db, where, "dw", "db");
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(N * F * U >= kGilMinMacs);
    dense_backward<T>(x.ptr<T>(), w.ptr<T>(), needs_z ? z.ptr<T>() : nullptr,
                      needs_y ? y.ptr<T>() : nullptr, dy.ptr<T>(), dx.ptr<T>(), dw.ptr<T>(),
                      db.ptr<T>(), linear ? nullptr : dz.ptr<T>(), N, F, U, kind,
                      static_cast<T>(alpha));
  });
}

}  // namespace

void bind_dense(py::module_& m) {
  // METH_FASTCALL (fastcall.h): a Dense layer makes these two calls every step, and their 7 and
  // 11 parameters cost pybind11's dispatcher more than a small layer's argument checks.
  def_fast<&dense_forward_entry>(
      m, "dense_forward",
      "y = act(x @ w + b) in one call: x (N, F), w (F, U), b (U,) or None, y (N, U); z (N, U) "
      "receives the pre-activation when given (None: not kept). C-contiguous, one float dtype.",
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("z"), py::arg("y"), py::arg("kind"),
      py::arg("alpha") = py::none());
  def_fast<&dense_backward_entry>(
      m, "dense_backward",
      "Given dy (N, U): dz = act'(z) * dy into the workspace dz (may be dy; None for linear), "
      "dw = x^T dz, db = column sums of dz (None: no bias), dx = dz w^T (None: not needed), "
      "all assigned. z may be None for the kinds that differentiate from y.",
      py::arg("x"), py::arg("w"), py::arg("z"), py::arg("y"), py::arg("dy"), py::arg("dx"),
      py::arg("dw"), py::arg("db"), py::arg("dz"), py::arg("kind"), py::arg("alpha") = py::none());
}

}  // namespace lamina::bind
