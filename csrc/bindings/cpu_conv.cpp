// lamina._cpu.conv2d_forward / conv2d_backward: see csrc/cpu/conv2d.h for the contract.
// Geometry arguments are plain ints (strides, explicit before/after padding, dilation, groups):
// the ops resolve Keras' "same"/"valid" into pads, the kernel never guesses. The after pads
// (bottom, right) may be negative: trailing input rows/columns that no window reads.
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/conv2d.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

std::string ints(std::initializer_list<i64> v) {
  std::string s = "(";
  int i = 0;
  for (i64 x : v) s += (i++ ? ", " : "") + std::to_string(x);
  return s + ")";
}

// Checks x/w/y against each other and the geometry; every size the kernel will index by.
ConvGeometry conv_geometry(const char* where, const Arr& in, const char* in_name, const Arr& w,
                           const Arr& out, const char* out_name, i64 sh, i64 sw, i64 pt, i64 pb,
                           i64 pl, i64 pr, i64 dh, i64 dw, i64 groups) {
  expect_ndim(in, 4, where, in_name);
  expect_ndim(w, 4, where, "kernel");
  expect_ndim(out, 4, where, out_name);
  if (sh < 1 || sw < 1) fail_value(where, "strides", "expected positive strides, got " + ints({sh, sw}));
  if (dh < 1 || dw < 1) {
    fail_value(where, "dilation", "expected positive dilation rates, got " + ints({dh, dw}));
  }
  // A negative bottom/right pad drops trailing input cells no window reaches (what a transposed
  // convolution's output_padding past the kernel leaves): the windows still read inside the
  // input, which the size check below guarantees.
  if (pt < 0 || pl < 0) {
    fail_value(where, "padding", "expected non-negative top/left pads, got " + ints({pt, pb, pl, pr}));
  }
  if (groups < 1) fail_value(where, "groups", "expected >= 1, got " + std::to_string(groups));
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
  const i64 eh = (g.KH - 1) * dh + 1, ew = (g.KW - 1) * dw + 1;
  if (g.H + pt + pb < eh || g.W + pl + pr < ew) {
    fail_value(where, "kernel", "the dilated kernel " + ints({eh, ew}) +
                                    " is larger than the padded input " +
                                    ints({g.H + pt + pb, g.W + pl + pr}));
  }
  g.OH = (g.H + pt + pb - eh) / sh + 1;
  g.OW = (g.W + pl + pr - ew) / sw + 1;
  expect_shape(out, {g.N, g.OH, g.OW, g.K}, where, out_name);
  return g;
}

int act_code(const char* where, int act) {
  if (act != 0 && act != 1) {
    fail_value(where, "activation", "expected 0 (linear) or 1 (relu), got " + std::to_string(act));
  }
  return act;
}

void conv2d_forward_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle y_obj,
                          i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr, i64 dh, i64 dw,
                          i64 groups, int act) {
  constexpr const char* where = "conv2d_forward";
  const Arr x = array_arg(x_obj, where, "x");
  const Arr w = array_arg(w_obj, where, "kernel");
  const Arr b = optional_array_arg(b_obj, where, "bias");
  const Arr y = array_arg(y_obj, where, "y", kWrite);
  expect_float(x, where, "x");
  expect_dtype(w, x.dtype, where, "kernel");
  expect_dtype(y, x.dtype, where, "y");
  const ConvGeometry g = conv_geometry(where, x, "x", w, y, "y", sh, sw, pt, pb, pl, pr, dh, dw, groups);
  if (b.present()) {
    expect_dtype(b, x.dtype, where, "bias");
    expect_shape(b, {g.K}, where, "bias");
  }
  act_code(where, act);
  expect_all_disjoint(where, {{y, "y"}}, {{x, "x"}, {w, "kernel"}, {b, "bias"}});
  dispatch_float(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    conv2d_forward<T>(g, x.ptr<T>(), w.ptr<T>(), b.present() ? b.ptr<T>() : nullptr, act,
                      y.ptr<T>());
  });
}

