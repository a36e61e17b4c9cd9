// lamina._cuda.ctc_loss: see csrc/cuda/ctc.h. Arguments, checks and messages are lamina._cpu's
// (bindings/ctc_args.h), plus the keyword-only stream. The lengths and labels are data the
// checks must read: they are copied to the host first (B + B + B * L integers), which
// synchronises the stream, before the kernel is queued. ctc_beam_search has no CUDA twin:
// lamina.ops.ctc decodes on the host.
#include <vector>

#include "bindings/ctc_args.h"
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "cuda/ctc.h"
#include "cuda/device.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void ctc_loss_entry(py::handle logits_o, py::handle targets_o, py::handle tlen_o,
                    py::handle olen_o, i64 blank, bool zero_infinity, py::handle loss_o,
                    py::handle grad_o, std::uintptr_t stream) {
  constexpr const char* where = "ctc_loss";
  const auto a = ctc_loss_args<DevArr, device_array_arg>(logits_o, targets_o, tlen_o, olen_o,
                                                         blank, loss_o, grad_o);
  const cudaStream_t s = stream_arg(stream);
  dispatch_index(a.targets.dtype, [&](auto izero) {
    using I = decltype(izero);
    std::vector<I> targets(static_cast<std::size_t>(a.B * a.L)), tlen(a.B), olen(a.B);
    {
      py::gil_scoped_release nogil;
      cuda::copy_to_host(targets.data(), a.targets.ptr<I>(), targets.size() * sizeof(I), s, where);
      cuda::copy_to_host(tlen.data(), a.tlen.ptr<I>(), tlen.size() * sizeof(I), s, where);
      cuda::copy_to_host(olen.data(), a.olen.ptr<I>(), olen.size() * sizeof(I), s, where);
    }
    check_ctc_data<I>(where, targets.data(), tlen.data(), olen.data(), a.B, a.T, a.L, a.C);
    dispatch_float(a.logits.dtype, [&](auto fzero) {
      using V = decltype(fzero);
      py::gil_scoped_release nogil;
      cuda::ctc_loss<V, I>(a.B, a.T, a.C, a.L, a.logits.ptr<V>(), a.targets.ptr<I>(),
                           a.tlen.ptr<I>(), a.olen.ptr<I>(), blank, zero_infinity,
                           a.loss.ptr<V>(), a.grad.present() ? a.grad.ptr<V>() : nullptr, s);
    });
  });
}

}  // namespace

void bind_cuda_ctc(py::module_& m) {
  m.def("ctc_loss", &ctc_loss_entry, py::arg("logits"), py::arg("targets"),
        py::arg("target_length"), py::arg("output_length"), py::arg("mask_index"),
        py::arg("zero_infinity"), py::arg("loss"), py::arg("grad"), py::kw_only(),
        py::arg("stream"),
        "Per-sample CTC negative log-likelihood (B,) of targets under logits (B, T, C), and "
        "optionally its gradient (B, T, C) with respect to the logits, on `stream` (the lengths "
        "and labels are checked on the host first, which waits for the stream).");
}

}  // namespace lamina::bind
