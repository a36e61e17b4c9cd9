// CUDA whole-sequence recurrent layers, the twins of csrc/cpu/rnn.h: LSTM, GRU and SimpleRNN,
// forward and backward through time, each in one call, with the same names, arguments, layouts
// and outputs (the contract is csrc/cpu/rnn.h's, restated briefly here) plus the stream.
//
// Shape letters: N batch, T timesteps, F input features, U units, G gate width (4U LSTM, 3U GRU,
// U SimpleRNN). Device memory, C-contiguous, batch-major: x (N, T, F), kernel (F, G),
// recurrent_kernel (U, G), bias (G,) or null (GRU reset_after: (2, G), input then recurrent
// bias), h0 / c0 (N, U), mask (N, T) of 0/1 in T or null, rmask (N, G) (one scaled keep mask
// per gate for recurrent dropout) or null. Gate order LSTM i, f, c, o; GRU z, r, h.
// activation / recurrent_activation: element-wise codes of common/activation_math.h.
//
// Forward writes (assigned): gates (N, T, G) (activated gate values with the default tanh /
// sigmoid pair, pre-activations otherwise; SimpleRNN: pre-activations; a masked step's row keeps
// what the projections left there), h_seq (N, T, U) (a masked step repeats the previous state),
// c_seq (LSTM), rh (GRU; reset_after: h_{t-1} R_h + b_h, not written at masked steps; otherwise
// r * (h_{t-1} * rmask_h)).
// Backward reads what forward wrote plus dh_seq (N, T, U) or null and dh_last / dc_last (N, U)
// or null; writes (ASSIGNED, never accumulated) dx (or null to skip), dkernel,
// drecurrent_kernel, dbias (or null), dh0 / dc0, and the workspaces dgates (N, T, G) (and ds for
// the reset_after GRU). SimpleRNN's dgates is the forward's gates buffer, read as the
// pre-activations and overwritten with their gradients.
//
// All work is queued on `stream`; nothing synchronises. Scratch beyond the caller's arrays (the
// dropped states of recurrent dropout, the GRU's recurrent products, the shifted state sequence
// for drecurrent_kernel: at most N * T * U elements) comes from cudaMallocAsync on the stream.
// Throws std::runtime_error on a CUDA error.
#pragma once

#include <cuda_runtime_api.h>

#include "common/rnn_shape.h"

namespace lamina::cuda {

template <class T>
void lstm_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* bias, const T* h0, const T* c0,
                           const T* mask, const T* rmask, int activation,
                           int recurrent_activation, T* gates, T* h_seq, T* c_seq,
                           cudaStream_t stream);

template <class T>
void lstm_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                            const T* recurrent_kernel, const T* h0, const T* c0, const T* mask,
                            const T* rmask, int activation, int recurrent_activation,
                            const T* gates, const T* h_seq, const T* c_seq, const T* dh_seq,
                            const T* dh_last, const T* dc_last, T* dx, T* dkernel,
                            T* drecurrent_kernel, T* dbias, T* dh0, T* dc0, T* dgates,
                            cudaStream_t stream);

template <class T>
void gru_sequence_forward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                          const T* recurrent_kernel, const T* bias, const T* h0, const T* mask,
                          const T* rmask, int activation, int recurrent_activation, T* gates,
                          T* rh, T* h_seq, cudaStream_t stream);

template <class T>
void gru_sequence_backward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* h0, const T* mask, const T* rmask,
                           int activation, int recurrent_activation, const T* gates, const T* rh,
                           const T* h_seq, const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                           T* drecurrent_kernel, T* dbias, T* dh0, T* dgates, T* ds,
                           cudaStream_t stream);

template <class T>
void simple_rnn_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                                 const T* recurrent_kernel, const T* bias, const T* h0,
                                 const T* mask, const T* rmask, int activation, T* gates,
                                 T* h_seq, cudaStream_t stream);

template <class T>
void simple_rnn_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                                  const T* recurrent_kernel, const T* h0, const T* mask,
                                  const T* rmask, int activation, const T* h_seq,
                                  const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                                  T* drecurrent_kernel, T* dbias, T* dh0, T* dgates,
                                  cudaStream_t stream);

}  // namespace lamina::cuda
