// lamina._cpu loss entry points: see csrc/cpu/losses.h for the numerics and layouts.
//
// Every entry takes (y_pred, y_true or labels, loss, grad-or-None, options...). y_pred is viewed
// as (R, C) rows over its last axis; loss is (R,) (or y_pred's shape without the last axis);
// grad, when given, has y_pred's shape and receives d(loss[r]) / d(y_pred[r, :]).
#include <cstdint>
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/loss_args.h"
#include "bindings/overlap.h"
#include "cpu/losses.h"

namespace lamina::bind {

namespace {

struct RowsView {
  Arr y_pred, target, loss, grad;
  std::int64_t R = 0, C = 0;
};

// Accepts (R,) or y_pred's shape without its last axis (the same rows, unflattened).
void expect_rows(const Arr& a, const Arr& y_pred, std::int64_t R, const char* where,
                 const char* name) {
  if (a.ndim == y_pred.ndim - 1 && a.ndim != 1) {
    bool ok = true;
    for (int i = 0; i < a.ndim; ++i) ok = ok && a.shape[i] == y_pred.shape[i];
    if (ok) return;
  }
  expect_shape(a, {R}, where, name);
}

// Checks y_pred (float, at least 1-D, non-empty last axis), the target (same shape and dtype as
// y_pred, or int labels, one per row, when `sparse`), loss (R,) and the optional grad.
RowsView check_rows(const char* where, py::handle y_pred_obj, py::handle target_obj,
                    const char* target_name, py::handle loss_obj, py::handle grad_obj,
                    bool sparse) {
  RowsView v;
  v.y_pred = array_arg(y_pred_obj, where, "y_pred", kRead, kContiguous, kFloatDType);
  expect_float(v.y_pred, where, "y_pred");
  if (v.y_pred.ndim < 1 || v.y_pred.dim(v.y_pred.ndim - 1) < 1) {
    fail_value(where, "y_pred", "expected at least 1 dimension with a non-empty last axis, got "
                                "shape " + shape_string(v.y_pred));
  }
  v.C = v.y_pred.dim(v.y_pred.ndim - 1);
  v.R = v.y_pred.size() / v.C;
  v.target = array_arg(target_obj, where, target_name, kRead, kContiguous,
                         sparse ? kIndexDType : kFloatDType);
  if (sparse) {
    expect_index(v.target, where, target_name);
    expect_rows(v.target, v.y_pred, v.R, where, target_name);
  } else {
    expect_dtype(v.target, v.y_pred.dtype, where, target_name);
    expect_same_shape(v.target, v.y_pred, where, target_name, "y_pred");
  }
  v.loss = array_arg(loss_obj, where, "loss", kWrite, kContiguous, kFloatDType);
  expect_dtype(v.loss, v.y_pred.dtype, where, "loss");
  expect_rows(v.loss, v.y_pred, v.R, where, "loss");
  v.grad = optional_array_arg(grad_obj, where, "grad", kWrite, kContiguous, kFloatDType);
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
                     py::handle loss, py::handle grad, double param) {
  const RowsView v = check_rows(where, y_pred, y_true, "y_true", loss, grad, false);
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(v.R * v.C >= kGilMinElements);
    pointwise_loss<T>(kind, v.y_pred.ptr<T>(), v.target.ptr<T>(), v.R, v.C, param,
                      v.loss.ptr<T>(), v.grad.present() ? v.grad.ptr<T>() : nullptr);
  });
}

void categorical_crossentropy_entry(py::handle y_pred, py::handle y_true, py::handle loss,
                                    py::handle grad, bool from_logits, double label_smoothing) {
  constexpr const char* where = "categorical_crossentropy";
  check_label_smoothing(where, label_smoothing);
  const RowsView v = check_rows(where, y_pred, y_true, "y_true", loss, grad, false);
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(v.R * v.C >= kGilMinElements);
    categorical_crossentropy<T>(v.y_pred.ptr<T>(), v.target.ptr<T>(), v.R, v.C, from_logits,
                                label_smoothing, v.loss.ptr<T>(),
                                v.grad.present() ? v.grad.ptr<T>() : nullptr);
  });
}

void sparse_categorical_crossentropy_entry(py::handle y_pred, py::handle labels, py::handle loss,
                                           py::handle grad, bool from_logits,
                                           py::object ignore_class_obj) {
  constexpr const char* where = "sparse_categorical_crossentropy";
  const RowsView v = check_rows(where, y_pred, labels, "labels", loss, grad, true);
  const IgnoredClass ignore = ignored_class_arg(where, ignore_class_obj);
  // Validate every label before anything is written: a bad label leaves the outputs untouched.
  const std::int64_t bad = dispatch_index(v.target.dtype, [&](auto izero) {
    using I = decltype(izero);
    GilRelease nogil(v.R * v.C >= kGilMinElements);
    return find_invalid_label<I>(v.target.ptr<I>(), v.R, v.C, ignore.active, ignore.label);
  });
  if (bad >= 0) {
    const std::int64_t label = v.target.dtype == DType::i64 ? v.target.ptr<std::int64_t>()[bad]
                                                            : v.target.ptr<std::int32_t>()[bad];
    fail_value(where, "labels", "label " + std::to_string(label) + " at index " +
                                    std::to_string(bad) + " is out of range for " +
                                    std::to_string(v.C) + " classes");
  }
  dispatch_float(v.y_pred.dtype, [&](auto zero) {
    using T = decltype(zero);
    dispatch_index(v.target.dtype, [&](auto izero) {
      using I = decltype(izero);
      GilRelease nogil(v.R * v.C >= kGilMinElements);
      sparse_categorical_crossentropy<T, I>(v.y_pred.ptr<T>(), v.target.ptr<I>(), v.R, v.C,
                                            from_logits, ignore.active, ignore.label,
                                            v.loss.ptr<T>(),
                                            v.grad.present() ? v.grad.ptr<T>() : nullptr);
    });
  });
}

