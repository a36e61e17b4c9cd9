// Fully-connected layer with a fused activation, forward and backward.
//
// Shapes (row-major, C-contiguous): x (N, F), w (F, U) (the Keras kernel layout), b (U,),
// z and y (N, U). N batch rows, F input features, U units.
//
// dense_forward:  z = x @ w + b; y = act(z). z may be null: then the gemm writes into y and the
//   bias add and activation run in place (one pass over y). With z given, z holds the
//   pre-activation afterwards (the backward pass needs it for the kinds that need the input).
//   b may be null (no bias).
// dense_backward: dz = act'(z) * dy (the from-output kinds read y, the others z); then
//   dw = x^T dz, db = column sums of dz, dx = dz w^T, all ASSIGNED (not accumulated).
//   dz is a (N, U) workspace and may be dy (in place); with the linear kind dy is used directly
//   (dz may be null and is not written). db may be null (no bias), dx may be null (first layer).
// Every product goes through lamina::gemm.
#pragma once

#include <cstdint>

#include "cpu/activations.h"

namespace lamina {

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* z, T* y, std::int64_t N,
                   std::int64_t F, std::int64_t U, Activation kind, T alpha);

template <class T>
void dense_backward(const T* x, const T* w, const T* z, const T* y, const T* dy, T* dx, T* dw,
                    T* db, T* dz, std::int64_t N, std::int64_t F, std::int64_t U,
                    Activation kind, T alpha);

}  // namespace lamina
