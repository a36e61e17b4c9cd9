// Portable driver for the activation kernels: picks the ISA's table and splits the work between
// threads (element ranges for element-wise kinds, row ranges for softmax and the dense epilogue).
#include "cpu/activations.h"

#include "common/parallel.h"
#include "cpu/activation_kernels.h"

namespace lamina {

namespace {

template <class T>
const ActivationKernelsFor<T>& kernels();

template <>
const ActivationKernelsFor<float>& kernels<float>() {
  return LAMINA_KERNEL_TABLE(activation_kernels).f32;
}

template <>
const ActivationKernelsFor<double>& kernels<double>() {
  return LAMINA_KERNEL_TABLE(activation_kernels).f64;
}

// Work per element in parallel_for's units (kParallelWorkThreshold ~ 50 us on one core). Cheap
// kinds are bound by memory (~0.25 ns per element); our vectorised float32 exp/erfc cost about
// as much again; float64 calls scalar libm (~5-10 ns per element).
template <class T>
std::int64_t work_per_element(Activation kind) {
  switch (kind) {
    case Activation::linear:
    case Activation::relu:
    case Activation::leaky_relu:
      return 1;
    default:
      return sizeof(T) == 4 ? 2 : 30;
  }
}

}  // namespace

const char* activation_name(Activation kind) {
  switch (kind) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::softmax: return "softmax";
    case Activation::gelu: return "gelu";
    case Activation::gelu_tanh: return "gelu_tanh";
    case Activation::elu: return "elu";
    case Activation::selu: return "selu";
    case Activation::softplus: return "softplus";
    case Activation::silu: return "silu";
    case Activation::leaky_relu: return "leaky_relu";
  }
  return "unknown";
}

double activation_default_alpha(Activation kind) {
  switch (kind) {
    case Activation::elu: return 1.0;
    case Activation::leaky_relu: return 0.2;
    default: return 0.0;
  }
}

bool activation_needs_input(Activation kind, double alpha) {
  switch (kind) {
    case Activation::gelu:
    case Activation::gelu_tanh:
    case Activation::softplus:
    case Activation::silu:
      return true;
    case Activation::elu:
    case Activation::leaky_relu:
      return !(alpha > 0.0);
    default:
      return false;
  }
}

template <class T>
void activation_forward(Activation kind, const T* x, T* y, std::int64_t rows, std::int64_t cols,
                        T alpha) {
  const auto& k = kernels<T>();
  const std::int64_t n = rows * cols;
  const std::int64_t work = n * work_per_element<T>(kind);
  if (kind == Activation::softmax) {
    parallel_for(rows, work, [&](std::int64_t r0, std::int64_t r1) {
      k.softmax_forward(x + r0 * cols, y + r0 * cols, r1 - r0, cols);
    });
    return;
  }
  parallel_for(n, work, [&](std::int64_t i0, std::int64_t i1) {
    k.forward(static_cast<int>(kind), x + i0, y + i0, i1 - i0, alpha);
  });
}

template <class T>
void activation_backward(Activation kind, const T* x, const T* y, const T* dy, T* dx,
                         std::int64_t rows, std::int64_t cols, T alpha) {
  const auto& k = kernels<T>();
  const std::int64_t n = rows * cols;
  const std::int64_t work = n * work_per_element<T>(kind);
  if (kind == Activation::softmax) {
    parallel_for(rows, work, [&](std::int64_t r0, std::int64_t r1) {
      k.softmax_backward(y + r0 * cols, dy + r0 * cols, dx + r0 * cols, r1 - r0, cols);
    });
    return;
  }
  parallel_for(n, work, [&](std::int64_t i0, std::int64_t i1) {
    k.backward(static_cast<int>(kind), x ? x + i0 : nullptr, y ? y + i0 : nullptr, dy + i0,
               dx + i0, i1 - i0, alpha);
  });
}

template <class T>
void bias_activation_forward(Activation kind, T* z, const T* b, T* y, std::int64_t rows,
                             std::int64_t cols, T alpha) {
  const auto& k = kernels<T>();
  const std::int64_t work = rows * cols * work_per_element<T>(kind);
  parallel_for(rows, work, [&](std::int64_t r0, std::int64_t r1) {
    k.bias_forward(static_cast<int>(kind), z + r0 * cols, b, y + r0 * cols, r1 - r0, cols, alpha);
  });
}

#define LAMINA_INSTANTIATE_ACTIVATIONS(T)                                                       \
  template void activation_forward<T>(Activation, const T*, T*, std::int64_t, std::int64_t, T); \
  template void activation_backward<T>(Activation, const T*, const T*, const T*, T*,           \
                                       std::int64_t, std::int64_t, T);                         \
  template void bias_activation_forward<T>(Activation, T*, const T*, T*, std::int64_t,         \
                                           std::int64_t, T);
LAMINA_INSTANTIATE_ACTIVATIONS(float)
LAMINA_INSTANTIATE_ACTIVATIONS(double)
#undef LAMINA_INSTANTIATE_ACTIVATIONS

}  // namespace lamina