void binary_crossentropy_entry(py::handle y_pred, py::handle y_true, py::handle loss,
                               py::handle grad, bool from_logits, double label_smoothing) {
  constexpr const char* where = "binary_crossentropy";
  check_label_smoothing(where, label_smoothing);
  pointwise_entry(where,
                  from_logits ? PointwiseLoss::binary_crossentropy_logits
                              : PointwiseLoss::binary_crossentropy,
                  y_pred, y_true, loss, grad, label_smoothing);
}

template <void (*Fn)(const float*, const float*, std::int64_t, std::int64_t, float*, float*),
          void (*Fd)(const double*, const double*, std::int64_t, std::int64_t, double*, double*)>
void row_entry(const char* where, py::handle y_pred, py::handle y_true, py::handle loss,
               py::handle grad) {
  const RowsView v = check_rows(where, y_pred, y_true, "y_true", loss, grad, false);
  GilRelease nogil(v.R * v.C >= kGilMinElements);
  if (v.y_pred.dtype == DType::f64) {
    Fd(v.y_pred.ptr<double>(), v.target.ptr<double>(), v.R, v.C, v.loss.ptr<double>(),
       v.grad.present() ? v.grad.ptr<double>() : nullptr);
  } else {
    Fn(v.y_pred.ptr<float>(), v.target.ptr<float>(), v.R, v.C, v.loss.ptr<float>(),
       v.grad.present() ? v.grad.ptr<float>() : nullptr);
  }
}

constexpr const char* kRowContract =
    " y_pred is viewed as rows over its last axis; loss gets one value per row and grad (or "
    "None) d(loss[row]) / d(y_pred[row, :]).";

void def_pointwise(py::module_& m, const char* name, PointwiseLoss kind, const char* formula) {
  m.def(
      name,
      [name, kind](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad) {
        pointwise_entry(name, kind, y_pred, y_true, loss, grad, 0.0);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"),
      (std::string(formula) + kRowContract).c_str());
}

}  // namespace

void bind_losses(py::module_& m) {
  m.def("categorical_crossentropy", &categorical_crossentropy_entry, py::arg("y_pred"),
        py::arg("y_true"), py::arg("loss"), py::arg("grad"), py::arg("from_logits"),
        py::arg("label_smoothing") = 0.0,
        (std::string("Keras categorical cross-entropy: probabilities are renormalised and "
                     "clipped to [1e-7, 1 - 1e-7], logits go through log-softmax.") +
         kRowContract).c_str());
  m.def("sparse_categorical_crossentropy", &sparse_categorical_crossentropy_entry,
        py::arg("y_pred"), py::arg("labels"), py::arg("loss"), py::arg("grad"),
        py::arg("from_logits"), py::arg("ignore_class") = py::none(),
        (std::string("categorical_crossentropy against one-hot int32/int64 labels (one per "
                     "row). Every label is checked before anything is written; a row whose label "
                     "is ignore_class (None: no ignored class; any integer, -1 included, "
                     "otherwise) gets loss 0 and gradient 0.") +
         kRowContract).c_str());
  m.def("binary_crossentropy", &binary_crossentropy_entry, py::arg("y_pred"), py::arg("y_true"),
        py::arg("loss"), py::arg("grad"), py::arg("from_logits"),
        py::arg("label_smoothing") = 0.0,
        (std::string("Keras binary cross-entropy, mean over the last axis: probabilities "
                     "clipped to [1e-7, 1 - 1e-7], or the stable logits form.") +
         kRowContract).c_str());
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
      [](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad, double delta) {
        if (!(delta >= 0.0)) {
          fail_value("huber", "delta", "expected a value >= 0, got " + std::to_string(delta));
        }
        pointwise_entry("huber", PointwiseLoss::huber, y_pred, y_true, loss, grad, delta);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"),
      py::arg("delta") = 1.0,
      (std::string("Keras Huber loss, mean over the last axis.") + kRowContract).c_str());
  m.def(
      "categorical_hinge",
      [](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad) {
        row_entry<&categorical_hinge<float>, &categorical_hinge<double>>(
            "categorical_hinge", y_pred, y_true, loss, grad);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"),
      (std::string("max(max((1 - t) p) - sum(t p) + 1, 0) per row.") + kRowContract).c_str());
  m.def(
      "cosine_similarity",
      [](py::handle y_pred, py::handle y_true, py::handle loss, py::handle grad) {
        row_entry<&cosine_similarity<float>, &cosine_similarity<double>>(
            "cosine_similarity", y_pred, y_true, loss, grad);
      },
      py::arg("y_pred"), py::arg("y_true"), py::arg("loss"), py::arg("grad"),
      (std::string("-sum(l2_normalize(y_true) * l2_normalize(y_pred)) per row.") + kRowContract)
          .c_str());
}

}  // namespace lamina::bind
