// lamina._cuda.dense_forward / dense_backward: see csrc/cuda/dense.h.
#include "bindings/activation_args.h"
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/overlap.h"
#include "common/activation_math.h"
#include "cuda/dense.h"

namespace lamina::bind {

namespace {

DevArr matrix_arg(py::handle obj, const char* where, const char* name, Access access, DType dtype,
                  std::initializer_list<std::int64_t> shape, bool optional = false) {
  DevArr a = optional ? optional_device_array_arg(obj, where, name, access)
                      : device_array_arg(obj, where, name, access);
  if (!a.present()) return a;
  expect_dtype(a, dtype, where, name);
  expect_shape(a, shape, where, name);
  return a;
}

void dense_forward_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle z_obj,
                         py::handle y_obj, int kind_code, py::handle alpha_obj,
                         std::uintptr_t stream) {
  constexpr const char* where = "dense_forward";
  const int kind = static_cast<int>(activation_arg(kind_code, where));
  const double alpha = alpha_arg(alpha_obj, static_cast<Activation>(kind), where);
  const DevArr x = device_array_arg(x_obj, where, "x");
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  const std::int64_t N = x.dim(0), F = x.dim(1);
  const DevArr y = matrix_arg(y_obj, where, "y", kWrite, x.dtype, {N, -1});
  const std::int64_t U = y.dim(1);
  const DevArr w = matrix_arg(w_obj, where, "w", kRead, x.dtype, {F, U});
  const DevArr b = matrix_arg(b_obj, where, "b", kRead, x.dtype, {U}, true);
  const DevArr z = matrix_arg(z_obj, where, "z", kWrite, x.dtype, {N, U}, true);
  for (const DevArr* out : {&z, &y}) {
    const char* name = out == &z ? "z" : "y";
    expect_disjoint(*out, x, where, name, "x");
    expect_disjoint(*out, w, where, name, "w");
    expect_disjoint(*out, b, where, name, "b");
  }
  expect_disjoint(z, y, where, "z", "y");
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::dense_forward<T>(x.ptr<T>(), w.ptr<T>(), b.ptr<T>(), z.ptr<T>(), y.ptr<T>(), N, F, U,
                           kind, static_cast<T>(alpha), stream_arg(stream));
  });
}

void dense_backward_entry(py::handle x_obj, py::handle w_obj, py::handle z_obj, py::handle y_obj,
                          py::handle dy_obj, py::handle dx_obj, py::handle dw_obj,
                          py::handle db_obj, py::handle dz_obj, int kind_code,
                          py::handle alpha_obj, std::uintptr_t stream) {
  constexpr const char* where = "dense_backward";
  const int kind = static_cast<int>(activation_arg(kind_code, where));
  const double alpha = alpha_arg(alpha_obj, static_cast<Activation>(kind), where);
  const bool linear = kind == activation_math::kLinear;
  const bool needs_z = activation_math::needs_input(kind, alpha);
  const bool needs_y = !needs_z && !linear;
  const DevArr x = device_array_arg(x_obj, where, "x");
  expect_ndim(x, 2, where, "x");
  expect_float(x, where, "x");
  const DType dt = x.dtype;
  const std::int64_t N = x.dim(0), F = x.dim(1);
  const DevArr dy = matrix_arg(dy_obj, where, "dy", kRead, dt, {N, -1});
  const std::int64_t U = dy.dim(1);
  const DevArr w = matrix_arg(w_obj, where, "w", kRead, dt, {F, U});
  const char* name = activation_math::kNames[kind];
  if (needs_z && z_obj.is_none()) {
    fail_value(where, "z", std::string("the '") + name +
                               "' activation needs the pre-activation z for the backward pass, "
                               "got None");
  }
  if (needs_y && y_obj.is_none()) {
    fail_value(where, "y", std::string("the '") + name +
                               "' activation differentiates from its output y, got None");
  }
  if (!linear && dz_obj.is_none()) {
    fail_value(where, "dz", std::string("the '") + name +
                                "' activation needs a (N, U) workspace dz, got None");
  }
  const DevArr z = matrix_arg(z_obj, where, "z", kRead, dt, {N, U}, true);
  const DevArr y = matrix_arg(y_obj, where, "y", kRead, dt, {N, U}, true);
  const DevArr dx = matrix_arg(dx_obj, where, "dx", kWrite, dt, {N, F}, true);
  const DevArr dw = matrix_arg(dw_obj, where, "dw", kWrite, dt, {F, U});
  const DevArr db = matrix_arg(db_obj, where, "db", kWrite, dt, {U}, true);
  const DevArr dz = matrix_arg(dz_obj, where, "dz", kWrite, dt, {N, U}, true);
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
    const T* a = needs_z ? z.ptr<T>() : (needs_y ? y.ptr<T>() : nullptr);
    py::gil_scoped_release nogil;
    cuda::dense_backward<T>(x.ptr<T>(), w.ptr<T>(), a, dy.ptr<T>(), dx.ptr<T>(), dw.ptr<T>(),
                            db.ptr<T>(), linear ? nullptr : dz.ptr<T>(), N, F, U, kind,
                            static_cast<T>(alpha), stream_arg(stream));
  });
}

}  // namespace

void bind_cuda_dense(py::module_& m) {
  m.def("dense_forward", &dense_forward_entry, py::arg("x"), py::arg("w"), py::arg("b"),
        py::arg("z"), py::arg("y"), py::arg("kind"), py::arg("alpha") = py::none(), py::kw_only(),
        py::arg("stream"),
        "y = act(x @ w + b) on `stream`: x (N, F), w (F, U), b (U,) or None, y (N, U); z (N, U) "
        "receives the pre-activation when given (None: not kept). C-contiguous cupy arrays.");
  m.def("dense_backward", &dense_backward_entry, py::arg("x"), py::arg("w"), py::arg("z"),
        py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("dw"), py::arg("db"), py::arg("dz"),
        py::arg("kind"), py::arg("alpha") = py::none(), py::kw_only(), py::arg("stream"),
        "Given dy (N, U): dz = act'(z) * dy into the workspace dz (may be dy; None for linear), "
        "dw = x^T dz, db = column sums of dz (None: no bias), dx = dz w^T (None: not needed), "
        "all assigned, on `stream`.");
}

}  // namespace lamina::bind
