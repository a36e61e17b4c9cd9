// Activation functions, forward and backward, over C-contiguous float32/float64 data.
//
// Layout: the data is viewed as (rows, cols) with cols the last axis of the caller's array.
// Element-wise kinds ignore the split; softmax normalises each row (Keras: the last axis),
// subtracting the row maximum first.
//
// Forward:  y = act(x). y may be x (in place).
// Backward: dx = act'(x) * dy (softmax: dx = y * (dy - sum(dy * y)) per row), ASSIGNED. dx may be
// dy (in place). "From-output" kinds (activation_needs_input() == false) read only y and dy; the
// others read x (and not y). Pointers a kind does not read may be null.
//
// Formulas (Keras 3): sigmoid 1/(1+e^-x) evaluated without overflow; softplus log(1+e^x) as
// max(x,0)+log1p(e^-|x|); gelu x*Phi(x) with the erf form; gelu_tanh the tanh approximation;
// elu x>0 ? x : alpha*(e^x-1); selu scale*elu(x, 1.67326...); leaky_relu x>0 ? x : alpha*x;
// silu (swish) x*sigmoid(x). relu's derivative at 0 is 0.
//
// float32 uses our own vectorised exp/log/tanh/erfc (csrc/cpu/simd/activations.cpp); float64
// calls the C library.
#pragma once

#include <cstdint>

namespace lamina {

// The codes are part of the Python API (lamina._cpu.ACTIVATIONS): never renumber.
enum class Activation : int {
  linear = 0,
  relu = 1,
  sigmoid = 2,
  tanh = 3,
  softmax = 4,
  gelu = 5,
  gelu_tanh = 6,
  elu = 7,
  selu = 8,
  softplus = 9,
  silu = 10,
  leaky_relu = 11,
};
constexpr int kActivationCount = 12;

// Name of each code, in code order (the Python dict is built from this).
const char* activation_name(Activation kind);

// The Keras default of the `alpha` parameter: elu's alpha (1.0), leaky_relu's negative_slope
// (0.2); 0 for the kinds that have no parameter.
double activation_default_alpha(Activation kind);

// Whether the backward pass needs the input x (true) or can work from the output y alone.
// elu and leaky_relu recover the branch from the sign of y only when alpha > 0.
bool activation_needs_input(Activation kind, double alpha);

template <class T>
void activation_forward(Activation kind, const T* x, T* y, std::int64_t rows, std::int64_t cols,
                        T alpha);

template <class T>
void activation_backward(Activation kind, const T* x, const T* y, const T* dy, T* dx,
                         std::int64_t rows, std::int64_t cols, T alpha);

// Dense epilogue over a (rows, cols) block produced by a gemm into `z`:
//   z[r, :] += b (when b is not null), then y[r, :] = act(z[r, :]).
// y may be z (then z ends up holding the activation, as when the caller wants no pre-activation).
// One pass over the output, blocked so each block is still in L1 for the activation.
template <class T>
void bias_activation_forward(Activation kind, T* z, const T* b, T* y, std::int64_t rows,
                             std::int64_t cols, T alpha);

}  // namespace lamina
