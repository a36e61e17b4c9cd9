// lamina._cuda batch-normalization entries: see csrc/cuda/batchnorm.h. Arguments and checks are
// lamina._cpu's (bindings/normalization_args.h), plus the keyword-only stream.
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/normalization_args.h"
#include "cuda/batchnorm.h"

namespace lamina::bind {

namespace {

void forward_training_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                            double eps, py::handle y_obj, py::handle mean_obj, py::handle var_obj,
                            std::uintptr_t stream) {
  const auto a = batchnorm_forward_training_args<DevArr, device_array_arg>(x_obj, gamma_obj,
                                                                           beta_obj, eps, y_obj,
                                                                           mean_obj, var_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    cuda::batchnorm_forward_training<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma),
                                        p(a.beta), static_cast<T>(eps), a.y.ptr<T>(),
                                        a.mean.ptr<T>(), a.var.ptr<T>(), stream_arg(stream));
  });
}

void forward_inference_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                             py::handle mean_obj, py::handle var_obj, double eps,
                             py::handle y_obj, std::uintptr_t stream) {
  const auto a = batchnorm_forward_inference_args<DevArr, device_array_arg>(x_obj, gamma_obj,
                                                                            beta_obj, mean_obj,
                                                                            var_obj, eps, y_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    cuda::batchnorm_forward_inference<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma),
                                         p(a.beta), a.mean.ptr<T>(), a.var.ptr<T>(),
                                         static_cast<T>(eps), a.y.ptr<T>(), stream_arg(stream));
  });
}

void backward_entry(py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                    py::handle var_obj, double eps, py::handle dy_obj, bool training,
                    py::handle dx_obj, py::handle dgamma_obj, py::handle dbeta_obj,
                    std::uintptr_t stream) {
  const auto a = batchnorm_backward_args<DevArr, device_array_arg>(x_obj, gamma_obj, mean_obj,
                                                                   var_obj, eps, dy_obj, dx_obj,
                                                                   dgamma_obj, dbeta_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    cuda::batchnorm_backward<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma),
                                a.mean.ptr<T>(), a.var.ptr<T>(), static_cast<T>(eps),
                                a.dy.ptr<T>(), training, p(a.dx), p(a.dgamma), p(a.dbeta),
                                stream_arg(stream));
  });
}

}  // namespace

void bind_cuda_normalization(py::module_& m) {
  m.def("batchnorm_forward_training", &forward_training_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"), py::arg("y"), py::arg("mean"), py::arg("variance"),
        py::kw_only(), py::arg("stream"),
        "Batch statistics of x (rows, C) into mean/variance (biased), and the normalized y, on "
        "`stream`. gamma/beta may be None.");
  m.def("batchnorm_forward_inference", &forward_inference_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("mean"), py::arg("variance"), py::arg("epsilon"), py::arg("y"),
        py::kw_only(), py::arg("stream"),
        "y = (x - mean) * gamma / sqrt(variance + epsilon) + beta with the given statistics, on "
        "`stream`.");
  m.def("batchnorm_backward", &backward_entry, py::arg("x"), py::arg("gamma"), py::arg("mean"),
        py::arg("variance"), py::arg("epsilon"), py::arg("dy"), py::arg("training"),
        py::arg("dx"), py::arg("dgamma"), py::arg("dbeta"), py::kw_only(), py::arg("stream"),
        "Fused backward of batch normalization on `stream`; training=True differentiates "
        "through the batch statistics. Assigns whichever of dx, dgamma, dbeta is not None.");
}

}  // namespace lamina::bind
