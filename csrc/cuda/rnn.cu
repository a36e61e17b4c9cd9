// Whole-sequence LSTM / GRU / SimpleRNN on the GPU (contract in cuda/rnn.h and cpu/rnn.h).
//
// The algorithm is the CPU driver's (csrc/cpu/rnn.cpp), step for step, so that the two backends
// produce the same outputs from the same inputs:
//   forward:  gates = x @ kernel (+ bias; the LSTM adds it in its step kernel, as the CPU's
//             gate pass does) for all N*T rows in ONE gemm; then per timestep t, on
//             the host, queue the recurrent product gates[:, t] += h_{t-1} @ R (cuda::gemm with
//             the strided step slice as its C) and ONE fused step kernel (gate non-linearities
//             and state update, per (n, u), through common/lstm_math.h: the CPU's formulas);
//   backward: per timestep in reverse, the fused gate-gradient step kernel, then
//             dh_{t-1} += dgates_t @ R^T (gemm); after the loop dkernel = x^T dgates,
//             dx = dgates @ kernel^T and drecurrent_kernel = H_prev^T dgates as single gemms
//             over all N*T rows (H_prev: the states each step read, h0 at t = 0, built in
//             scratch), dbias as a column reduction (cuda::reduce_sum).
// Recurrent dropout (rmask) multiplies h_{t-1} per gate before that gate's product: the dropped
// copy (N, gates*U) is built in scratch and the gates' products run as one strided-batched gemm
// (one product per gate). GRU reset_after=False needs two step kernels around the candidate's
// product (r * h_{t-1} must exist before (r * h_{t-1}) @ R_h), as on the CPU.
// Masks: a step kernel leaves the states of a masked row unchanged (copies h_{t-1}, c_{t-1}) and
// its backward writes zero gate gradients and passes dh, dc through; the products of a masked row
// are still computed (as on the CPU), their gradients are zero.
//
// Every step kernel maps one thread to one (n, u) with a grid-stride loop: a thread reads the
// u-th unit of every gate of row n, so the gate math needs no communication. Per step the host
// queues 2 launches (LSTM, SimpleRNN, GRU reset_after) or 4 (GRU reset_after=False), plus the
// dropout kernel when rmask is given; nothing synchronises, the host loop only enqueues.
//
// This is the plain, obviously-correct first version. For a tuning session with a GPU (bench/
// gpu.py's LSTM(512) row is the yardstick), in order of expected gain:
//   - capture the T-step loop in a CUDA graph (or let the caller capture the whole training step):
//     at T = 100 the forward is 200 launches of a few microseconds each, launch-bound for
//     small N and U;
//   - fuse the recurrent product and the gate kernel: a block owns a tile of units of all four
//     gates (columns u, U+u, 2U+u, 3U+u of R), computes h_{t-1} @ R for its tile and applies the
//     gate math in the epilogue, so the gates never round-trip through global memory;
//   - a persistent kernel (R split by gate columns over the blocks and kept in their shared
//     memory or registers for all T steps, one grid-wide barrier per step via cooperative launch,
//     h_t exchanged through L2): removes the per-step launches entirely; pays while R fits the
//     SMs' combined shared memory (LSTM float32: 1 MiB at U = 256, 4 MiB at U = 512, against
//     about 30 MB on an H100) and the batch is small enough for one resident grid;
//   - a tile shape for the skinny step products (N = 64 rows use half of gemm_kernel's 128-row
//     tile) and tensor cores (TF32/BF16) behind the precision setting;
//   - pool the scratch (cudaMallocAsync from the default pool returns memory at each sync unless
//     its release threshold is raised) or take it from the caller.
#include <memory>
#include <type_traits>

#include "common/activation_math.h"
#include "cuda/activations.h"
#include "cuda/gemm.h"
#include "cuda/launch.h"
#include "cuda/reduce.h"
#include "cuda/rnn.h"
#include "cuda/rnn_cells.cuh"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

// ---------------------------------------------------------------------------------------------
// Host helpers.
// ---------------------------------------------------------------------------------------------

