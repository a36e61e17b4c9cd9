// lamina._cuda loss entry points: see csrc/cuda/losses.h (numerics of csrc/cpu/losses.h).
// Same arguments and checks as lamina._cpu's, plus the keyword-only stream. Not yet on the GPU:
// categorical_hinge and cosine_similarity (lamina.cuda.kernels() says so when asked for them).
#include <cstdint>
#include <string>

#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/loss_args.h"
#include "bindings/overlap.h"
#include "cuda/losses.h"

namespace lamina::bind {

namespace {

struct RowsView {
  DevArr y_pred, target, loss, grad;
  std::int64_t R = 0, C = 0;
};

void expect_rows(const Arr& a, const Arr& y_pred, std::int64_t R, const char* where,
                 const char* name) {
  if (a.ndim == y_pred.ndim - 1 && a.ndim != 1) {
    bool ok = true;
    for (int i = 0; i < a.ndim; ++i) ok = ok && a.shape[i] == y_pred.shape[i];
    if (ok) return;
  }
  expect_shape(a, {R}, where, name);
}

RowsView check_rows(const char* where, py::handle y_pred_obj, py::handle target_obj,
                    const char* target_name, py::handle loss_obj, py::handle grad_obj,
                    bool sparse) {
  RowsView v;
  v.y_pred = device_array_arg(y_pred_obj, where, "y_pred", kRead, kContiguous, kFloatDType);
  expect_float(v.y_pred, where, "y_pred");
  if (v.y_pred.ndim < 1 || v.y_pred.dim(v.y_pred.ndim - 1) < 1) {
    fail_value(where, "y_pred", "expected at least 1 dimension with a non-empty last axis, got "
                                "shape " + shape_string(v.y_pred));
  }
  v.C = v.y_pred.dim(v.y_pred.ndim - 1);
  v.R = v.y_pred.size() / v.C;
  v.target = device_array_arg(target_obj, where, target_name, kRead, kContiguous,
                         sparse ? kIndexDType : kFloatDType);
  if (sparse) {
    expect_index(v.target, where, target_name);
    expect_rows(v.target, v.y_pred, v.R, where, target_name);
  } else {
    expect_dtype(v.target, v.y_pred.dtype, where, target_name);
    expect_same_shape(v.target, v.y_pred, where, target_name, "y_pred");
  }
  v.loss = device_array_arg(loss_obj, where, "loss", kWrite, kContiguous, kFloatDType);
  expect_dtype(v.loss, v.y_pred.dtype, where, "loss");
  expect_rows(v.loss, v.y_pred, v.R, where, "loss");
  v.grad = optional_device_array_arg(grad_obj, where, "grad", kWrite, kContiguous, kFloatDType);
  if (v.grad.present()) {
    expect_dtype(v.grad, v.y_pred.dtype, where, "grad");
    expect_same_shape(v.grad, v.y_pred, where, "grad", "y_pred");
  }
  // The kernels read a row of y_pred and y_true while writing its loss and gradient.
  expect_disjoint(v.loss, v.y_pred, where, "loss", "y_pred");
  expect_disjoint(v.loss, v.target, where, "loss", target_name);
  expect_disjoint(v.grad, v.y_pred, where, "grad", "y_pred");
  expect_disjoint(v.grad, v.target, where, "grad", target_name);
  expect_disjoint(v.grad, v.loss, where, "grad", "loss");
  return v;
}

void check_label_smoothing(const char* where, double ls) {
  if (!(ls >= 0.0 && ls <= 1.0)) {
    fail_value(where, "label_smoothing", "expected a value in [0, 1], got " + std::to_string(ls));
  }
}

void pointwise_entry(const char* where, PointwiseLoss kind, py::handle y_pred, py::handle y_true,
                     py::handle loss, py::handle grad, double param, std::uintptr_t stream) {
  const RowsView v = check_rows(where, y_pred, y_true, "y_true", loss, grad, false);
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::pointwise_loss<T>(kind, v.y_pred.ptr<T>(), v.target.ptr<T>(), v.R, v.C, param,
                            v.loss.ptr<T>(), v.grad.present() ? v.grad.ptr<T>() : nullptr,
                            stream_arg(stream));
  });
}

