// lamina._cpu.activation_forward / activation_backward: see csrc/cpu/activations.h.
#include "bindings/activation_args.h"
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/activations.h"

namespace lamina::bind {

Activation activation_arg(int kind, const char* where) {
  if (kind < 0 || kind >= kActivationCount) {
    fail_value(where, "kind", "expected an activation code in [0, " +
                                  std::to_string(kActivationCount) +
                                  ") (see lamina._cpu.ACTIVATIONS), got " + std::to_string(kind));
  }
  return static_cast<Activation>(kind);
}

double alpha_arg(py::handle alpha, Activation kind, const char* where) {
  if (alpha.is_none()) return activation_default_alpha(kind);
  if (!PyFloat_Check(alpha.ptr()) && !PyLong_Check(alpha.ptr())) {
    fail_type(where, "alpha", std::string("expected a float or None, got ") +
                                  Py_TYPE(alpha.ptr())->tp_name);
  }
  return alpha.cast<double>();
}

namespace {

// (rows, cols) of an array whose last axis is the softmax axis.
void rows_cols(const Arr& a, std::int64_t* rows, std::int64_t* cols) {
  *cols = a.dim(a.ndim - 1);
  *rows = 1;
  for (int i = 0; i + 1 < a.ndim; ++i) *rows *= a.dim(i);
}

void expect_at_least_1d(const Arr& a, const char* where, const char* name) {
  if (a.ndim < 1) {
    fail_value(where, name, "expected an array with at least 1 dimension, got shape " +
                                shape_string(a));
  }
}

void activation_forward_entry(py::handle x_obj, py::handle y_obj, int kind_code,
                              py::handle alpha_obj) {
  constexpr const char* where = "activation_forward";
  const Activation kind = activation_arg(kind_code, where);
  const double alpha = alpha_arg(alpha_obj, kind, where);
  const Arr x = array_arg(x_obj, where, "x");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  expect_float(x, where, "x");
  expect_dtype(y, x.dtype, where, "y");
  expect_at_least_1d(x, where, "x");
  expect_same_shape(y, x, where, "y", "x");
  expect_same_or_disjoint(y, x, where, "y", "x");
  std::int64_t rows, cols;
  rows_cols(x, &rows, &cols);
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(rows * cols >= kGilMinElements);
    activation_forward<T>(kind, x.ptr<T>(), y.ptr<T>(), rows, cols, static_cast<T>(alpha));
  });
}

void activation_backward_entry(py::handle x_obj, py::handle y_obj, py::handle dy_obj,
                               py::handle dx_obj, int kind_code, py::handle alpha_obj) {
  constexpr const char* where = "activation_backward";
  const Activation kind = activation_arg(kind_code, where);
  const double alpha = alpha_arg(alpha_obj, kind, where);
  const bool needs_x = activation_needs_input(kind, alpha);
  const bool needs_y = !needs_x && kind != Activation::linear;
  const Arr dy = array_arg(dy_obj, where, "dy");
  const Arr dx = array_arg(dx_obj, where, "dx", kWrite);
  expect_float(dy, where, "dy");
  expect_dtype(dx, dy.dtype, where, "dx");
  expect_at_least_1d(dy, where, "dy");
  expect_same_shape(dx, dy, where, "dx", "dy");
  expect_same_or_disjoint(dx, dy, where, "dx", "dy");
  if (needs_x && x_obj.is_none()) {
    fail_value(where, "x", std::string("the '") + activation_name(kind) +
                               "' activation needs its input x for the backward pass, got None");
  }
  if (needs_y && y_obj.is_none()) {
    fail_value(where, "y", std::string("the '") + activation_name(kind) +
                               "' activation differentiates from its output y, got None");
  }
  const Arr x = optional_array_arg(x_obj, where, "x");
  const Arr y = optional_array_arg(y_obj, where, "y");
  auto check_input = [&](const Arr& a, const char* name) {
    if (!a.present()) return;
    expect_dtype(a, dy.dtype, where, name);
    expect_same_shape(a, dy, where, name, "dy");
    expect_disjoint(dx, a, where, "dx", name);
  };
  check_input(x, "x");
  check_input(y, "y");
  std::int64_t rows, cols;
  rows_cols(dy, &rows, &cols);
  dispatch_float(dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xp = needs_x ? x.ptr<T>() : nullptr;
    const T* yp = needs_y ? y.ptr<T>() : nullptr;
    GilRelease nogil(rows * cols >= kGilMinElements);
    activation_backward<T>(kind, xp, yp, dy.ptr<T>(), dx.ptr<T>(), rows, cols,
                           static_cast<T>(alpha));
  });
}

}  // namespace

void bind_activations(py::module_& m) {
  py::dict codes;
  for (int k = 0; k < kActivationCount; ++k) {
    codes[activation_name(static_cast<Activation>(k))] = k;
  }
  m.attr("ACTIVATIONS") = codes;
  m.def("activation_needs_input",
        [](int kind, py::handle alpha) {
          const Activation a = activation_arg(kind, "activation_needs_input");
          return activation_needs_input(a, alpha_arg(alpha, a, "activation_needs_input"));
        },
        py::arg("kind"), py::arg("alpha") = py::none(),
        "Whether activation_backward needs the input x for this kind (else y is enough). alpha "
        "matters for elu and leaky_relu (from the output only when alpha > 0); None means the "
        "Keras default.");
  m.def("activation_forward", &activation_forward_entry, py::arg("x"), py::arg("y"),
        py::arg("kind"), py::arg("alpha") = py::none(),
        "y = act(x) element-wise (softmax: over the last axis). C-contiguous float32/float64 "
        "arrays of the same shape; y may be x. alpha: elu's alpha or leaky_relu's negative "
        "slope, None for the Keras default (1.0, 0.2).");
  m.def("activation_backward", &activation_backward_entry, py::arg("x"), py::arg("y"),
        py::arg("dy"), py::arg("dx"), py::arg("kind"), py::arg("alpha") = py::none(),
        "dx = act'(x) * dy (assigned; softmax: the row-wise Jacobian product). x may be None "
        "for the kinds that differentiate from y (see activation_needs_input), y for the "
        "others; dx may be dy.");
}

}  // namespace lamina::bind
