// lamina._cpu max/average pooling entries: see csrc/cpu/pool2d.h for the contract and
// bindings/pool_args.h for the arguments (shared with lamina._cuda).
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/pool_args.h"
#include "cpu/pool2d.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void max_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, py::handle am_obj, i64 ph,
                              i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  const auto a = max_pool2d_forward_args<Arr, array_arg>(x_obj, y_obj, am_obj, {ph, pw, sh, sw, pt,
                                                         pb, pl, pr});
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    max_pool2d_forward<T>(a.g, a.x.ptr<T>(), a.y.ptr<T>(),
                          a.argmax.present() ? a.argmax.ptr<std::int32_t>() : nullptr);
  });
}

void max_pool2d_backward_entry(py::handle dy_obj, py::handle am_obj, py::handle dx_obj, i64 ph,
                               i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  constexpr const char* where = "max_pool2d_backward";
  const auto a = max_pool2d_backward_args<Arr, array_arg>(dy_obj, am_obj, dx_obj, {ph, pw, sh, sw,
                                                          pt, pb, pl, pr});
  // argmax came from Python: an index outside the image is refused before anything is written.
  const std::int32_t* am = a.argmax.ptr<std::int32_t>();
  const i64 n = a.argmax.size(), cells = a.g.H * a.g.W;
  for (i64 i = 0; i < n; ++i) {
    if (am[i] < 0 || am[i] >= cells) {
      fail_value(where, "argmax", "index " + std::to_string(am[i]) + " outside [0, " +
                                      std::to_string(cells) + ")");
    }
  }
  dispatch_float(a.dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    max_pool2d_backward<T>(a.g, a.dy.ptr<T>(), am, a.dx.ptr<T>());
  });
}

void avg_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, i64 ph, i64 pw, i64 sh, i64 sw,
                              i64 pt, i64 pb, i64 pl, i64 pr) {
  const auto a = avg_pool2d_forward_args<Arr, array_arg>(x_obj, y_obj, {ph, pw, sh, sw, pt, pb, pl,
                                                         pr});
  dispatch_float(a.in.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    avg_pool2d_forward<T>(a.g, a.in.ptr<T>(), a.out.ptr<T>());
  });
}

void avg_pool2d_backward_entry(py::handle dy_obj, py::handle dx_obj, i64 ph, i64 pw, i64 sh,
                               i64 sw, i64 pt, i64 pb, i64 pl, i64 pr) {
  const auto a = avg_pool2d_backward_args<Arr, array_arg>(dy_obj, dx_obj, {ph, pw, sh, sw, pt, pb,
                                                          pl, pr});
  dispatch_float(a.in.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    avg_pool2d_backward<T>(a.g, a.in.ptr<T>(), a.out.ptr<T>());
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
