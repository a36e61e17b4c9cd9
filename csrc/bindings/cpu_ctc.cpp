// lamina._cpu.ctc_loss / ctc_beam_search: see csrc/cpu/ctc.h. Every length and label is checked
// here (bindings/ctc_args.h, shared with lamina._cuda), so the kernel never reads past a row.
#include "bindings/arrays.h"
#include "bindings/ctc_args.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/ctc.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void ctc_loss_entry(py::handle logits_o, py::handle targets_o, py::handle tlen_o,
                    py::handle olen_o, i64 blank, bool zero_infinity, py::handle loss_o,
                    py::handle grad_o) {
  constexpr const char* where = "ctc_loss";
  const auto a = ctc_loss_args<Arr, array_arg>(logits_o, targets_o, tlen_o, olen_o, blank, loss_o,
                                               grad_o);
  dispatch_index(a.targets.dtype, [&](auto izero) {
    using I = decltype(izero);
    const I* tg = a.targets.ptr<I>();
    const I* tl = a.tlen.ptr<I>();
    const I* ol = a.olen.ptr<I>();
    check_ctc_data<I>(where, tg, tl, ol, a.B, a.T, a.L, a.C);
    dispatch_float(a.logits.dtype, [&](auto fzero) {
      using V = decltype(fzero);
      py::gil_scoped_release nogil;
      ctc_loss<V, I>(a.B, a.T, a.C, a.L, a.logits.ptr<V>(), tg, tl, ol, blank, zero_infinity,
                     a.loss.ptr<V>(), a.grad.present() ? a.grad.ptr<V>() : nullptr);
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
  check_mask_index(where, blank, C);
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
    check_ctc_lengths<I>(where, "sequence_lengths", len.ptr<I>(), B, T, "the inputs' timesteps");
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
