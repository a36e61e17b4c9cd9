// Multi-tensor optimizer updates: one launch updates every parameter tensor.
//
// The host cuts every tensor into chunks of kChunk elements and lists them (tensor index, first
// element); block b updates chunk b. A model's many small bias vectors then cost one block each
// inside the same launch, and a large kernel matrix spreads over many blocks. Each update
// functor holds the hyperparameters precomputed exactly as csrc/cpu/optimizers.cpp does (in
// double, then converted to T), so both backends compute the same expressions in the same order.
#include <cmath>
#include <cstring>
#include <vector>

#include "common/activation_math.h"
#include "cuda/launch.h"
#include "cuda/optimizers.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;
using activation_math::abs_t;
using activation_math::sqrt_t;

// 16 elements per thread of a 256-thread block: large enough to amortise the block's start,
// small enough that a 1M-element tensor still spreads over 256 blocks.
constexpr i64 kChunk = 16 * kBlockThreads;

struct Chunk {
  i64 tensor;
  i64 begin;
};

// Grid: one block of 256 threads per chunk (gridDim.x = number of chunks); the threads stride
// over the chunk's elements [begin, min(begin + kChunk, n)).
template <class T, class Update>
__global__ void multi_tensor_update_kernel(const ParamSlots<T>* tensors, const Chunk* chunks,
                                           Update update) {
  const Chunk chunk = chunks[blockIdx.x];
  const ParamSlots<T> s = tensors[chunk.tensor];
  const i64 end = chunk.begin + kChunk < s.n ? chunk.begin + kChunk : s.n;
  for (i64 i = chunk.begin + threadIdx.x; i < end; i += blockDim.x) update(s, i);
}

template <class T, class Update>
void multi_tensor_apply(const char* where, const ParamSlots<T>* tensors, i64 count,
                        const Update& update, cudaStream_t stream) {
  std::vector<Chunk> chunks;
  for (i64 t = 0; t < count; ++t) {
    for (i64 b = 0; b < tensors[t].n; b += kChunk) chunks.push_back({t, b});
  }
  if (chunks.empty()) return;
  if (chunks.size() > 0x7fffffffu) throw std::runtime_error(std::string("[") + where + "] too many elements");
  // One host buffer [tensor table | chunk table], copied in one go. ParamSlots<T> is 48 bytes,
  // a multiple of Chunk's 8-byte alignment.
  static_assert(sizeof(ParamSlots<T>) % alignof(Chunk) == 0, "chunk table alignment");
  const std::size_t table_bytes = sizeof(ParamSlots<T>) * static_cast<std::size_t>(count);
  const std::size_t bytes = table_bytes + sizeof(Chunk) * chunks.size();
  std::vector<unsigned char> host(bytes);
  std::memcpy(host.data(), tensors, table_bytes);
  std::memcpy(host.data() + table_bytes, chunks.data(), sizeof(Chunk) * chunks.size());
  StreamScratch device(bytes, stream, where);
  auto* dev = static_cast<unsigned char*>(device.get());
  // From pageable memory the copy is staged before cudaMemcpyAsync returns, so `host` may be
  // freed when this function returns.
  check_cuda(cudaMemcpyAsync(dev, host.data(), bytes, cudaMemcpyHostToDevice, stream), where,
             "copying the tensor table");
  launch("multi_tensor_update_kernel", dim3(static_cast<unsigned>(chunks.size())),
         dim3(kBlockThreads), 0, stream, multi_tensor_update_kernel<T, Update>,
         reinterpret_cast<const ParamSlots<T>*>(dev),
         reinterpret_cast<const Chunk*>(dev + table_bytes), update);
}

template <class T>
struct SgdUpdate {
  T lr, mom, decay;
  bool nesterov;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* m = s.state[0];
    const T wi = s.w[i] - s.w[i] * decay;
    const T gi = s.g[i];
    if (!m) {
      s.w[i] = wi - gi * lr;
      return;
    }
    const T mi = m[i] * mom - gi * lr;
    m[i] = mi;
    s.w[i] = nesterov ? wi + (mi * mom - gi * lr) : wi + mi;
  }
};

template <class T>
struct RmspropUpdate {
  T lr, rho, one_minus_rho, eps, mom, decay;
  bool use_momentum, centered;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* v = s.state[0];
    T* m = s.state[1];
    T* a = s.state[2];
    const T gi = s.g[i];
    const T vi = rho * v[i] + one_minus_rho * gi * gi;
    v[i] = vi;
    T den = vi;
    if (centered) {
      const T ai = rho * a[i] + one_minus_rho * gi;
      a[i] = ai;
      den = vi - ai * ai;
    }
    const T inc = lr * gi / sqrt_t(den + eps);
    const T wi = s.w[i] - s.w[i] * decay;
    if (use_momentum) {
      const T mi = mom * m[i] + inc;
      m[i] = mi;
      s.w[i] = wi - mi;
    } else {
      s.w[i] = wi - inc;
    }
  }
};

