// lamina._cuda.reduce_sum / reduce_max: see csrc/cuda/reduce.h.
#include <sstream>

#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/overlap.h"
#include "cuda/reduce.h"

namespace lamina::bind {

namespace {

struct AxisView {
  DevArr x, out;
  std::int64_t outer = 1, n = 1, inner = 1;
};

AxisView axis_view(py::handle x_obj, py::handle out_obj, int axis, const char* where) {
  AxisView v;
  v.x = device_array_arg(x_obj, where, "x");
  expect_float(v.x, where, "x");
  v.out = device_array_arg(out_obj, where, "out", kWrite);
  expect_dtype(v.out, v.x.dtype, where, "out");
  const int nd = v.x.ndim;
  if (nd < 1 || axis < -nd || axis >= nd) {
    fail_value(where, "axis", "expected an axis in [" + std::to_string(-nd) + ", " +
                                  std::to_string(nd) + ") for x of shape " +
                                  shape_string(v.x) + ", got " + std::to_string(axis));
  }
  if (axis < 0) axis += nd;
  bool ok = v.out.ndim == nd - 1;
  std::ostringstream want;
  want << '(';
  for (int i = 0, o = 0; i < nd; ++i) {
    if (i == axis) continue;
    want << (o ? ", " : "") << v.x.shape[i];
    ok = ok && v.out.shape[o] == v.x.shape[i];
    ++o;
  }
  want << (nd == 2 ? ",)" : ")");
  if (!ok) {
    fail_value(where, "out", "expected shape " + want.str() + " (x's shape " +
                                 shape_string(v.x) + " without axis " + std::to_string(axis) +
                                 "), got " + shape_string(v.out));
  }
  expect_disjoint(v.out, v.x, where, "out", "x");
  for (int i = 0; i < axis; ++i) v.outer *= v.x.dim(i);
  v.n = v.x.dim(axis);
  for (int i = axis + 1; i < nd; ++i) v.inner *= v.x.dim(i);
  return v;
}

void reduce_sum_entry(py::handle x_obj, py::handle out_obj, int axis, bool mean,
                      std::uintptr_t stream) {
  constexpr const char* where = "reduce_sum";
  const AxisView v = axis_view(x_obj, out_obj, axis, where);
  dispatch_float(v.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::reduce_sum<T>(v.x.ptr<T>(), v.out.ptr<T>(), v.outer, v.n, v.inner, mean,
                        stream_arg(stream));
  });
}

void reduce_max_entry(py::handle x_obj, py::handle out_obj, int axis, std::uintptr_t stream) {
  constexpr const char* where = "reduce_max";
  const AxisView v = axis_view(x_obj, out_obj, axis, where);
  if (v.n == 0 && v.outer * v.inner > 0) {
    fail_value(where, "x", "cannot take the maximum over an empty axis (x has shape " +
                               shape_string(v.x) + ")");
  }
  dispatch_float(v.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::reduce_max<T>(v.x.ptr<T>(), v.out.ptr<T>(), v.outer, v.n, v.inner, stream_arg(stream));
  });
}

}  // namespace

void bind_cuda_reduce(py::module_& m) {
  m.def("reduce_sum", &reduce_sum_entry, py::arg("x"), py::arg("out"), py::arg("axis"),
        py::arg("mean") = false, py::kw_only(), py::arg("stream"),
        "out = x.sum(axis) (or .mean(axis)), assigned, on `stream`. C-contiguous cupy arrays; "
        "out has x's shape without `axis`. Accumulates in float64.");
  m.def("reduce_max", &reduce_max_entry, py::arg("x"), py::arg("out"), py::arg("axis"),
        py::kw_only(), py::arg("stream"),
        "out = x.max(axis), assigned, on `stream`; NaN propagates. Layout as reduce_sum.");
}

}  // namespace lamina::bind