void categorical_crossentropy_entry(py::handle y_pred, py::handle y_true, py::handle loss,
                                    py::handle grad, bool from_logits, double label_smoothing,
                                    std::uintptr_t stream) {
  constexpr const char* where = "categorical_crossentropy";
  check_label_smoothing(where, label_smoothing);
  const RowsView v = check_rows(where, y_pred, y_true, "y_true", loss, grad, false);
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::categorical_crossentropy<T>(v.y_pred.ptr<T>(), v.target.ptr<T>(), v.R, v.C,
                                      from_logits, label_smoothing, v.loss.ptr<T>(),
                                      v.grad.present() ? v.grad.ptr<T>() : nullptr,
                                      stream_arg(stream));
  });
}

// Labels are checked on the device before anything is written; reading the verdict back
// synchronises the stream (see csrc/cuda/losses.h), the price of raising a clear error here
// instead of returning a silently wrong loss as Keras does.
void sparse_categorical_crossentropy_entry(py::handle y_pred, py::handle labels, py::handle loss,
                                           py::handle grad, bool from_logits,
                                           py::object ignore_class_obj, std::uintptr_t stream) {
  constexpr const char* where = "sparse_categorical_crossentropy";
  const RowsView v = check_rows(where, y_pred, labels, "labels", loss, grad, true);
  const IgnoredClass ignore = ignored_class_arg(where, ignore_class_obj);
  const cudaStream_t s = stream_arg(stream);
  std::int64_t bad = -1, label = 0;
  dispatch_index(v.target.dtype, [&](auto izero) {
    using I = decltype(izero);
    py::gil_scoped_release nogil;
    bad = cuda::find_invalid_label<I>(v.target.ptr<I>(), v.R, v.C, ignore.active, ignore.label,
                                      s);
    if (bad >= 0) label = cuda::label_at<I>(v.target.ptr<I>(), bad, s);
  });
  if (bad >= 0) {
    fail_value(where, "labels", "label " + std::to_string(label) + " at index " +
                                    std::to_string(bad) + " is out of range for " +
                                    std::to_string(v.C) + " classes");
  }
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    dispatch_index(v.target.dtype, [&](auto izero) {
      using I = decltype(izero);
      py::gil_scoped_release nogil;
      cuda::sparse_categorical_crossentropy<T, I>(v.y_pred.ptr<T>(), v.target.ptr<I>(), v.R, v.C,
                                                  from_logits, ignore.active, ignore.label,
                                            v.loss.ptr<T>(),
                                                  v.grad.present() ? v.grad.ptr<T>() : nullptr,
                                                  s);
    });
  });
}

void binary_crossentropy_entry(py::handle y_pred, py::handle y_true, py::handle loss,
                               py::handle grad, bool from_logits, double label_smoothing,
                               std::uintptr_t stream) {
  constexpr const char* where = "binary_crossentropy";
  check_label_smoothing(where, label_smoothing);
  pointwise_entry(where,
                  from_logits ? PointwiseLoss::binary_crossentropy_logits
                              : PointwiseLoss::binary_crossentropy,
                  y_pred, y_true, loss, grad, label_smoothing, stream);
}

constexpr const char* kRowContract =
    " y_pred is viewed as rows over its last axis; loss gets one value per row and grad (or "
    "None) d(loss[row]) / d(y_pred[row, :]). Runs on `stream`.";

