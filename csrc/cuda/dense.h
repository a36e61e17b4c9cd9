// CUDA fully-connected layer with a fused activation, the twin of csrc/cpu/dense.h (same shapes
// and contract): x (N, F), w (F, U), b (U,), z and y (N, U), all row-major device memory.
//
// dense_forward:  z = x @ w + b; y = act(z). z may be null (the gemm writes y and the epilogue
//   runs in place). b may be null.
// dense_backward: dz = act'(z or y) * dy into the workspace dz (may be dy; null for linear, which
//   uses dy directly); dw = x^T dz, db = column sums of dz (b null: skipped), dx = dz w^T (null:
//   skipped), all ASSIGNED. `a` is z for the kinds that need the input, y for the others.
// Kernels: gemm_kernel for the products, bias_activation_kernel (or softmax_forward_kernel) for
// the epilogue, activation_backward_kernel for dz, reduce_columns_kernel for db.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace lamina::cuda {

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* z, T* y, std::int64_t N,
                   std::int64_t F, std::int64_t U, int kind, T alpha, cudaStream_t stream);

template <class T>
void dense_backward(const T* x, const T* w, const T* a, const T* dy, T* dx, T* dw, T* db, T* dz,
                    std::int64_t N, std::int64_t F, std::int64_t U, int kind, T alpha,
                    cudaStream_t stream);

}  // namespace lamina::cuda
