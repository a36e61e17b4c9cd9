// lamina._cpu.conv2d_forward / conv2d_backward: see csrc/cpu/conv2d.h for the contract and
// bindings/conv_args.h for the arguments (shared with lamina._cuda).
#include "bindings/arrays.h"
#include "bindings/conv_args.h"
#include "bindings/families.h"
#include "cpu/conv2d.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void conv2d_forward_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle y_obj,
                          i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr, i64 dh, i64 dw,
                          i64 groups, int act) {
  const auto a = conv2d_forward_args<Arr, array_arg>(x_obj, w_obj, b_obj, y_obj, sh, sw, pt, pb,
                                                     pl, pr, dh, dw, groups, act);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    conv2d_forward<T>(a.g, a.x.ptr<T>(), a.w.ptr<T>(),
                      a.b.present() ? a.b.ptr<T>() : nullptr, act,
                      a.y.ptr<T>());
  });
}

void conv2d_backward_entry(py::handle x_obj, py::handle w_obj, py::handle y_obj,
                           py::handle dy_obj, py::handle dx_obj, py::handle dw_obj,
                           py::handle db_obj, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr,
                           i64 dh, i64 dw, i64 groups, int act) {
  const auto a = conv2d_backward_args<Arr, array_arg>(x_obj, w_obj, y_obj, dy_obj, dx_obj, dw_obj,
                                                      db_obj, sh, sw, pt, pb, pl, pr, dh, dw,
                                                      groups, act);
  dispatch_float(a.dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    conv2d_backward<T>(a.g, p(a.x), p(a.w), p(a.y), a.dy.ptr<T>(), act, p(a.dx),
                       p(a.dk), p(a.db));
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