// Launches an element-wise kernel over `items` threads' worth of grid-stride work.
template <class... KernelArgs, class... Args>
void launch_items(const char* name, i64 items, cudaStream_t stream, void (*kernel)(KernelArgs...),
                  Args... args) {
  launch(name, dim3(grid_stride_blocks(items, kBlockThreads)), dim3(kBlockThreads), 0, stream,
         kernel, args...);
}

// Calls fn(std::true_type{}) or fn(std::false_type{}): the kDefault flag of the step kernels,
// decided once per call.
template <class Fn>
void with_default(bool is_default, Fn&& fn) {
  if (is_default) {
    fn(std::true_type{});
  } else {
    fn(std::false_type{});
  }
}

bool default_pair(int act, int ract) {
  return act == activation_math::kTanh && ract == activation_math::kSigmoid;
}

// A stream-ordered device buffer of n elements (null when n == 0).
template <class T>
class Scratch {
 public:
  Scratch(i64 n, cudaStream_t stream, const char* where) {
    if (n > 0) {
      mem_ = std::make_unique<StreamScratch>(static_cast<std::size_t>(n) * sizeof(T), stream,
                                             where);
      ptr_ = static_cast<T*>(mem_->get());
    }
  }
  T* get() const { return ptr_; }

 private:
  std::unique_ptr<StreamScratch> mem_;
  T* ptr_ = nullptr;
};

// gates (N*T, G) = x (N*T, F) @ kernel (F, G) + bias (bias may be null).
template <class T>
void project_inputs(const RnnShape& s, i64 G, const T* x, const T* kernel, const T* bias,
                    T* gates, cudaStream_t stream) {
  const i64 rows = s.N * s.T;
  gemm<T>(false, false, rows, G, s.F, T(1), x, s.F, kernel, G, T(0), gates, G, stream);
  if (bias) {
    bias_activation_forward<T>(activation_math::kLinear, gates, bias, gates, rows, G, T(0),
                               stream);
  }
}

// z[:, g-th block] (+)= (h (* rmask_g)) @ R[:, g-th block] for gates 0 .. gates-1: one gemm
// without dropout; with it, the dropped copies in hd (N, G) and one strided-batched gemm.
template <class T>
void recurrent_products(i64 N, i64 U, i64 gates, i64 G, const T* h, i64 ldh, const T* rmask,
                        const T* R, T beta, T* z, i64 ldz, T* hd, cudaStream_t stream) {
  if (!rmask) {
    gemm<T>(false, false, N, gates * U, U, T(1), h, ldh, R, G, beta, z, ldz, stream);
    return;
  }
  launch_items("dropped_state_kernel", N * gates * U, stream, rnn_cells::dropped_state_kernel<T>, h,
               ldh, rmask, G, N, gates * U, U, hd);
  gemm_batched<T>(false, false, gates, N, U, U, T(1), hd, G, U, R, G, U, beta, z, ldz, U,
                  stream);
}

// dh (N, U) += sum_g (dg_g @ R_g^T) (* rmask_g), dg rows at ldg; tmp (gates, N, U) with rmask.
template <class T>
void recurrent_state_gradient(i64 N, i64 U, i64 gates, i64 G, const T* dg, i64 ldg, const T* R,
                              const T* rmask, T* tmp, T* dh, cudaStream_t stream) {
  if (!rmask) {
    gemm<T>(false, true, N, U, gates * U, T(1), dg, ldg, R, G, T(1), dh, U, stream);
    return;
  }
  gemm_batched<T>(false, true, gates, N, U, U, T(1), dg, ldg, U, R, G, U, T(0), tmp, U, N * U,
                  stream);
  launch_items("add_dropped_gradient_kernel", N * U, stream,
               rnn_cells::add_dropped_gradient_kernel<T>, tmp, rmask, G, gates, N, U, dh);
}

