// Connectionist Temporal Classification on the CPU: loss and its gradient in log space
// (forward-backward over the blank-extended label sequence), and greedy / beam-search decoding.
//
// Shape letters: B batch, T max timesteps, C classes (blank included), L max label length.
// logits (B, T, C) unnormalised (a log-softmax is applied per step), targets (B, L) integers,
// target_length / output_length (B,). Only the first output_length[b] steps and the first
// target_length[b] labels of a sample count; a label equal to the blank index inside that length
// is padding and is skipped (so 0-padded targets with a full-length target_length work, as
// Keras' losses.CTC passes them). The binding has already checked every length and label.
//
// ctc_loss: writes loss (B,) = -log p(target | logits) and, when grad is not null,
// grad (B, T, C) = d loss_b / d logits[b] (assigned; zero past output_length[b]). A sample with
// no valid alignment (too few steps for its labels and their repeats) gets loss +inf and a zero
// gradient, or loss 0 when zero_infinity; never NaN. Samples run in parallel; alpha and beta are
// kept in double whatever T is.
#pragma once

#include <cstdint>

namespace lamina {

template <class T, class I>
void ctc_loss(std::int64_t B, std::int64_t Tmax, std::int64_t C, std::int64_t L, const T* logits,
              const I* targets, const I* target_length, const I* output_length,
              std::int64_t blank, bool zero_infinity, T* loss, T* grad);

// Prefix beam search (blank/non-blank split scores, merge_repeated semantics of CTC). Writes
// paths (B, top_paths, Tmax) padded with -1, and scores (B, top_paths) log-probabilities
// (-inf for missing paths).
template <class T, class I>
void ctc_beam_search(std::int64_t B, std::int64_t Tmax, std::int64_t C, const T* logits,
                     const I* sequence_length, std::int64_t blank, std::int64_t beam_width,
                     std::int64_t top_paths, bool merge_repeated, std::int64_t* paths,
                     T* scores);

}  // namespace lamina