void def_pointwise(py::module_& m, const char* name, PointwiseLoss kind, const char* formula) {
  m.def(
      name,
      [name, kind](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad,
                   std::uintptr_t stream) {
        pointwise_entry(name, kind, y_pred, y_true, loss, grad, 0.0, stream);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"), py::kw_only(),
      py::arg("stream"), (std::string(formula) + kRowContract).c_str());
}

}  // namespace

void bind_cuda_losses(py::module_& m) {
  m.def("categorical_crossentropy", &categorical_crossentropy_entry, py::arg("y_pred"),
        py::arg("y_true"), py::arg("loss"), py::arg("grad"), py::arg("from_logits"),
        py::arg("label_smoothing") = 0.0, py::kw_only(), py::arg("stream"),
        (std::string("Keras categorical cross-entropy: probabilities are renormalised and "
                     "clipped to [1e-7, 1 - 1e-7], logits go through log-softmax.") +
         kRowContract).c_str());
  m.def("sparse_categorical_crossentropy", &sparse_categorical_crossentropy_entry,
        py::arg("y_pred"), py::arg("labels"), py::arg("loss"), py::arg("grad"),
        py::arg("from_logits"), py::arg("ignore_class") = py::none(), py::kw_only(),
        py::arg("stream"),
        (std::string("categorical_crossentropy against int32/int64 labels (one per row). Every "
                     "label is checked on the device before anything is written (this waits for "
                     "the stream); ignore_class rows (None: none; any integer, -1 included, "
                     "otherwise) get loss 0 and gradient 0.") +
         kRowContract).c_str());
  m.def("binary_crossentropy", &binary_crossentropy_entry, py::arg("y_pred"), py::arg("y_true"),
        py::arg("loss"), py::arg("grad"), py::arg("from_logits"),
        py::arg("label_smoothing") = 0.0, py::kw_only(), py::arg("stream"),
        (std::string("Keras binary cross-entropy, mean over the last axis.") + kRowContract)
            .c_str());
  def_pointwise(m, "mean_squared_error", PointwiseLoss::mean_squared_error,
                "mean((y_pred - y_true)^2) over the last axis.");
  def_pointwise(m, "mean_absolute_error", PointwiseLoss::mean_absolute_error,
                "mean(|y_pred - y_true|) over the last axis.");
  def_pointwise(m, "log_cosh", PointwiseLoss::log_cosh,
                "mean(log(cosh(y_pred - y_true))) over the last axis.");
  def_pointwise(m, "mean_absolute_percentage_error",
                PointwiseLoss::mean_absolute_percentage_error,
                "100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|) over the last axis.");
  def_pointwise(m, "mean_squared_logarithmic_error",
                PointwiseLoss::mean_squared_logarithmic_error,
                "mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2).");
  def_pointwise(m, "poisson", PointwiseLoss::poisson,
                "mean(y_pred - y_true * log(y_pred + 1e-7)) over the last axis.");
  def_pointwise(m, "kl_divergence", PointwiseLoss::kl_divergence,
                "sum(t * log(t / p)) over the last axis, t and p clipped to [1e-7, 1].");
  def_pointwise(m, "hinge", PointwiseLoss::hinge,
                "mean(max(1 - y_true * y_pred, 0)); 0/1 labels (all of them) become -1/1.");
  def_pointwise(m, "squared_hinge", PointwiseLoss::squared_hinge,
                "mean(max(1 - y_true * y_pred, 0)^2); 0/1 labels (all of them) become -1/1.");
  m.def(
      "huber",
      [](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad, double delta,
         std::uintptr_t stream) {
        if (!(delta >= 0.0)) {
          fail_value("huber", "delta", "expected a value >= 0, got " + std::to_string(delta));
        }
        pointwise_entry("huber", PointwiseLoss::huber, y_pred, y_true, loss, grad, delta, stream);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"),
      py::arg("delta") = 1.0, py::kw_only(), py::arg("stream"),
      (std::string("Keras Huber loss, mean over the last axis.") + kRowContract).c_str());
}

}  // namespace lamina::bind
