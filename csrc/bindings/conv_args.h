// Argument checks of conv2d_forward / conv2d_backward, shared by lamina._cpu (cpu_conv.cpp) and
// lamina._cuda (cuda_conv.cpp): one definition, so the two modules accept the same calls and
// raise the same messages. The templates take the module's array type and reader (ArrayReader
// in arrays.h).
// Geometry arguments are plain ints (strides, explicit before/after padding, dilation, groups):
// the ops resolve Keras' "same"/"valid" into pads, the kernels never guess. The after pads
// (bottom, right) may be negative: trailing input rows/columns that no window reads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "bindings/arrays.h"
#include "bindings/overlap.h"
#include "common/conv_geometry.h"

namespace lamina::bind {

// "(1, 2, 3)"
inline std::string int_tuple(std::initializer_list<std::int64_t> v) {
  std::string s = "(";
  int i = 0;
  for (std::int64_t x : v) s += (i++ ? ", " : "") + std::to_string(x);
  return s + ")";
}

// Checks in/w/out against each other and the geometry; every size the kernel will index by.
inline ConvGeometry conv_geometry(const char* where, const Arr& in, const char* in_name,
                                  const Arr& w, const Arr& out, const char* out_name,
                                  std::int64_t sh, std::int64_t sw, std::int64_t pt,
                                  std::int64_t pb, std::int64_t pl, std::int64_t pr,
                                  std::int64_t dh, std::int64_t dw, std::int64_t groups) {
  expect_ndim(in, 4, where, in_name);
  expect_ndim(w, 4, where, "kernel");
  expect_ndim(out, 4, where, out_name);
  if (sh < 1 || sw < 1) {
    fail_value(where, "strides", "expected positive strides, got " + int_tuple({sh, sw}));
  }
  if (dh < 1 || dw < 1) {
    fail_value(where, "dilation", "expected positive dilation rates, got " + int_tuple({dh, dw}));
  }
  // A negative bottom/right pad drops trailing input cells no window reaches (what a transposed
  // convolution's output_padding past the kernel leaves): the windows still read inside the
  // input, which the size check below guarantees.
  if (pt < 0 || pl < 0) {
    fail_value(where, "padding",
               "expected non-negative top/left pads, got " + int_tuple({pt, pb, pl, pr}));
  }
  if (groups < 1) fail_value(where, "groups", "expected >= 1, got " + std::to_string(groups));
  // Bounded so that no size below ((KH - 1) * dilation, H + pads, ...) can overflow int64.
  constexpr std::int64_t kMax = std::int64_t{1} << 31;
  const auto too_big = [&](std::initializer_list<std::int64_t> v) {
    for (std::int64_t x : v) {
      if (x > kMax || x < -kMax) return true;
    }
    return false;
  };
  if (too_big({sh, sw})) {
    fail_value(where, "strides", "expected strides of at most 2^31, got " + int_tuple({sh, sw}));
  }
  if (too_big({dh, dw})) {
    fail_value(where, "dilation",
               "expected dilation rates of at most 2^31, got " + int_tuple({dh, dw}));
  }
  if (too_big({pt, pb, pl, pr})) {
    fail_value(where, "padding",
               "expected pads of at most 2^31 in size, got " + int_tuple({pt, pb, pl, pr}));
  }
  ConvGeometry g{};
  g.N = in.dim(0); g.H = in.dim(1); g.W = in.dim(2); g.C = in.dim(3);
  g.KH = w.dim(0); g.KW = w.dim(1); g.K = w.dim(3);
  g.SH = sh; g.SW = sw; g.PT = pt; g.PL = pl; g.DH = dh; g.DW = dw; g.G = groups;
  if (g.C % groups != 0 || w.dim(2) * groups != g.C) {
    fail_value(where, "kernel", "input has " + std::to_string(g.C) + " channels and groups=" +
                                    std::to_string(groups) + ", so the kernel needs shape (*, *, " +
                                    std::to_string(g.C / groups) + ", *) with " +
                                    std::to_string(g.C) + " divisible by groups; got " +
                                    shape_string(w));
  }
  if (g.K % groups != 0) {
    fail_value(where, "kernel", "output channels " + std::to_string(g.K) +
                                    " are not divisible by groups=" + std::to_string(groups));
  }
  if (g.KH < 1 || g.KW < 1) fail_value(where, "kernel", "empty kernel " + shape_string(w));
  const std::int64_t eh = (g.KH - 1) * dh + 1, ew = (g.KW - 1) * dw + 1;
  if (g.H + pt + pb < eh || g.W + pl + pr < ew) {
    fail_value(where, "kernel", "the dilated kernel " + int_tuple({eh, ew}) +
                                    " is larger than the padded input " +
                                    int_tuple({g.H + pt + pb, g.W + pl + pr}));
  }
  g.OH = (g.H + pt + pb - eh) / sh + 1;
  g.OW = (g.W + pl + pr - ew) / sw + 1;
  expect_shape(out, {g.N, g.OH, g.OW, g.K}, where, out_name);
  return g;
}

inline int conv_act_code(const char* where, int act) {
  if (act != 0 && act != 1) {
    fail_value(where, "activation", "expected 0 (linear) or 1 (relu), got " + std::to_string(act));
  }
  return act;
}

template <class A, ArrayReader<A> Read>
struct Conv2dForwardArgs {
  A x, w, b, y;  // b absent without a bias
  ConvGeometry g;
};

template <class A, ArrayReader<A> Read>
Conv2dForwardArgs<A, Read> conv2d_forward_args(py::handle x_obj, py::handle w_obj,
                                              py::handle b_obj, py::handle y_obj,
                                              std::int64_t sh, std::int64_t sw, std::int64_t pt,
                                              std::int64_t pb, std::int64_t pl, std::int64_t pr,
                                              std::int64_t dh, std::int64_t dw,
                                              std::int64_t groups, int act) {
  constexpr const char* where = "conv2d_forward";
  Conv2dForwardArgs<A, Read> a;
  a.x = read_array<A, Read>(x_obj, where, "x");
  a.w = read_array<A, Read>(w_obj, where, "kernel");
  a.b = read_optional<A, Read>(b_obj, where, "bias");
  a.y = read_array<A, Read>(y_obj, where, "y", kWrite);
  expect_float(a.x, where, "x");
  expect_dtype(a.w, a.x.dtype, where, "kernel");
  expect_dtype(a.y, a.x.dtype, where, "y");
  a.g = conv_geometry(where, a.x, "x", a.w, a.y, "y", sh, sw, pt, pb, pl, pr, dh, dw, groups);
  if (a.b.present()) {
    expect_dtype(a.b, a.x.dtype, where, "bias");
    expect_shape(a.b, {a.g.K}, where, "bias");
  }
  conv_act_code(where, act);
  expect_all_disjoint(where, {{a.y, "y"}}, {{a.x, "x"}, {a.w, "kernel"}, {a.b, "bias"}});
  return a;
}

// Any of x (needed for dkernel), kernel (needed for dx), y (needed for relu) may be None when
// not needed; the input shape comes from x or dx, the kernel's from kernel or dkernel.
template <class A, ArrayReader<A> Read>
struct Conv2dBackwardArgs {
  A x, w, y, dy, dx, dk, db;
  ConvGeometry g;
};

template <class A, ArrayReader<A> Read>
Conv2dBackwardArgs<A, Read> conv2d_backward_args(py::handle x_obj, py::handle w_obj,
                                                py::handle y_obj, py::handle dy_obj,
                                                py::handle dx_obj, py::handle dw_obj,
                                                py::handle db_obj, std::int64_t sh,
                                                std::int64_t sw, std::int64_t pt,
                                                std::int64_t pb, std::int64_t pl,
                                                std::int64_t pr, std::int64_t dh,
                                                std::int64_t dw, std::int64_t groups, int act) {
  constexpr const char* where = "conv2d_backward";
  Conv2dBackwardArgs<A, Read> a;
  a.x = read_optional<A, Read>(x_obj, where, "x");
  a.w = read_optional<A, Read>(w_obj, where, "kernel");
  a.y = read_optional<A, Read>(y_obj, where, "y");
  a.dy = read_array<A, Read>(dy_obj, where, "dy");
  a.dx = read_optional<A, Read>(dx_obj, where, "dx", kWrite);
  a.dk = read_optional<A, Read>(dw_obj, where, "dkernel", kWrite);
  a.db = read_optional<A, Read>(db_obj, where, "dbias", kWrite);
  conv_act_code(where, act);
  expect_float(a.dy, where, "dy");
  if (a.dk.present() && !a.x.present()) fail_value(where, "x", "needed to compute dkernel");
  if (a.dx.present() && !a.w.present()) fail_value(where, "kernel", "needed to compute dx");
  if (act == 1 && !a.y.present()) fail_value(where, "y", "needed for the relu derivative");
  const Arr& in = a.x.present() ? a.x : a.dx;
  if (!in.present()) fail_value(where, "x", "x or dx is needed for the input shape");
  const Arr& kern = a.w.present() ? a.w : a.dk;
  if (!kern.present()) fail_value(where, "kernel", "kernel or dkernel is needed for its shape");
  const std::pair<const Arr*, const char*> typed[] = {{&a.x, "x"},   {&a.w, "kernel"},
                                                      {&a.y, "y"},   {&a.dx, "dx"},
                                                      {&a.dk, "dkernel"}, {&a.db, "dbias"}};
  for (const auto& [arr, name] : typed) {
    if (arr->present()) expect_dtype(*arr, a.dy.dtype, where, name);
  }
  a.g = conv_geometry(where, in, a.x.present() ? "x" : "dx", kern, a.dy, "dy", sh, sw, pt, pb,
                      pl, pr, dh, dw, groups);
  if (a.x.present() && a.dx.present()) expect_same_shape(a.dx, a.x, where, "dx", "x");
  if (a.w.present() && a.dk.present()) expect_same_shape(a.dk, a.w, where, "dkernel", "kernel");
  if (a.y.present()) expect_same_shape(a.y, a.dy, where, "y", "dy");
  if (a.db.present()) expect_shape(a.db, {a.g.K}, where, "dbias");
  expect_all_disjoint(where, {{a.dx, "dx"}, {a.dk, "dkernel"}, {a.db, "dbias"}},
                      {{a.x, "x"}, {a.w, "kernel"}, {a.y, "y"}, {a.dy, "dy"}});
  return a;
}

}  // namespace lamina::bind
