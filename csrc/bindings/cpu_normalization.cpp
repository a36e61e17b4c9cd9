// lamina._cpu batch-normalization entries: see csrc/cpu/batchnorm.h for the contract and
// bindings/normalization_args.h for the arguments (shared with lamina._cuda).
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/normalization_args.h"
#include "cpu/batchnorm.h"

namespace lamina::bind {

namespace {

void forward_training_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                            double eps, py::handle y_obj, py::handle mean_obj,
                            py::handle var_obj) {
  const auto a = batchnorm_forward_training_args<Arr, array_arg>(x_obj, gamma_obj, beta_obj, eps,
                                                                 y_obj, mean_obj, var_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_forward_training<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma), p(a.beta),
                                  static_cast<T>(eps), a.y.ptr<T>(), a.mean.ptr<T>(),
                                  a.var.ptr<T>());
  });
}

void forward_inference_entry(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                             py::handle mean_obj, py::handle var_obj, double eps,
                             py::handle y_obj) {
  const auto a = batchnorm_forward_inference_args<Arr, array_arg>(x_obj, gamma_obj, beta_obj,
                                                                  mean_obj, var_obj, eps, y_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_forward_inference<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma), p(a.beta),
                                   a.mean.ptr<T>(), a.var.ptr<T>(), static_cast<T>(eps),
                                   a.y.ptr<T>());
  });
}

void backward_entry(py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                    py::handle var_obj, double eps, py::handle dy_obj, bool training,
                    py::handle dx_obj, py::handle dgamma_obj, py::handle dbeta_obj) {
  const auto a = batchnorm_backward_args<Arr, array_arg>(x_obj, gamma_obj, mean_obj, var_obj, eps,
                                                         dy_obj, dx_obj, dgamma_obj, dbeta_obj);
  dispatch_float(a.x.dtype, [&](auto zero) {
    using T = decltype(zero);
    auto p = [](const Arr& v) { return v.present() ? v.ptr<T>() : nullptr; };
    py::gil_scoped_release nogil;
    batchnorm_backward<T>(a.x.dim(0), a.x.dim(1), a.x.ptr<T>(), p(a.gamma), a.mean.ptr<T>(),
                          a.var.ptr<T>(), static_cast<T>(eps), a.dy.ptr<T>(), training, p(a.dx),
                          p(a.dgamma), p(a.dbeta));
  });
}

}  // namespace

void bind_normalization(py::module_& m) {
  m.def("batchnorm_forward_training", &forward_training_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("epsilon"), py::arg("y"), py::arg("mean"), py::arg("variance"),
        "Batch statistics of x (rows, C) into mean/variance (biased), and the normalized y. "
        "gamma/beta may be None.");
  m.def("batchnorm_forward_inference", &forward_inference_entry, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("mean"), py::arg("variance"), py::arg("epsilon"), py::arg("y"),
        "y = (x - mean) * gamma / sqrt(variance + epsilon) + beta with the given statistics.");
  m.def("batchnorm_backward", &backward_entry, py::arg("x"), py::arg("gamma"), py::arg("mean"),
        py::arg("variance"), py::arg("epsilon"), py::arg("dy"), py::arg("training"),
        py::arg("dx"), py::arg("dgamma"), py::arg("dbeta"),
        "Fused backward of batch normalization; training=True differentiates through the batch "
        "statistics. Assigns whichever of dx, dgamma, dbeta is not None.");
}

}  // namespace lamina::bind