// drk[:, gate blocks 0 .. gates-1] (rows of G) = sum_{n,t} (h_{t-1} (* rmask_g))^T dg_g, dg the
// (N*T, ldg) gradients of the products recurrent_products computed.
template <class T>
void recurrent_kernel_gradients(const RnnShape& s, i64 gates, i64 G, const T* h0, const T* h_seq,
                                const T* rmask, const T* dg, i64 ldg, T* drk,
                                cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U, rows = N * Ts;
  Scratch<T> prev(rows * U, stream, "rnn_sequence_backward");
  // Without dropout every gate pairs with the same states: one gemm over all gate columns.
  // With it, one pass per gate over one buffer (the stream orders each kernel and its gemm).
  const i64 passes = rmask ? gates : 1, width = rmask ? U : gates * U;
  for (i64 g = 0; g < passes; ++g) {
    const T* m = rmask ? rmask + g * U : nullptr;
    launch_items("previous_states_kernel", rows * U, stream, rnn_cells::previous_states_kernel<T>,
                 h0, h_seq, m, G, N, Ts, U, prev.get());
    gemm<T>(true, false, U, width, rows, T(1), prev.get(), U, dg + g * U, ldg, T(0),
            drk + g * U, G, stream);
  }
}

// dkernel = x^T dg, dx = dg @ kernel^T (skipped when dx is null); dg rows of G.
template <class T>
void input_gradients(const RnnShape& s, i64 G, const T* x, const T* kernel, const T* dg, T* dx,
                     T* dkernel, cudaStream_t stream) {
  const i64 rows = s.N * s.T;
  gemm<T>(true, false, s.F, G, rows, T(1), x, s.F, dg, G, T(0), dkernel, G, stream);
  if (dx) gemm<T>(false, true, rows, s.F, G, T(1), dg, G, kernel, G, T(0), dx, s.F, stream);
}

// out[j] = sum over the N*T rows of a[:, j] (a rows of G), assigned.
template <class T>
void column_sums(const RnnShape& s, i64 G, const T* a, T* out, cudaStream_t stream) {
  reduce_sum<T>(a, out, 1, s.N * s.T, G, false, stream);
}

// dst (N, U) = src, or zeros when src is null.
template <class T>
void init_state_grad(const RnnShape& s, const T* src, T* dst, cudaStream_t stream) {
  const std::size_t bytes = static_cast<std::size_t>(s.N * s.U) * sizeof(T);
  if (bytes == 0) return;
  if (src) {
    check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream),
               "rnn_sequence_backward", "cudaMemcpyAsync of the final state gradient");
  } else {
    check_cuda(cudaMemsetAsync(dst, 0, bytes, stream), "rnn_sequence_backward",
               "cudaMemsetAsync of the state gradient");
  }
}

// The step's previous state: h0 (row stride U) at t = 0, else h_seq[:, t-1] (row stride T*U).
template <class T>
const T* prev_state(const T* first, const T* seq, i64 t, i64 U) {
  return t == 0 ? first : seq + (t - 1) * U;
}
inline i64 prev_stride(i64 t, i64 Ts, i64 U) { return t == 0 ? U : Ts * U; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// LSTM
// ---------------------------------------------------------------------------------------------
template <class T>
void lstm_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* bias, const T* h0, const T* c0,
                           const T* mask, const T* rmask, int activation,
                           int recurrent_activation, T* gates, T* h_seq, T* c_seq,
                           cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 4 * U;
  // The bias is added by the step kernel, as the CPU's gate pass adds it (cpu/rnn.cpp): a masked
  // row's gates then hold the same bias-free projections on both backends.
  project_inputs(s, G, x, kernel, static_cast<const T*>(nullptr), gates, stream);
  Scratch<T> hd(rmask ? N * G : 0, stream, "lstm_sequence_forward");
  with_default(default_pair(activation, recurrent_activation), [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = 0; t < Ts; ++t) {
      const T* hp = prev_state(h0, h_seq, t, U);
      const T* cp = prev_state(c0, c_seq, t, U);
      const i64 ldp = prev_stride(t, Ts, U);
      T* z = gates + t * G;
      recurrent_products(N, U, 4, G, hp, ldp, rmask, recurrent_kernel, T(1), z, Ts * G, hd.get(),
                         stream);
      launch_items("lstm_forward_step_kernel", N * U, stream,
                   rnn_cells::lstm_forward_step_kernel<T, kDefault>, z, Ts * G, bias, cp, hp,
                   ldp, c_seq + t * U, h_seq + t * U, Ts * U, mask ? mask + t : nullptr, Ts, N,
                   U, activation, recurrent_activation);
    }
  });
}