// Any of x (needed for dkernel), kernel (needed for dx), y (needed for relu) may be None when
// not needed; the input shape comes from x or dx.
void conv2d_backward_entry(py::handle x_obj, py::handle w_obj, py::handle y_obj,
                           py::handle dy_obj, py::handle dx_obj, py::handle dw_obj,
                           py::handle db_obj, i64 sh, i64 sw, i64 pt,
                           i64 pb, i64 pl, i64 pr, i64 dh, i64 dw, i64 groups, int act) {
  constexpr const char* where = "conv2d_backward";
  const Arr x = optional_array_arg(x_obj, where, "x");
  const Arr w = optional_array_arg(w_obj, where, "kernel");
  const Arr y = optional_array_arg(y_obj, where, "y");
  const Arr dy = array_arg(dy_obj, where, "dy");
  const Arr dx = optional_array_arg(dx_obj, where, "dx", kWrite);
  const Arr dk = optional_array_arg(dw_obj, where, "dkernel", kWrite);
  const Arr db = optional_array_arg(db_obj, where, "dbias", kWrite);
  act_code(where, act);
  expect_float(dy, where, "dy");
  if (dk.present() && !x.present()) fail_value(where, "x", "needed to compute dkernel");
  if (dx.present() && !w.present()) fail_value(where, "kernel", "needed to compute dx");
  if (act == 1 && !y.present()) fail_value(where, "y", "needed for the relu derivative");
  const Arr& in = x.present() ? x : dx;
  if (!in.present()) fail_value(where, "x", "x or dx is needed for the input shape");
  const Arr& kern = w.present() ? w : dk;
  if (!kern.present()) fail_value(where, "kernel", "kernel or dkernel is needed for its shape");
  for (const auto* a : {&x, &w, &y, &dx, &dk, &db}) {
    if (a->present()) expect_dtype(*a, dy.dtype, where, a == &x ? "x" : a == &w ? "kernel"
                                                     : a == &y ? "y" : a == &dx ? "dx"
                                                     : a == &dk ? "dkernel" : "dbias");
  }
  const ConvGeometry g = conv_geometry(where, in, x.present() ? "x" : "dx", kern, dy, "dy", sh, sw,
                                       pt, pb, pl, pr, dh, dw, groups);
  if (x.present() && dx.present()) expect_same_shape(dx, x, where, "dx", "x");
  if (w.present() && dk.present()) expect_same_shape(dk, w, where, "dkernel", "kernel");
  if (y.present()) expect_same_shape(y, dy, where, "y", "dy");
  if (db.present()) expect_shape(db, {g.K}, where, "dbias");
  expect_all_disjoint(where, {{dx, "dx"}, {dk, "dkernel"}, {db, "dbias"}},
                      {{x, "x"}, {w, "kernel"}, {y, "y"}, {dy, "dy"}});
  dispatch_float(dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& a) { return a.present() ? a.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    conv2d_backward<T>(g, p(x), p(w), p(y), dy.ptr<T>(), act, p(dx), p(dk), p(db));
  });
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward_entry, py::arg("x"), py::arg("kernel"),
        py::arg("bias"), py::arg("y"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
        py::arg("dilation_h"), py::arg("dilation_w"), py::arg("groups"), py::arg("activation"),
        "y = act(conv(x, kernel) + bias), NHWC, kernel (KH, KW, C/groups, K); y (N, OH, OW, K) "
        "is written. activation: 0 linear, 1 relu. bias may be None.");
  m.def("conv2d_backward", &conv2d_backward_entry, py::arg("x"), py::arg("kernel"), py::arg("y"),
        py::arg("dy"), py::arg("dx"), py::arg("dkernel"), py::arg("dbias"),
        py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"),
        py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"),
        py::arg("groups"), py::arg("activation"),
        "Fused backward pass of conv2d_forward: assigns whichever of dx, dkernel, dbias is not "
        "None. x is needed for dkernel, kernel for dx, y (the forward output) for relu.");
}

}  // namespace lamina::bind
