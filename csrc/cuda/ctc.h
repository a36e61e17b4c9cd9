// CUDA CTC loss and gradient, the twin of csrc/cpu/ctc.h's ctc_loss (same layouts, numerics and
// contract, plus a stream): logits (B, T, C) unnormalised, targets (B, L), target_length and
// output_length (B,), all device memory; loss (B,) = -log p(target | logits) and, when grad is
// not null, grad (B, T, C) = d loss_b / d logits[b] (assigned; zero past output_length[b]).
// Labels equal to the blank inside the target length are padding and skipped; a sample with no
// valid alignment gets loss +inf and a zero gradient, or loss 0 with zero_infinity; never NaN.
// The binding has checked every length and label on the host (bindings/ctc_args.h); the kernel
// still clamps the lengths and skips labels outside [0, C), so it never reads past a row.
// Beam-search decoding has no CUDA twin (ops/ctc.py decodes on the host).
// One block per sample, alpha and beta in double; per-sample scratch (alpha for every step, two
// rows of beta, the extended label sequence) is one stream-ordered allocation (launch.h's
// StreamScratch) of about B * (T * (2L + 1) + T + C + 8L) * 8 bytes. Nothing synchronises.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T, class I>
void ctc_loss(std::int64_t B, std::int64_t Tmax, std::int64_t C, std::int64_t L, const T* logits,
              const I* targets, const I* target_length, const I* output_length,
              std::int64_t blank, bool zero_infinity, T* loss, T* grad, cudaStream_t stream);

}  // namespace lamina::cuda