template <class T>
struct AdamUpdate {
  T alpha, c1, c2, eps, decay;
  bool amsgrad;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* m = s.state[0];
    T* v = s.state[1];
    T* vhat = s.state[2];
    const T gi = s.g[i];
    const T mi = m[i] + (gi - m[i]) * c1;
    T vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    if (amsgrad) {
      vi = vhat[i] < vi ? vi : vhat[i];  // std::max(vhat, v)
      vhat[i] = vi;
    }
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi - (mi * alpha) / (sqrt_t(vi) + eps);
  }
};

template <class T>
struct AdagradUpdate {
  T lr, eps, decay;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* acc = s.state[0];
    const T gi = s.g[i];
    const T ai = acc[i] + gi * gi;
    acc[i] = ai;
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi - lr * gi / sqrt_t(ai + eps);
  }
};

template <class T>
struct AdamaxUpdate {
  T lr, b2, c1, bias, eps, decay;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* m = s.state[0];
    T* u = s.state[1];
    const T gi = s.g[i];
    const T mi = m[i] + (gi - m[i]) * c1;
    const T scaled = b2 * u[i], ag = abs_t(gi);
    const T ui = scaled < ag ? ag : scaled;  // std::max(b2 u, |g|)
    m[i] = mi;
    u[i] = ui;
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi - (lr * mi) / (bias * (ui + eps));
  }
};

template <class T>
struct NadamUpdate {
  T cm, cg, inv_bias2, c1, c2, lr, eps, decay;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* m = s.state[0];
    T* v = s.state[1];
    const T gi = s.g[i];
    const T mi = m[i] + (gi - m[i]) * c1;
    const T vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    const T m_hat = cm * mi + cg * gi;
    const T v_hat = vi * inv_bias2;
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi - (m_hat * lr) / (sqrt_t(v_hat) + eps);
  }
};

template <class T>
struct AdadeltaUpdate {
  T lr, rho, one_minus_rho, eps, decay;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* acc_g = s.state[0];
    T* acc_d = s.state[1];
    const T gi = s.g[i];
    const T ai = rho * acc_g[i] + one_minus_rho * (gi * gi);
    acc_g[i] = ai;
    const T delta = -(sqrt_t(acc_d[i] + eps) * gi) / sqrt_t(ai + eps);
    acc_d[i] = rho * acc_d[i] + one_minus_rho * (delta * delta);
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi + lr * delta;
  }
};

template <class T>
struct LionUpdate {
  T lr, b1, b2, c1, c2, decay;
  __device__ void operator()(const ParamSlots<T>& s, i64 i) const {
    T* m = s.state[0];
    const T gi = s.g[i];
    const T c = m[i] * b1 + gi * c1;
    const T sign = static_cast<T>((c > T(0)) - (c < T(0)));
    const T wi = s.w[i] - s.w[i] * decay;
    s.w[i] = wi - lr * sign;
    m[i] = m[i] * b2 + gi * c2;
  }
};

}  // namespace

template <class T>
void sgd_step(const ParamSlots<T>* tensors, i64 count, const SgdOptions& o, cudaStream_t stream) {
  const SgdUpdate<T> u{static_cast<T>(o.lr), static_cast<T>(o.momentum),
                       static_cast<T>(o.weight_decay * o.lr), o.nesterov};
  multi_tensor_apply("sgd_step", tensors, count, u, stream);
}

template <class T>
void rmsprop_step(const ParamSlots<T>* tensors, i64 count, const RmspropOptions& o,
                  cudaStream_t stream) {
  const RmspropUpdate<T> u{static_cast<T>(o.lr),           static_cast<T>(o.rho),
                           static_cast<T>(1.0 - o.rho),    static_cast<T>(o.epsilon),
                           static_cast<T>(o.momentum),     static_cast<T>(o.weight_decay * o.lr),
                           o.momentum > 0.0,               o.centered};
  multi_tensor_apply("rmsprop_step", tensors, count, u, stream);
}

template <class T>
void adam_step(const ParamSlots<T>* tensors, i64 count, const AdamOptions& o,
               cudaStream_t stream) {
  const double t = static_cast<double>(o.step);
  const AdamUpdate<T> u{
      static_cast<T>(o.lr * std::sqrt(1.0 - std::pow(o.beta2, t)) / (1.0 - std::pow(o.beta1, t))),
      static_cast<T>(1.0 - o.beta1), static_cast<T>(1.0 - o.beta2), static_cast<T>(o.epsilon),
      static_cast<T>(o.weight_decay * o.lr), o.amsgrad};
  multi_tensor_apply("adam_step", tensors, count, u, stream);
}

