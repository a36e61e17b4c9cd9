// lamina._cuda max/average pooling entries: see csrc/cuda/pool2d.h. Arguments and checks are
// lamina._cpu's (bindings/pool_args.h), plus the keyword-only stream; the one difference is
// max_pool2d_backward's argmax values, which only lamina._cpu reads back to check (pool2d.h).
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/pool_args.h"
#include "cuda/pool2d.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void max_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, py::handle am_obj, i64 ph,
                              i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr,
                              std::uintptr_t stream) {
  const auto a = max_pool2d_forward_args<DevArr, device_array_arg>(x_obj, y_obj, am_obj, {ph, pw,
                                                                   sh, sw, pt, pb, pl, pr});
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::max_pool2d_forward<T>(a.g, a.x.ptr<T>(), a.y.ptr<T>(),
                                a.argmax.present() ? a.argmax.ptr<std::int32_t>() : nullptr,
                                stream_arg(stream));
  });
}

void max_pool2d_backward_entry(py::handle dy_obj, py::handle am_obj, py::handle dx_obj, i64 ph,
                               i64 pw, i64 sh, i64 sw, i64 pt, i64 pb, i64 pl, i64 pr,
                               std::uintptr_t stream) {
  const auto a = max_pool2d_backward_args<DevArr, device_array_arg>(dy_obj, am_obj, dx_obj, {ph,
                                                                    pw, sh, sw, pt, pb, pl, pr});
  dispatch_float(a.dy.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::max_pool2d_backward<T>(a.g, a.dy.ptr<T>(), a.argmax.ptr<std::int32_t>(), a.dx.ptr<T>(),
                                 stream_arg(stream));
  });
}

void avg_pool2d_forward_entry(py::handle x_obj, py::handle y_obj, i64 ph, i64 pw, i64 sh, i64 sw,
                              i64 pt, i64 pb, i64 pl, i64 pr, std::uintptr_t stream) {
  const auto a = avg_pool2d_forward_args<DevArr, device_array_arg>(x_obj, y_obj, {ph, pw, sh, sw,
                                                                   pt, pb, pl, pr});
  dispatch_float(a.in.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::avg_pool2d_forward<T>(a.g, a.in.ptr<T>(), a.out.ptr<T>(), stream_arg(stream));
  });
}

void avg_pool2d_backward_entry(py::handle dy_obj, py::handle dx_obj, i64 ph, i64 pw, i64 sh,
                               i64 sw, i64 pt, i64 pb, i64 pl, i64 pr, std::uintptr_t stream) {
  const auto a = avg_pool2d_backward_args<DevArr, device_array_arg>(dy_obj, dx_obj, {ph, pw, sh,
                                                                    sw, pt, pb, pl, pr});
  dispatch_float(a.in.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::avg_pool2d_backward<T>(a.g, a.in.ptr<T>(), a.out.ptr<T>(), stream_arg(stream));
  });
}

}  // namespace

void bind_cuda_pooling(py::module_& m) {
#define LAMINA_POOL_GEOMETRY                                                                  \
  py::arg("pool_h"), py::arg("pool_w"), py::arg("stride_h"), py::arg("stride_w"),             \
      py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),   \
      py::kw_only(), py::arg("stream")
  m.def("max_pool2d_forward", &max_pool2d_forward_entry, py::arg("x"), py::arg("y"),
        py::arg("argmax"), LAMINA_POOL_GEOMETRY,
        "Max pooling, NHWC, on `stream`: writes y and, unless None, argmax (int32, y's shape: "
        "ih * W + iw of the first maximum of each window).");
  m.def("max_pool2d_backward", &max_pool2d_backward_entry, py::arg("dy"), py::arg("argmax"),
        py::arg("dx"), LAMINA_POOL_GEOMETRY,
        "dx = dy gathered where argmax names the cell (dx assigned), on `stream`.");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_entry, py::arg("x"), py::arg("y"),
        LAMINA_POOL_GEOMETRY,
        "Average pooling, NHWC, on `stream`; padding cells are not counted (Keras/TensorFlow "
        "'same').");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_entry, py::arg("dy"), py::arg("dx"),
        LAMINA_POOL_GEOMETRY, "Backward of avg_pool2d_forward (dx assigned), on `stream`.");
#undef LAMINA_POOL_GEOMETRY
}

}  // namespace lamina::bind
