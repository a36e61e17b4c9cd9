// CUDA losses, the twins of csrc/cpu/losses.h (same layouts, Keras numerics and gradient
// contract): y_pred viewed as (R, C) rows over its last axis; loss (R,) gets one value per row;
// grad (or null) is ASSIGNED d(loss[r]) / d(y_pred[r, :]). Row sums accumulate in float64,
// element math runs in T. All pointers are device memory; work is queued on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cpu/losses.h"  // PointwiseLoss, kLossEpsilon: one definition for both backends

namespace lamina::cuda {

// Every PointwiseLoss kind. hinge / squared_hinge first decide on the device whether all labels
// are 0/1 (Keras maps them to -1/1 only then); no host synchronisation.
template <class T>
void pointwise_loss(PointwiseLoss kind, const T* y_pred, const T* y_true, std::int64_t R,
                    std::int64_t C, double param, T* loss, T* grad, cudaStream_t stream);

template <class T>
void categorical_crossentropy(const T* y_pred, const T* y_true, std::int64_t R, std::int64_t C,
                              bool from_logits, double label_smoothing, T* loss, T* grad,
                              cudaStream_t stream);

// has_ignore_class / ignore_class: as in csrc/cpu/losses.h (a flag, not a sentinel label).
// First row whose label is outside [0, C) and not the ignored class, or -1. Runs a check kernel and
// copies one 8-byte flag back: this SYNCHRONISES `stream` (the caller waits for the work queued
// before the labels are ready). It lets the caller raise before any output is written, as on
// the CPU. Any integer index array can be checked this way (embedding indices too); `where`
// names the caller in the message of a CUDA error.
template <class I>
std::int64_t find_invalid_label(const I* labels, std::int64_t R, std::int64_t C,
                                bool has_ignore_class, std::int64_t ignore_class,
                                cudaStream_t stream,
                                const char* where = "sparse_categorical_crossentropy");

// Reads labels[index] back to the host (for the error message). Synchronous.
template <class I>
std::int64_t label_at(const I* labels, std::int64_t index, cudaStream_t stream,
                      const char* where = "sparse_categorical_crossentropy");

// Trusts nothing: a label outside [0, C) (or the ignored class) gives loss 0 and gradient 0,
// so the kernel never indexes out of bounds even if the caller skipped find_invalid_label.
template <class T, class I>
void sparse_categorical_crossentropy(const T* y_pred, const I* labels, std::int64_t R,
                                     std::int64_t C, bool from_logits, bool has_ignore_class,
                                     std::int64_t ignore_class, T* loss, T* grad,
                                     cudaStream_t stream);

}  // namespace lamina::cuda