template <class T>
void adagrad_step(const ParamSlots<T>* tensors, i64 count, const AdagradOptions& o,
                  cudaStream_t stream) {
  const AdagradUpdate<T> u{static_cast<T>(o.lr), static_cast<T>(o.epsilon),
                           static_cast<T>(o.weight_decay * o.lr)};
  multi_tensor_apply("adagrad_step", tensors, count, u, stream);
}

template <class T>
void adamax_step(const ParamSlots<T>* tensors, i64 count, const AdamaxOptions& o,
                 cudaStream_t stream) {
  const AdamaxUpdate<T> u{
      static_cast<T>(o.lr), static_cast<T>(o.beta2), static_cast<T>(1.0 - o.beta1),
      static_cast<T>(1.0 - std::pow(o.beta1, static_cast<double>(o.step))),
      static_cast<T>(o.epsilon), static_cast<T>(o.weight_decay * o.lr)};
  multi_tensor_apply("adamax_step", tensors, count, u, stream);
}

template <class T>
void nadam_step(const ParamSlots<T>* tensors, i64 count, const NadamOptions& o,
                cudaStream_t stream) {
  const double t = static_cast<double>(o.step);
  const double u_t = o.beta1 * (1.0 - 0.5 * std::pow(0.96, t));
  const double u_t1 = o.beta1 * (1.0 - 0.5 * std::pow(0.96, t + 1.0));
  const double u_prod_t1 = o.u_product * u_t1;
  const NadamUpdate<T> u{static_cast<T>(u_t1 / (1.0 - u_prod_t1)),
                         static_cast<T>((1.0 - u_t) / (1.0 - o.u_product)),
                         static_cast<T>(1.0 / (1.0 - std::pow(o.beta2, t))),
                         static_cast<T>(1.0 - o.beta1),
                         static_cast<T>(1.0 - o.beta2),
                         static_cast<T>(o.lr),
                         static_cast<T>(o.epsilon),
                         static_cast<T>(o.weight_decay * o.lr)};
  multi_tensor_apply("nadam_step", tensors, count, u, stream);
}

template <class T>
void adadelta_step(const ParamSlots<T>* tensors, i64 count, const AdadeltaOptions& o,
                   cudaStream_t stream) {
  const AdadeltaUpdate<T> u{static_cast<T>(o.lr), static_cast<T>(o.rho),
                            static_cast<T>(1.0 - o.rho), static_cast<T>(o.epsilon),
                            static_cast<T>(o.weight_decay * o.lr)};
  multi_tensor_apply("adadelta_step", tensors, count, u, stream);
}

template <class T>
void lion_step(const ParamSlots<T>* tensors, i64 count, const LionOptions& o,
               cudaStream_t stream) {
  const LionUpdate<T> u{static_cast<T>(o.lr),         static_cast<T>(o.beta1),
                        static_cast<T>(o.beta2),      static_cast<T>(1.0 - o.beta1),
                        static_cast<T>(1.0 - o.beta2), static_cast<T>(o.weight_decay * o.lr)};
  multi_tensor_apply("lion_step", tensors, count, u, stream);
}

#define LAMINA_INSTANTIATE_OPTIMIZERS(T)                                                        \
  template void sgd_step<T>(const ParamSlots<T>*, i64, const SgdOptions&, cudaStream_t);       \
  template void rmsprop_step<T>(const ParamSlots<T>*, i64, const RmspropOptions&, cudaStream_t); \
  template void adam_step<T>(const ParamSlots<T>*, i64, const AdamOptions&, cudaStream_t);     \
  template void adagrad_step<T>(const ParamSlots<T>*, i64, const AdagradOptions&, cudaStream_t); \
  template void adamax_step<T>(const ParamSlots<T>*, i64, const AdamaxOptions&, cudaStream_t); \
  template void nadam_step<T>(const ParamSlots<T>*, i64, const NadamOptions&, cudaStream_t);   \
  template void adadelta_step<T>(const ParamSlots<T>*, i64, const AdadeltaOptions&,            \
                                 cudaStream_t);                                                \
  template void lion_step<T>(const ParamSlots<T>*, i64, const LionOptions&, cudaStream_t);
LAMINA_INSTANTIATE_OPTIMIZERS(float)
LAMINA_INSTANTIATE_OPTIMIZERS(double)
#undef LAMINA_INSTANTIATE_OPTIMIZERS

}  // namespace lamina::cuda