template <class T>
void lstm_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                            const T* recurrent_kernel, const T* h0, const T* c0, const T* mask,
                            const T* rmask, int activation, int recurrent_activation,
                            const T* gates, const T* h_seq, const T* c_seq, const T* dh_seq,
                            const T* dh_last, const T* dc_last, T* dx, T* dkernel,
                            T* drecurrent_kernel, T* dbias, T* dh0, T* dc0, T* dgates,
                            cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 4 * U;
  Scratch<T> tmp(rmask ? 4 * N * U : 0, stream, "lstm_sequence_backward");
  init_state_grad(s, dh_last, dh0, stream);  // dh0, dc0 hold the running state gradients
  init_state_grad(s, dc_last, dc0, stream);
  with_default(default_pair(activation, recurrent_activation), [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = Ts - 1; t >= 0; --t) {
      T* dz = dgates + t * G;
      launch_items("lstm_backward_step_kernel", N * U, stream,
                   rnn_cells::lstm_backward_step_kernel<T, kDefault>, gates + t * G, dz, Ts * G,
                   prev_state(c0, c_seq, t, U), prev_stride(t, Ts, U), c_seq + t * U, Ts * U,
                   mask ? mask + t : nullptr, Ts, dh_seq ? dh_seq + t * U : nullptr, Ts * U, dh0,
                   dc0, N, U, activation, recurrent_activation);
      recurrent_state_gradient(N, U, 4, G, dz, Ts * G, recurrent_kernel, rmask, tmp.get(), dh0,
                               stream);
    }
  });
  input_gradients(s, G, x, kernel, dgates, dx, dkernel, stream);
  if (dbias) column_sums(s, G, dgates, dbias, stream);
  recurrent_kernel_gradients(s, 4, G, h0, h_seq, rmask, dgates, G, drecurrent_kernel, stream);
}

// ---------------------------------------------------------------------------------------------
// GRU
// ---------------------------------------------------------------------------------------------
template <class T>
void gru_sequence_forward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                          const T* recurrent_kernel, const T* bias, const T* h0, const T* mask,
                          const T* rmask, int activation, int recurrent_activation, T* gates,
                          T* rh, T* h_seq, cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 3 * U;
  project_inputs(s, G, x, kernel, bias, gates, stream);  // reset_after: bias row 0 only
  const T* rbias = reset_after && bias ? bias + G : nullptr;
  Scratch<T> sbuf(reset_after ? N * G : 0, stream, "gru_sequence_forward");
  Scratch<T> hd(rmask ? N * G : 0, stream, "gru_sequence_forward");
  const T* rmask_h = rmask ? rmask + 2 * U : nullptr;
  with_default(default_pair(activation, recurrent_activation), [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = 0; t < Ts; ++t) {
      const T* hp = prev_state(h0, h_seq, t, U);
      const i64 ldp = prev_stride(t, Ts, U);
      T* z = gates + t * G;
      const T* m = mask ? mask + t : nullptr;
      if (reset_after) {
        recurrent_products(N, U, 3, G, hp, ldp, rmask, recurrent_kernel, T(0), sbuf.get(), G,
                           hd.get(), stream);
        launch_items("gru_forward_step_kernel", N * U, stream,
                     rnn_cells::gru_forward_step_kernel<T, kDefault>, z, Ts * G,
                     static_cast<const T*>(sbuf.get()), rbias, rh + t * U, Ts * U, hp, ldp,
                     h_seq + t * U, Ts * U, m, Ts, N, U, activation, recurrent_activation);
      } else {
        recurrent_products(N, U, 2, G, hp, ldp, rmask, recurrent_kernel, T(1), z, Ts * G,
                           hd.get(), stream);
        launch_items("gru_v1_forward_a_kernel", N * U, stream,
                     rnn_cells::gru_v1_forward_a_kernel<T, kDefault>, z, Ts * G, hp, ldp, rmask_h,
                     G, rh + t * U, Ts * U, N, U, recurrent_activation);
        gemm<T>(false, false, N, U, U, T(1), rh + t * U, Ts * U, recurrent_kernel + 2 * U, G,
                T(1), z + 2 * U, Ts * G, stream);
        launch_items("gru_v1_forward_b_kernel", N * U, stream,
                     rnn_cells::gru_v1_forward_b_kernel<T, kDefault>, z, Ts * G, hp, ldp,
                     h_seq + t * U, Ts * U, m, Ts, N, U, activation, recurrent_activation);
      }
    }
  });
}

