// lamina._cpu max/average pooling entries: see csrc/cpu/pool2d.h for the contract.
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/pool2d.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

std::string ints(std::initializer_list<i64> v) {
  std::string s = "(";
  int i = 0;
  for (i64 x : v) s += (i++ ? ", " : "") + std::to_string(x);
  return s + ")";
}

// in (N, H, W, C), out (N, OH, OW, C); every window must hold at least one valid cell, which a
// pad smaller than the pool guarantees (Keras "same" pads at most pool - 1 in total).
ConvGeometry pool_geometry(const char* where, const Arr& in, const char* in_name, const Arr& out,
                           const char* out_name, i64 ph, i64 pw, i64 sh, i64 sw, i64 pt, i64 pb,
                           i64 pl, i64 pr) {
  expect_ndim(in, 4, where, in_name);
  expect_ndim(out, 4, where, out_name);
  if (ph < 1 || pw < 1) fail_value(where, "pool_size", "expected positive sizes, got " + ints({ph, pw}));
  if (sh < 1 || sw < 1) fail_value(where, "strides", "expected positive strides, got " + ints({sh, sw}));
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0 || pt >= ph || pb >= ph || pl >= pw || pr >= pw) {
    fail_value(where, "padding", "expected pads in [0, pool size), got " + ints({pt, pb, pl, pr}) +
                                     " for pool " + ints({ph, pw}));
  }
  ConvGeometry g{};
  g.N = in.dim(0); g.H = in.dim(1); g.W = in.dim(2); g.C = in.dim(3); g.K = g.C;
  g.KH = ph; g.KW = pw; g.SH = sh; g.SW = sw; g.PT = pt; g.PL = pl; g.DH = 1; g.DW = 1; g.G = 1;
  if (g.H + pt + pb < ph || g.W + pl + pr < pw) {
    fail_value(where, "pool_size", "the pool " + ints({ph, pw}) + " is larger than the padded input " +
                                       ints({g.H + pt + pb, g.W + pl + pr}));
  }
  if (g.H * g.W > (i64(1) << 31) - 1) fail_value(where, in_name, "images over 2^31 pixels");
  g.OH = (g.H + pt + pb - ph) / sh + 1;
  g.OW = (g.W + pl + pr - pw) / sw + 1;
  expect_shape(out, {g.N, g.OH, g.OW, g.C}, where, out_name);
  return g;
}

void max_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, py::handle am_obj, i64 ph,
                              i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  constexpr const char* where = "max_pool2d_forward";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  const Arr am = optional_array_arg(am_obj, where, "argmax", kWrite);
  expect_float(x, where, "x");
  expect_dtype(y, x.dtype, where, "y");
  const ConvGeometry g = pool_geometry(where, x, "x", y, "y", ph, pw, sh, sw, pt, pb, pl, pr);
  if (am.present()) {
    expect_dtype(am, DType::i32, where, "argmax");
    expect_same_shape(am, y, where, "argmax", "y");
  }
  expect_all_disjoint(where, {{y, "y"}, {am, "argmax"}}, {{x, "x"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    max_pool2d_forward<T>(g, x.ptr<T>(), y.ptr<T>(),
                          am.present() ? am.ptr<std::int32_t>() : nullptr);
  });
}

void max_pool2d_backward_entry(py::handle dy_obj, py::handle am_obj, py::handle dx_obj, i64 ph,
                               i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  constexpr const char* where = "max_pool2d_backward";
  const Arr dy = array_arg(dy_obj, where, "dy");
  const Arr am = array_arg(am_obj, where, "argmax");
  const Arr dx = array_arg(dx_obj, where, "dx", kWrite);
  expect_float(dy, where, "dy");
  expect_dtype(dx, dy.dtype, where, "dx");
  expect_dtype(am, DType::i32, where, "argmax");
  expect_same_shape(am, dy, where, "argmax", "dy");
  const ConvGeometry g = pool_geometry(where, dx, "dx", dy, "dy", ph, pw, sh, sw, pt, pb, pl, pr);
  expect_all_disjoint(where, {{dx, "dx"}}, {{dy, "dy"}, {am, "argmax"}});
  // argmax came from Python: an out-of-range index would write outside dx.
  const std::int32_t* a = am.ptr<std::int32_t>();
  const i64 n = am.size(), cells = g.H * g.W;
  for (i64 i = 0; i < n; ++i) {
    if (a[i] < 0 || a[i] >= cells) {
      fail_value(where, "argmax", "index " + std::to_string(a[i]) + " outside [0, " +
                                      std::to_string(cells) + ")");
    }
  }
  dispatch_float(dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    max_pool2d_backward<T>(g, dy.ptr<T>(), a, dx.ptr<T>());
  });
}

void avg_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, i64 ph, i64 pw, i64 sh, i64 sw,
                              i64 pt, i64 pb, i64 pl, i64 pr) {
  constexpr const char* where = "avg_pool2d_forward";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  expect_float(x, where, "x");
  expect_dtype(y, x.dtype, where, "y");
  const ConvGeometry g = pool_geometry(where, x, "x", y, "y", ph, pw, sh, sw, pt, pb, pl, pr);
  expect_all_disjoint(where, {{y, "y"}}, {{x, "x"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    avg_pool2d_forward<T>(g, x.ptr<T>(), y.ptr<T>());
  });
}

void avg_pool2d_backward_entry(py::handle dy_obj, py::handle dx_obj, i64 ph, i64 pw, i64 sh,
                               i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  constexpr const char* where = "avg_pool2d_backward";
  const Arr dy = array_arg(dy_obj, where, "dy");
  const Arr dx = array_arg(dx_obj, where, "dx", kWrite);
  expect_float(dy, where, "dy");
  expect_dtype(dx, dy.dtype, where, "dx");
  const ConvGeometry g = pool_geometry(where, dx, "dx", dy, "dy", ph, pw, sh, sw, pt, pb, pl, pr);
  expect_all_disjoint(where, {{dx, "dx"}}, {{dy, "dy"}});
  dispatch_float(dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    avg_pool2d_backward<T>(g, dy.ptr<T>(), dx.ptr<T>());
  });
}

}  // namespace

void bind_pooling(py::module_& m) {
#define LAMINA_POOL_GEOMETRY                                                                  \
  py::arg("pool_h"), py::arg("pool_w"), py::arg("stride_h"), py::arg("stride_w"),             \
      py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right")
  m.def("max_pool2d_forward", &max_pool2d_forward_entry, py::arg("x"), py::arg("y"),
        py::arg("argmax"), LAMINA_POOL_GEOMETRY,
        "Max pooling, NHWC: writes y and, unless None, argmax (int32, y's shape: ih * W + iw of "
        "the first maximum of each window).");
  m.def("max_pool2d_backward", &max_pool2d_backward_entry, py::arg("dy"), py::arg("argmax"),
        py::arg("dx"), LAMINA_POOL_GEOMETRY, "dx = dy scattered to argmax (dx assigned).");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_entry, py::arg("x"), py::arg("y"),
        LAMINA_POOL_GEOMETRY,
        "Average pooling, NHWC; padding cells are not counted (Keras/TensorFlow 'same').");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_entry, py::arg("dy"), py::arg("dx"),
        LAMINA_POOL_GEOMETRY, "Backward of avg_pool2d_forward (dx assigned).");
#undef LAMINA_POOL_GEOMETRY
}

}  // namespace lamina::bind
