// Per-ISA step passes of the recurrent cells: the element-wise part of one timestep over a range
// of batch rows [n0, n1). The drivers in csrc/cpu/rnn.cpp run the matrix products (lamina::gemm)
// and call these between them; csrc/cpu/simd/rnn_cells.cpp defines them once per ISA.
//
// Row pointers: every "(N, X) at step t" operand is given as its row-0 pointer plus a row stride
// (ld*), so the same pass reads a slice of a (N, T, X) sequence buffer or a plain (N, X) state.
// mask: null, or a row-0 pointer with stride ldm; a row whose mask is 0 carries its state.
// Unit range: the LSTM and GRU (reset_after) passes cover units [u0, u1) of every gate, so that
// a driver that splits the step product by columns can run each thread's share of the gate pass
// (u1 == 0, as in zero-initialised arguments, covers all the units).
//
// Saved gates: with the default activations (tanh, sigmoid) the forward passes overwrite the
// pre-activations with the activated gate values, which is all the backward passes need; with
// any other pair they keep the pre-activations and the backward passes re-evaluate the
// activations (some derivatives, gelu's or silu's, need the input, not the output).
#pragma once

#include <cstdint>

#include "common/isa.h"

namespace lamina {

template <class T>
struct LstmStepArgs {
  T* z; std::int64_t ldz;                 // (N, 4U): pre-activations in, activated i,f,g,o out
  const T* c_prev; std::int64_t ldc_prev;  // (N, U)
  const T* h_prev; std::int64_t ldh_prev;  // (N, U)
  T* c; T* h; std::int64_t ldch;           // (N, U) outputs c_t, h_t
  const T* mask; std::int64_t ldm;
  std::int64_t units; int act, ract;
  std::int64_t u0, u1;             // units [u0, u1) of the pass (LSTM); u1 == 0: all of them
  const T* bias;                   // LSTM forward: (4U,) added to z here (zeros without a bias)
  // backward only
  const T* dy; std::int64_t lddy;  // (N, U) gradient of the output sequence at t, or null
  T* dh;                           // (N, U) contiguous: dL/dh_t in; the carried part out
  T* dc;                           // (N, U) contiguous: dL/dc_t in, dL/dc_{t-1} out
  T* dz;                           // (N, 4U) at stride ldz: pre-activation gradients out;
                                   // may be z itself (then the saved gates are overwritten)
  T* dbias;                        // LSTM: (N, 4U) contiguous, each row's dz summed into it
};

template <class T>
struct GruStepArgs {
  T* z; std::int64_t ldz;               // (N, 3U): x-part pre-activations in, z,r,hh out
  const T* s;                           // (N, 3U) contiguous: h_prev @ R (reset_after)
  const T* rbias;                       // (3U,) recurrent bias, or null
  T* rh; std::int64_t ldrh;             // (N, U): saved r-gate input (rec_h, or r*h_prev)
  const T* h_prev; std::int64_t ldh_prev;
  T* h; std::int64_t ldh;
  const T* mask; std::int64_t ldm;
  // reset_after=False with recurrent dropout: the candidate gate's keep mask (row stride ldrm),
  // so that rh = r * (h_prev * rmask_h); null without recurrent dropout.
  const T* rmask_h; std::int64_t ldrm;
  std::int64_t units; int act, ract;
  std::int64_t u0, u1;                  // as for the LSTM (reset_after passes only)
  // backward only
  const T* dy; std::int64_t lddy;
  T* dh;                       // (N, U) contiguous, as for the LSTM
  T* dz;                       // (N, 3U) at ldz: input-side pre-activation gradients
  T* ds;                       // (N, 3U) at ldz: recurrent-side gradients (reset_after)
  T* drh;                      // (N, U) contiguous: d(r*h_prev) (reset_after=False)
};

template <class T>
struct RnnCellKernelsOf {
  void (*lstm_forward)(const LstmStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*lstm_backward)(const LstmStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  // reset_after=True: one pass per step after s = h_prev @ R.
  void (*gru_forward)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*gru_backward)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  // reset_after=False: pass a (z, r, r*h_prev) before the candidate product, pass b after.
  void (*gru_v1_forward_a)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*gru_v1_forward_b)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*gru_v1_backward_a)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*gru_v1_backward_b)(const GruStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  // SimpleRNN reuses LstmStepArgs (z: (N, U), h, h_prev, mask, dy, dh, dz). Backward reads the
  // pre-activations from dz and overwrites them with their gradients.
  void (*simple_forward)(const LstmStepArgs<T>&, std::int64_t n0, std::int64_t n1);
  void (*simple_backward)(const LstmStepArgs<T>&, std::int64_t n0, std::int64_t n1);
};

struct RnnCellKernels {
  RnnCellKernelsOf<float> f32;
  RnnCellKernelsOf<double> f64;
};

}  // namespace lamina

LAMINA_DECLARE_KERNEL_TABLE(::lamina::RnnCellKernels, rnn_cell_kernels)