template <class T>
void gru_sequence_backward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* h0, const T* mask, const T* rmask,
                           int activation, int recurrent_activation, const T* gates, const T* rh,
                           const T* h_seq, const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                           T* drecurrent_kernel, T* dbias, T* dh0, T* dgates, T* ds,
                           cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 3 * U;
  Scratch<T> drh(reset_after ? 0 : N * U, stream, "gru_sequence_backward");
  Scratch<T> tmp(rmask ? 3 * N * U : 0, stream, "gru_sequence_backward");
  const T* rmask_h = rmask ? rmask + 2 * U : nullptr;
  init_state_grad(s, dh_last, dh0, stream);
  with_default(default_pair(activation, recurrent_activation), [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = Ts - 1; t >= 0; --t) {
      const T* hp = prev_state(h0, h_seq, t, U);
      const i64 ldp = prev_stride(t, Ts, U);
      const T* m = mask ? mask + t : nullptr;
      const T* dy = dh_seq ? dh_seq + t * U : nullptr;
      T* dz = dgates + t * G;
      if (reset_after) {
        T* dst = ds + t * G;
        launch_items("gru_backward_step_kernel", N * U, stream,
                     rnn_cells::gru_backward_step_kernel<T, kDefault>, gates + t * G, dz, dst,
                     Ts * G, rh + t * U, Ts * U, hp, ldp, m, Ts, dy, Ts * U, dh0, N, U, activation,
                     recurrent_activation);
        recurrent_state_gradient(N, U, 3, G, dst, Ts * G, recurrent_kernel, rmask, tmp.get(),
                                 dh0, stream);
      } else {
        launch_items("gru_v1_backward_a_kernel", N * U, stream,
                     rnn_cells::gru_v1_backward_a_kernel<T, kDefault>, gates + t * G, dz, Ts * G,
                     hp, ldp, m, Ts, dy, Ts * U, dh0, N, U, activation, recurrent_activation);
        // drh = dz_h @ R_h^T
        gemm<T>(false, true, N, U, U, T(1), dz + 2 * U, Ts * G, recurrent_kernel + 2 * U, G,
                T(0), drh.get(), U, stream);
        launch_items("gru_v1_backward_b_kernel", N * U, stream,
                     rnn_cells::gru_v1_backward_b_kernel<T, kDefault>, gates + t * G, dz, Ts * G,
                     static_cast<const T*>(drh.get()), hp, ldp, rmask_h, G, m, Ts, dh0, N, U,
                     recurrent_activation);
        recurrent_state_gradient(N, U, 2, G, static_cast<const T*>(dz), Ts * G,
                                 recurrent_kernel, rmask, tmp.get(), dh0, stream);
      }
    }
  });
  input_gradients(s, G, x, kernel, dgates, dx, dkernel, stream);
  if (reset_after) {
    if (dbias) {
      column_sums(s, G, dgates, dbias, stream);
      column_sums(s, G, static_cast<const T*>(ds), dbias + G, stream);
    }
    recurrent_kernel_gradients(s, 3, G, h0, h_seq, rmask, static_cast<const T*>(ds), G,
                               drecurrent_kernel, stream);
  } else {
    if (dbias) column_sums(s, G, dgates, dbias, stream);
    recurrent_kernel_gradients(s, 2, G, h0, h_seq, rmask, static_cast<const T*>(dgates), G,
                               drecurrent_kernel, stream);
    gemm<T>(true, false, U, U, N * Ts, T(1), rh, U, dgates + 2 * U, G, T(0),
            drecurrent_kernel + 2 * U, G, stream);
  }
}

