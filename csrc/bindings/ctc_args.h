// Argument checks of ctc_loss, shared by lamina._cpu (cpu_ctc.cpp) and lamina._cuda
// (cuda_ctc.cpp): the same checks and messages by construction; the templates take the module's
// array type and reader (arrays.h's ArrayReader). The lengths and labels are data: the checks
// below read them from host memory (the CUDA binding copies them back first), so that the
// kernels never read past a row.
#pragma once

#include <cstdint>
#include <string>

#include "bindings/arrays.h"
#include "bindings/overlap.h"

namespace lamina::bind {

// Every v[b], b < n, lies in [0, limit].
template <class I>
void check_ctc_lengths(const char* where, const char* name, const I* v, std::int64_t n,
                       std::int64_t limit, const char* limit_name) {
  for (std::int64_t b = 0; b < n; ++b) {
    if (v[b] < 0 || static_cast<std::int64_t>(v[b]) > limit) {
      fail_value(where, name, "value " + std::to_string(static_cast<std::int64_t>(v[b])) +
                                  " at " + std::to_string(b) + " is outside [0, " +
                                  std::to_string(limit) + "] (" + limit_name + ")");
    }
  }
}

// Every label inside its sample's target_length lies in [0, C). targets (B, L), lengths (B,)
// already checked to lie in [0, L].
template <class I>
void check_ctc_labels(const char* where, const I* targets, const I* target_length,
                      std::int64_t B, std::int64_t L, std::int64_t C) {
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(target_length[b]); ++i) {
      const std::int64_t v = static_cast<std::int64_t>(targets[b * L + i]);
      if (v < 0 || v >= C) {
        fail_value(where, "targets", "label " + std::to_string(v) + " at [" + std::to_string(b) +
                                         ", " + std::to_string(i) + "] is outside [0, " +
                                         std::to_string(C) + ") for logits with " +
                                         std::to_string(C) + " classes");
      }
    }
  }
}

// Both lengths and the labels, in the order lamina._cpu has always checked them.
template <class I>
void check_ctc_data(const char* where, const I* targets, const I* target_length,
                    const I* output_length, std::int64_t B, std::int64_t T, std::int64_t L,
                    std::int64_t C) {
  check_ctc_lengths<I>(where, "target_length", target_length, B, L, "the target's max length");
  check_ctc_lengths<I>(where, "output_length", output_length, B, T, "the logits' timesteps");
  check_ctc_labels<I>(where, targets, target_length, B, L, C);
}

inline void check_mask_index(const char* where, std::int64_t blank, std::int64_t C) {
  if (blank < 0 || blank >= C) {
    fail_value(where, "mask_index", "expected a class in [0, " + std::to_string(C) + "), got " +
                                        std::to_string(blank));
  }
}

// logits (B, T, C) float; targets (B, L), target_length (B,), output_length (B,) of one index
// dtype; loss (B,) and grad (B, T, C) or absent, of the logits' dtype.
template <class A, ArrayReader<A> Read>
struct CtcLossArgs {
  A logits, targets, tlen, olen, loss, grad;
  std::int64_t B = 0, T = 0, C = 0, L = 0;
};

template <class A, ArrayReader<A> Read>
CtcLossArgs<A, Read> ctc_loss_args(py::handle logits_o, py::handle targets_o, py::handle tlen_o,
                                  py::handle olen_o, std::int64_t blank, py::handle loss_o,
                                  py::handle grad_o) {
  constexpr const char* where = "ctc_loss";
  CtcLossArgs<A, Read> a;
  a.logits = read_array<A, Read>(logits_o, where, "logits");
  expect_ndim(a.logits, 3, where, "logits");
  expect_float(a.logits, where, "logits");
  a.B = a.logits.dim(0);
  a.T = a.logits.dim(1);
  a.C = a.logits.dim(2);
  a.targets = read_array<A, Read>(targets_o, where, "targets", kRead, kContiguous, kIndexDType);
  expect_index(a.targets, where, "targets");
  expect_ndim(a.targets, 2, where, "targets");
  if (a.targets.dim(0) != a.B) {
    fail_value(where, "targets", "expected " + std::to_string(a.B) + " rows (the batch of "
                                 "logits), got shape " + shape_string(a.targets));
  }
  a.L = a.targets.dim(1);
  a.tlen = read_array<A, Read>(tlen_o, where, "target_length");
  a.olen = read_array<A, Read>(olen_o, where, "output_length");
  expect_dtype(a.tlen, a.targets.dtype, where, "target_length");
  expect_dtype(a.olen, a.targets.dtype, where, "output_length");
  expect_shape(a.tlen, {a.B}, where, "target_length");
  expect_shape(a.olen, {a.B}, where, "output_length");
  check_mask_index(where, blank, a.C);
  a.loss = read_array<A, Read>(loss_o, where, "loss", kWrite);
  expect_dtype(a.loss, a.logits.dtype, where, "loss");
  expect_shape(a.loss, {a.B}, where, "loss");
  a.grad = read_optional<A, Read>(grad_o, where, "grad", kWrite);
  if (a.grad.present()) {
    expect_dtype(a.grad, a.logits.dtype, where, "grad");
    expect_same_shape(a.grad, a.logits, where, "grad", "logits");
  }
  expect_all_disjoint(where, {{a.loss, "loss"}, {a.grad, "grad"}},
                      {{a.logits, "logits"}, {a.targets, "targets"}, {a.tlen, "target_length"},
                       {a.olen, "output_length"}});
  return a;
}

}  // namespace lamina::bind
