// Whole-sequence recurrent layers on the CPU: LSTM, GRU and SimpleRNN, forward and backward
// through time, each in one call. Plain views, no pybind11 (csrc/bindings/cpu_rnn.cpp checks).
//
// Shape letters: N batch, T timesteps, F input features, U units, G gate width (4U LSTM,
// 3U GRU, U SimpleRNN). All arrays are C-contiguous, batch-major as Keras:
//   x (N, T, F), kernel (F, G), recurrent_kernel (U, G), bias (G,) or null;
//   GRU with reset_after: bias (2, G) = [input bias; recurrent bias];
//   h0, c0 (N, U); mask (N, T) of 0/1 in the float type, or null (all steps valid);
//   rmask (N, G): recurrent dropout as Keras 3's cells do it, or null. One scaled keep mask
//   (N, U) per gate (column block g for gate g), fixed for the sequence; gate g's recurrent
//   product reads h_{t-1} * rmask_g, while the state update (LSTM c and h, GRU's blend
//   h = z h_{t-1} + (1 - z) hh) uses the undropped h_{t-1}. GRU reset_after=False: the
//   candidate reads r * (h_{t-1} * rmask_h).
// Gate order is Keras': LSTM i, f, c, o; GRU z, r, h.
// activation, recurrent_activation: codes of common/activation_math.h (any element-wise kind).
//
// Forward, per call: ONE gemm projects every timestep (x (N*T, F) @ kernel -> gates (N, T, G)),
// bias added (the LSTM adds it in its gate pass instead); then per step t one gemm adds
// h_{t-1} @ recurrent_kernel into gates[:, t] and one fused pass applies the gate
// non-linearities and the state update (csrc/cpu/simd/rnn_cells.cpp).
// Written (assigned): gates (gate values saved for backward: activated with the default tanh /
// sigmoid pair, pre-activations otherwise; SimpleRNN: pre-activations), h_seq (N, T, U) the
// state after every step (a masked step repeats the previous state), c_seq (N, T, U) for the
// LSTM, rh (N, T, U) for the GRU (reset_after: h_{t-1} @ R_h + b_h; otherwise r * h_{t-1}).
//
// Backward, per call: per step (T-1 .. 0) one fused pass (gate gradients, dc) and one gemm
// dh_{t-1} += dgates_t @ recurrent_kernel^T; then dkernel = x^T dgates, dx = dgates @ kernel^T
// and drecurrent_kernel = H_prev^T dgates as single gemms over all N*T rows.
// Inputs: what forward wrote, plus dh_seq (N, T, U) the gradient of the state sequence (or null)
// and dh_last / dc_last (N, U) the gradients of the final states (or null).
// Written (assigned, never accumulated): dx (or null to skip), dkernel, drecurrent_kernel, dbias
// (or null), dh0 and dc0 (N, U) (always: they hold the running state gradients), and the
// workspaces dgates (N, T, G) (and ds (N, T, G) for the reset_after GRU). SimpleRNN's dgates is
// the forward's gates buffer: read as the pre-activations, overwritten with their gradients.
// The LSTM's dgates may be its gates buffer too (then the saved gates are overwritten, step by
// step, with their gradients): the gradients need no buffer of their own, and the backward
// touches 3.2 MB less memory at batch 32 x 50 steps x 128 units (measured on the dev machine,
// one thread: 6.2 -> 5.7 ms).
#pragma once

#include <cstdint>

#include "common/rnn_shape.h"

namespace lamina {

template <class T>
void lstm_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* bias, const T* h0, const T* c0,
                           const T* mask, const T* rmask, int activation,
                           int recurrent_activation, T* gates, T* h_seq, T* c_seq);

template <class T>
void lstm_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                            const T* recurrent_kernel, const T* h0, const T* c0, const T* mask,
                            const T* rmask, int activation, int recurrent_activation,
                            const T* gates,
                            const T* h_seq, const T* c_seq, const T* dh_seq, const T* dh_last,
                            const T* dc_last, T* dx, T* dkernel, T* drecurrent_kernel, T* dbias,
                            T* dh0, T* dc0, T* dgates);

template <class T>
void gru_sequence_forward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                          const T* recurrent_kernel, const T* bias, const T* h0, const T* mask,
                          const T* rmask, int activation, int recurrent_activation, T* gates,
                          T* rh, T* h_seq);

template <class T>
void gru_sequence_backward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* h0, const T* mask, const T* rmask,
                           int activation, int recurrent_activation, const T* gates, const T* rh,
                           const T* h_seq, const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                           T* drecurrent_kernel, T* dbias, T* dh0, T* dgates, T* ds);

template <class T>
void simple_rnn_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                                 const T* recurrent_kernel, const T* bias, const T* h0,
                                 const T* mask, const T* rmask, int activation, T* gates,
                                 T* h_seq);

template <class T>
void simple_rnn_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                                  const T* recurrent_kernel, const T* h0, const T* mask,
                                  const T* rmask, int activation, const T* h_seq,
                                  const T* dh_seq,
                                  const T* dh_last, T* dx, T* dkernel, T* drecurrent_kernel,
                                  T* dbias, T* dh0, T* dgates);

}  // namespace lamina