// ---------------------------------------------------------------------------------------------
// SimpleRNN
// ---------------------------------------------------------------------------------------------
template <class T>
void simple_rnn_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                                 const T* recurrent_kernel, const T* bias, const T* h0,
                                 const T* mask, const T* rmask, int activation, T* gates,
                                 T* h_seq, cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U;
  project_inputs(s, U, x, kernel, bias, gates, stream);
  Scratch<T> hd(rmask ? N * U : 0, stream, "simple_rnn_sequence_forward");
  with_default(activation == activation_math::kTanh, [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = 0; t < Ts; ++t) {
      const T* hp = prev_state(h0, h_seq, t, U);
      const i64 ldp = prev_stride(t, Ts, U);
      T* z = gates + t * U;
      recurrent_products(N, U, 1, U, hp, ldp, rmask, recurrent_kernel, T(1), z, Ts * U, hd.get(),
                         stream);
      launch_items("simple_forward_step_kernel", N * U, stream,
                   rnn_cells::simple_forward_step_kernel<T, kDefault>, static_cast<const T*>(z),
                   Ts * U, hp, ldp, h_seq + t * U, Ts * U, mask ? mask + t : nullptr, Ts, N, U,
                   activation);
    }
  });
}

template <class T>
void simple_rnn_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                                  const T* recurrent_kernel, const T* h0, const T* mask,
                                  const T* rmask, int activation, const T* h_seq,
                                  const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                                  T* drecurrent_kernel, T* dbias, T* dh0, T* dgates,
                                  cudaStream_t stream) {
  const i64 N = s.N, Ts = s.T, U = s.U;
  Scratch<T> tmp(rmask ? N * U : 0, stream, "simple_rnn_sequence_backward");
  init_state_grad(s, dh_last, dh0, stream);
  with_default(activation == activation_math::kTanh, [&](auto tag) {
    constexpr bool kDefault = decltype(tag)::value;
    for (i64 t = Ts - 1; t >= 0; --t) {
      T* dz = dgates + t * U;
      launch_items("simple_backward_step_kernel", N * U, stream,
                   rnn_cells::simple_backward_step_kernel<T, kDefault>, dz, Ts * U, h_seq + t * U,
                   Ts * U, mask ? mask + t : nullptr, Ts, dh_seq ? dh_seq + t * U : nullptr, Ts * U,
                   dh0, N, U, activation);
      recurrent_state_gradient(N, U, 1, U, static_cast<const T*>(dz), Ts * U, recurrent_kernel,
                               rmask, tmp.get(), dh0, stream);
    }
  });
  input_gradients(s, U, x, kernel, static_cast<const T*>(dgates), dx, dkernel, stream);
  if (dbias) column_sums(s, U, static_cast<const T*>(dgates), dbias, stream);
  recurrent_kernel_gradients(s, 1, U, h0, h_seq, rmask, static_cast<const T*>(dgates), U,
                             drecurrent_kernel, stream);
}

#define LAMINA_INSTANTIATE_CUDA_RNN(T)                                                         \
  template void lstm_sequence_forward<T>(const RnnShape&, const T*, const T*, const T*,        \
                                         const T*, const T*, const T*, const T*, const T*,     \
                                         int, int, T*, T*, T*, cudaStream_t);                  \
  template void lstm_sequence_backward<T>(                                                     \
      const RnnShape&, const T*, const T*, const T*, const T*, const T*, const T*, const T*,   \
      int, int, const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*,    \
      T*, T*, T*, cudaStream_t);                                                               \
  template void gru_sequence_forward<T>(const RnnShape&, bool, const T*, const T*, const T*,   \
                                        const T*, const T*, const T*, const T*, int, int, T*,  \
                                        T*, T*, cudaStream_t);                                 \
  template void gru_sequence_backward<T>(                                                      \
      const RnnShape&, bool, const T*, const T*, const T*, const T*, const T*, const T*, int,  \
      int, const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, T*,       \
      cudaStream_t);                                                                           \
  template void simple_rnn_sequence_forward<T>(const RnnShape&, const T*, const T*, const T*,  \
                                               const T*, const T*, const T*, const T*, int,    \
                                               T*, T*, cudaStream_t);                          \
  template void simple_rnn_sequence_backward<T>(                                               \
      const RnnShape&, const T*, const T*, const T*, const T*, const T*, const T*, int,        \
      const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_CUDA_RNN(float)
LAMINA_INSTANTIATE_CUDA_RNN(double)
#undef LAMINA_INSTANTIATE_CUDA_RNN

}  // namespace lamina::cuda
