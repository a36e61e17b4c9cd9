// Argument checks of the pooling entries (max_pool2d_forward/backward, avg_pool2d_forward/
// backward), shared by lamina._cpu (cpu_pooling.cpp) and lamina._cuda (cuda_pooling.cpp): the
// same checks and messages by construction. The templates take the module's array type and
// reader (arrays.h's ArrayReader).
#pragma once

#include <cstdint>
#include <string>

#include "bindings/arrays.h"
#include "bindings/conv_args.h"  // int_tuple
#include "bindings/overlap.h"
#include "common/conv_geometry.h"

namespace lamina::bind {

// The pool window, strides and explicit pads, as the entries receive them.
struct PoolWindow {
  std::int64_t ph, pw, sh, sw, pt, pb, pl, pr;
};

// in (N, H, W, C), out (N, OH, OW, C); every window must hold at least one valid cell, which a
// pad smaller than the pool guarantees (Keras "same" pads at most pool - 1 in total).
inline ConvGeometry pool_geometry(const char* where, const Arr& in, const char* in_name,
                                  const Arr& out, const char* out_name, const PoolWindow& p) {
  expect_ndim(in, 4, where, in_name);
  expect_ndim(out, 4, where, out_name);
  if (p.ph < 1 || p.pw < 1) {
    fail_value(where, "pool_size", "expected positive sizes, got " + int_tuple({p.ph, p.pw}));
  }
  if (p.sh < 1 || p.sw < 1) {
    fail_value(where, "strides", "expected positive strides, got " + int_tuple({p.sh, p.sw}));
  }
  if (p.pt < 0 || p.pb < 0 || p.pl < 0 || p.pr < 0 || p.pt >= p.ph || p.pb >= p.ph ||
      p.pl >= p.pw || p.pr >= p.pw) {
    fail_value(where, "padding", "expected pads in [0, pool size), got " +
                                     int_tuple({p.pt, p.pb, p.pl, p.pr}) + " for pool " +
                                     int_tuple({p.ph, p.pw}));
  }
  ConvGeometry g{};
  g.N = in.dim(0); g.H = in.dim(1); g.W = in.dim(2); g.C = in.dim(3); g.K = g.C;
  g.KH = p.ph; g.KW = p.pw; g.SH = p.sh; g.SW = p.sw; g.PT = p.pt; g.PL = p.pl;
  g.DH = 1; g.DW = 1; g.G = 1;
  if (g.H + p.pt + p.pb < p.ph || g.W + p.pl + p.pr < p.pw) {
    fail_value(where, "pool_size", "the pool " + int_tuple({p.ph, p.pw}) +
                                       " is larger than the padded input " +
                                       int_tuple({g.H + p.pt + p.pb, g.W + p.pl + p.pr}));
  }
  if (g.H * g.W > (std::int64_t(1) << 31) - 1) {
    fail_value(where, in_name, "images over 2^31 pixels");
  }
  g.OH = (g.H + p.pt + p.pb - p.ph) / p.sh + 1;
  g.OW = (g.W + p.pl + p.pr - p.pw) / p.sw + 1;
  expect_shape(out, {g.N, g.OH, g.OW, g.C}, where, out_name);
  return g;
}

template <class A, ArrayReader<A> Read>
struct MaxPoolForwardArgs {
  A x, y, argmax;  // argmax absent when not kept
  ConvGeometry g;
};

template <class A, ArrayReader<A> Read>
MaxPoolForwardArgs<A, Read> max_pool2d_forward_args(py::handle x_obj, py::handle y_obj,
                                                   py::handle am_obj, const PoolWindow& p) {
  constexpr const char* where = "max_pool2d_forward";
  MaxPoolForwardArgs<A, Read> a;
  a.x = read_array<A, Read>(x_obj, where, "x");
  a.y = read_array<A, Read>(y_obj, where, "y", kWrite);
  a.argmax = read_optional<A, Read>(am_obj, where, "argmax", kWrite);
  expect_float(a.x, where, "x");
  expect_dtype(a.y, a.x.dtype, where, "y");
  a.g = pool_geometry(where, a.x, "x", a.y, "y", p);
  if (a.argmax.present()) {
    expect_dtype(a.argmax, DType::i32, where, "argmax");
    expect_same_shape(a.argmax, a.y, where, "argmax", "y");
  }
  expect_all_disjoint(where, {{a.y, "y"}, {a.argmax, "argmax"}}, {{a.x, "x"}});
  return a;
}

// The argmax values are data: lamina._cpu checks their range on the host; lamina._cuda's gather
// kernel ignores an index that names no cell of its window (see csrc/cuda/pool2d.h).
template <class A, ArrayReader<A> Read>
struct MaxPoolBackwardArgs {
  A dy, argmax, dx;
  ConvGeometry g;
};

template <class A, ArrayReader<A> Read>
MaxPoolBackwardArgs<A, Read> max_pool2d_backward_args(py::handle dy_obj, py::handle am_obj,
                                                     py::handle dx_obj, const PoolWindow& p) {
  constexpr const char* where = "max_pool2d_backward";
  MaxPoolBackwardArgs<A, Read> a;
  a.dy = read_array<A, Read>(dy_obj, where, "dy");
  a.argmax = read_array<A, Read>(am_obj, where, "argmax");
  a.dx = read_array<A, Read>(dx_obj, where, "dx", kWrite);
  expect_float(a.dy, where, "dy");
  expect_dtype(a.dx, a.dy.dtype, where, "dx");
  expect_dtype(a.argmax, DType::i32, where, "argmax");
  expect_same_shape(a.argmax, a.dy, where, "argmax", "dy");
  a.g = pool_geometry(where, a.dx, "dx", a.dy, "dy", p);
  expect_all_disjoint(where, {{a.dx, "dx"}}, {{a.dy, "dy"}, {a.argmax, "argmax"}});
  return a;
}

// avg_pool2d_forward (in = x, out = y) and avg_pool2d_backward (in = dy, out = dx): one array
// read, one written, of one float dtype.
template <class A, ArrayReader<A> Read>
struct AvgPoolArgs {
  A in, out;
  ConvGeometry g;
};

template <class A, ArrayReader<A> Read>
AvgPoolArgs<A, Read> avg_pool2d_forward_args(py::handle x_obj, py::handle y_obj,
                                            const PoolWindow& p) {
  constexpr const char* where = "avg_pool2d_forward";
  AvgPoolArgs<A, Read> a;
  a.in = read_array<A, Read>(x_obj, where, "x");
  a.out = read_array<A, Read>(y_obj, where, "y", kWrite);
  expect_float(a.in, where, "x");
  expect_dtype(a.out, a.in.dtype, where, "y");
  a.g = pool_geometry(where, a.in, "x", a.out, "y", p);
  expect_all_disjoint(where, {{a.out, "y"}}, {{a.in, "x"}});
  return a;
}

template <class A, ArrayReader<A> Read>
AvgPoolArgs<A, Read> avg_pool2d_backward_args(py::handle dy_obj, py::handle dx_obj,
                                             const PoolWindow& p) {
  constexpr const char* where = "avg_pool2d_backward";
  AvgPoolArgs<A, Read> a;
  a.in = read_array<A, Read>(dy_obj, where, "dy");
  a.out = read_array<A, Read>(dx_obj, where, "dx", kWrite);
  expect_float(a.in, where, "dy");
  expect_dtype(a.out, a.in.dtype, where, "dx");
  a.g = pool_geometry(where, a.out, "dx", a.in, "dy", p);
  expect_all_disjoint(where, {{a.out, "dx"}}, {{a.in, "dy"}});
  return a;
}

}  // namespace lamina::bind
