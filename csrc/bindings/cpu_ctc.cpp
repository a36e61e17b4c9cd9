// lamina._cpu.ctc_loss / ctc_beam_search: see csrc/cpu/ctc.h. Every length and label is checked
// here, so the kernel never reads past a row.
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/ctc.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

template <class I>
void check_lengths(const char* where, const char* name, const Arr& a, i64 limit,
                   const char* limit_name) {
  const I* v = a.ptr<I>();
  for (i64 b = 0; b < a.dim(0); ++b) {
    if (v[b] < 0 || static_cast<i64>(v[b]) > limit) {
      fail_value(where, name, "value " + std::to_string(static_cast<i64>(v[b])) + " at " +
                                  std::to_string(b) + " is outside [0, " + std::to_string(limit) +
                                  "] (" + limit_name + ")");
    }
  }
}

void ctc_loss_entry(py::handle logits_o, py::handle targets_o, py::handle tlen_o,
                    py::handle olen_o, i64 blank, bool zero_infinity, py::handle loss_o,
                    py::handle grad_o) {
  constexpr const char* where = "ctc_loss";
  const Arr logits = array_arg(logits_o, where, "logits");
  expect_ndim(logits, 3, where, "logits");
  expect_float(logits, where, "logits");
  const i64 B = logits.dim(0), T = logits.dim(1), C = logits.dim(2);
  const Arr targets = array_arg(targets_o, where, "targets", kRead, kContiguous, kIndexDType);
  expect_index(targets, where, "targets");
  expect_ndim(targets, 2, where, "targets");
  if (targets.dim(0) != B) {
    fail_value(where, "targets", "expected " + std::to_string(B) + " rows (the batch of "
                                 "logits), got shape " + shape_string(targets));
  }
  const i64 L = targets.dim(1);
  const Arr tlen = array_arg(tlen_o, where, "target_length");
  const Arr olen = array_arg(olen_o, where, "output_length");
  expect_dtype(tlen, targets.dtype, where, "target_length");
  expect_dtype(olen, targets.dtype, where, "output_length");
  expect_shape(tlen, {B}, where, "target_length");
  expect_shape(olen, {B}, where, "output_length");
  if (blank < 0 || blank >= C) {
    fail_value(where, "mask_index", "expected a class in [0, " + std::to_string(C) + "), got " +
                                        std::to_string(blank));
  }
  const Arr loss = array_arg(loss_o, where, "loss", kWrite);
  expect_dtype(loss, logits.dtype, where, "loss");
  expect_shape(loss, {B}, where, "loss");
  const Arr grad = optional_array_arg(grad_o, where, "grad", kWrite);
  if (grad.present()) {
    expect_dtype(grad, logits.dtype, where, "grad");
    expect_same_shape(grad, logits, where, "grad", "logits");
  }
  expect_all_disjoint(where, {{loss, "loss"}, {grad, "grad"}},
                      {{logits, "logits"}, {targets, "targets"}, {tlen, "target_length"},
                       {olen, "output_length"}});
  dispatch_index(targets.dtype, [&](auto izero) {
    using I = decltype(izero);
    check_lengths<I>(where, "target_length", tlen, L, "the target's max length");
    check_lengths<I>(where, "output_length", olen, T, "the logits' timesteps");
    const I* tg = targets.ptr<I>();
    const I* tl = tlen.ptr<I>();
    for (i64 b = 0; b < B; ++b) {
      for (i64 i = 0; i < static_cast<i64>(tl[b]); ++i) {
        const i64 v = static_cast<i64>(tg[b * L + i]);
        if (v < 0 || v >= C) {
          fail_value(where, "targets", "label " + std::to_string(v) + " at [" +
                                           std::to_string(b) + ", " + std::to_string(i) +
                                           "] is outside [0, " + std::to_string(C) +
                                           ") for logits with " + std::to_string(C) +
                                           " classes");
        }
      }
    }
    dispatch_float(logits.dtype, [&](auto fzero) {
      using V = decltype(fzero);
      py::gil_scoped_release nogil;
      ctc_loss<V, I>(B, T, C, L, logits.ptr<V>(), tg, tl, olen.ptr<I>(), blank, zero_infinity,
                     loss.ptr<V>(), grad.present() ? grad.ptr<V>() : nullptr);
    });
  });
}

void ctc_beam_entry(py::handle logits_o, py::handle len_o, i64 blank, i64 beam_width,
                    i64 top_paths, bool merge_repeated, py::handle paths_o, py::handle scores_o) {
  constexpr const char* where = "ctc_beam_search";
  const Arr logits = array_arg(logits_o, where, "inputs");
  expect_ndim(logits, 3, where, "inputs");
  expect_float(logits, where, "inputs");
  const i64 B = logits.dim(0), T = logits.dim(1), C = logits.dim(2);
  const Arr len = array_arg(len_o, where, "sequence_lengths", kRead, kContiguous, kIndexDType);
  expect_index(len, where, "sequence_lengths");
  expect_shape(len, {B}, where, "sequence_lengths");
  if (blank < 0 || blank >= C) {
    fail_value(where, "mask_index", "expected a class in [0, " + std::to_string(C) + "), got " +
                                        std::to_string(blank));
  }
  if (beam_width < 1) fail_value(where, "beam_width", "expected >= 1, got " + std::to_string(beam_width));
  if (top_paths < 1 || top_paths > beam_width) {
    fail_value(where, "top_paths", "expected 1 <= top_paths <= beam_width (" +
                                       std::to_string(beam_width) + "), got " +
                                       std::to_string(top_paths));
  }
  const Arr paths = array_arg(paths_o, where, "paths", kWrite);
  expect_dtype(paths, DType::i64, where, "paths");
  expect_shape(paths, {B, top_paths, T}, where, "paths");
  const Arr scores = array_arg(scores_o, where, "scores", kWrite);
  expect_dtype(scores, logits.dtype, where, "scores");
  expect_shape(scores, {B, top_paths}, where, "scores");
  expect_all_disjoint(where, {{paths, "paths"}, {scores, "scores"}},
                      {{logits, "inputs"}, {len, "sequence_lengths"}});
  dispatch_index(len.dtype, [&](auto izero) {
    using I = decltype(izero);
    check_lengths<I>(where, "sequence_lengths", len, T, "the inputs' timesteps");
    dispatch_float(logits.dtype, [&](auto fzero) {
      using V = decltype(fzero);
      py::gil_scoped_release nogil;
      ctc_beam_search<V, I>(B, T, C, logits.ptr<V>(), len.ptr<I>(), blank, beam_width,
                            top_paths, merge_repeated, paths.ptr<i64>(), scores.ptr<V>());
    });
  });
}

}  // namespace

void bind_ctc(py::module_& m) {
  m.def("ctc_loss", &ctc_loss_entry, py::arg("logits"), py::arg("targets"),
        py::arg("target_length"), py::arg("output_length"), py::arg("mask_index"),
        py::arg("zero_infinity"), py::arg("loss"), py::arg("grad"),
        "Per-sample CTC negative log-likelihood (B,) of targets under logits (B, T, C), and "
        "optionally its gradient (B, T, C) with respect to the logits.");
  m.def("ctc_beam_search", &ctc_beam_entry, py::arg("inputs"), py::arg("sequence_lengths"),
        py::arg("mask_index"), py::arg("beam_width"), py::arg("top_paths"),
        py::arg("merge_repeated"), py::arg("paths"), py::arg("scores"),
        "Prefix beam search: paths (B, top_paths, T) int64 padded with -1, scores (B, "
        "top_paths) log-probabilities.");
}

}  // namespace lamina::bind
