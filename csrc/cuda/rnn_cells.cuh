// The element-wise kernels of the recurrent layers (csrc/cuda/rnn.cu includes this, and only it):
// one step of each cell's gate math and its gradient, the dropped-state copies of recurrent
// dropout, and the shifted state sequence of the recurrent-kernel gradient. The per-unit
// formulas are common/lstm_math.h's, shared with the CPU step passes
// (csrc/cpu/simd/rnn_cells.cpp); these kernels only map threads to (row, unit) pairs and handle
// the masks, exactly as those passes do.
#pragma once

#include <cstdint>

#include "common/lstm_math.h"

namespace lamina::cuda::rnn_cells {

using i64 = std::int64_t;
using namespace ::lamina::rnn_math;

// ---------------------------------------------------------------------------------------------
// Step kernels. Each: Grid: grid_stride_blocks(N * U, 256) blocks of 256 threads, grid-stride
// over the N * U pairs (n, j) = (i / U, i % U). Row pointers are row 0 of an (N, X) operand with
// the given row stride (ld*), so a step slice of an (N, T, X) sequence buffer (stride T * X) and a
// plain (N, X) state (stride X) read alike. mask: null, or the step's column of the (N, T) mask
// (row stride ldm = T); a row whose mask is 0 carries its state.
// ---------------------------------------------------------------------------------------------
template <class T>
__device__ __forceinline__ bool row_masked(const T* mask, i64 ldm, i64 n) {
  return mask != nullptr && mask[n * ldm] == T(0);
}

// LSTM forward: z (N, 4U) at ldz, pre-activations without the bias in, saved gates out (bias
// included: activated on the default path, pre-activations otherwise); bias (4U,) or null is
// added here, as the CPU's gate pass does, so a masked row keeps the bias-free projections there
// exactly as on the CPU. c_prev and h_prev at ldp; c, h out at ldch.
template <class T, bool kDefault>
__global__ void lstm_forward_step_kernel(T* z, i64 ldz, const T* bias, const T* c_prev,
                                         const T* h_prev, i64 ldp, T* c, T* h, i64 ldch,
                                         const T* mask, i64 ldm, i64 N, i64 U, int act,
                                         int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    const T cp = c_prev[n * ldp + j], hp = h_prev[n * ldp + j];
    if (row_masked(mask, ldm, n)) {  // the gates of a masked step are never read by backward
      c[n * ldch + j] = cp;
      h[n * ldch + j] = hp;
      continue;
    }
    T* zr = z + n * ldz;
    const T bi = bias ? bias[j] : T(0), bf = bias ? bias[U + j] : T(0);
    const T bg = bias ? bias[2 * U + j] : T(0), bo = bias ? bias[3 * U + j] : T(0);
    const LstmForwardUnit<T> r = lstm_forward_unit<T, kDefault>(
        act, ract, zr[j] + bi, zr[U + j] + bf, zr[2 * U + j] + bg, zr[3 * U + j] + bo, cp);
    zr[j] = r.si;  // the activated gates, or the pre-activations (bias included)
    zr[U + j] = r.sf;
    zr[2 * U + j] = r.sg;
    zr[3 * U + j] = r.so;
    c[n * ldch + j] = r.c;
    h[n * ldch + j] = r.h;
  }
}

// LSTM backward: z the saved gates and dz their gradients (both at ldz; dz may be z: each thread
// reads its unit's four gates before it writes their gradients), c_prev at ldp, c at ldc,
// dy (N, U) at lddy or null; dh, dc (N, U) contiguous: dL/dh_t, dL/dc_t in, the carried parts
// out (dh = 0: the products dz @ R^T are added next).
template <class T, bool kDefault>
__global__ void lstm_backward_step_kernel(const T* z, T* dz, i64 ldz, const T* c_prev, i64 ldp,
                                          const T* c, i64 ldc, const T* mask, i64 ldm,
                                          const T* dy, i64 lddy, T* dh, T* dc, i64 N, i64 U,
                                          int act, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    T dhv = dh[i];
    if (dy) dhv += dy[n * lddy + j];
    T* dzr = dz + n * ldz;
    if (row_masked(mask, ldm, n)) {  // dh and dc flow to the previous step untouched
      dh[i] = dhv;
      dzr[j] = dzr[U + j] = dzr[2 * U + j] = dzr[3 * U + j] = T(0);
      continue;
    }
    const T* zr = z + n * ldz;
    const LstmBackwardUnit<T> r = lstm_backward_unit<T, kDefault>(
        act, ract, zr[j], zr[U + j], zr[2 * U + j], zr[3 * U + j], c_prev[n * ldp + j],
        c[n * ldc + j], dhv, dc[i]);
    dzr[j] = r.dzi;
    dzr[U + j] = r.dzf;
    dzr[2 * U + j] = r.dzg;
    dzr[3 * U + j] = r.dzo;
    dc[i] = r.dc_prev;
    dh[i] = T(0);
  }
}

// GRU reset_after forward: z (N, 3U) at ldz holds the input projections, out the saved gates;
// s (N, 3U) contiguous = h_prev @ R; rbias (3U,) or null; rh out at ldrh (not at masked rows).
template <class T, bool kDefault>
__global__ void gru_forward_step_kernel(T* z, i64 ldz, const T* s, const T* rbias, T* rh,
                                        i64 ldrh, const T* h_prev, i64 ldp, T* h, i64 ldh,
                                        const T* mask, i64 ldm, i64 N, i64 U, int act, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    const T hp = h_prev[n * ldp + j];
    if (row_masked(mask, ldm, n)) {
      h[n * ldh + j] = hp;
      continue;
    }
    T* x = z + n * ldz;
    const T* sr = s + n * 3 * U;
    const T bz = rbias ? rbias[j] : T(0), br = rbias ? rbias[U + j] : T(0),
            bh = rbias ? rbias[2 * U + j] : T(0);
    const GruForwardUnit<T> r = gru_forward_unit<T, kDefault>(
        act, ract, x[j], x[U + j], x[2 * U + j], sr[j], sr[U + j], sr[2 * U + j], bz, br, bh, hp);
    x[j] = r.sz;
    x[U + j] = r.sr;
    x[2 * U + j] = r.sh;
    rh[n * ldrh + j] = r.rh;
    h[n * ldh + j] = r.h;
  }
}

// GRU reset_after backward: g the saved gates, dz / ds (input / recurrent side) out, all at ldz;
// rh at ldrh, h_prev at ldp; dy, dh as for the LSTM (dh out: h_prev's share through the blend).
template <class T, bool kDefault>
__global__ void gru_backward_step_kernel(const T* g, T* dz, T* ds, i64 ldz, const T* rh,
                                         i64 ldrh, const T* h_prev, i64 ldp, const T* mask,
                                         i64 ldm, const T* dy, i64 lddy, T* dh, i64 N, i64 U,
                                         int act, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    T dhv = dh[i];
    if (dy) dhv += dy[n * lddy + j];
    T* dzr = dz + n * ldz;
    T* dsr = ds + n * ldz;
    if (row_masked(mask, ldm, n)) {
      dh[i] = dhv;
      dzr[j] = dzr[U + j] = dzr[2 * U + j] = T(0);
      dsr[j] = dsr[U + j] = dsr[2 * U + j] = T(0);
      continue;
    }
    const T* gr = g + n * ldz;
    const GruBackwardUnit<T> r = gru_backward_unit<T, kDefault>(
        act, ract, gr[j], gr[U + j], gr[2 * U + j], rh[n * ldrh + j], h_prev[n * ldp + j], dhv);
    dzr[j] = r.dz;
    dzr[U + j] = r.dr;
    dzr[2 * U + j] = r.dh;
    dsr[j] = r.dz;
    dsr[U + j] = r.dr;
    dsr[2 * U + j] = r.ds_h;
    dh[i] = r.dh_prev;
  }
}

// GRU reset_after=False forward, part a (every row, masked or not, as on the CPU): z, r from
// z's first two blocks (recurrent products added), saved in place (kDefault); rh = r * (h_prev *
// rmask_h) at ldrh. rmask_h: the candidate's keep mask at row stride ldrm, or null.
template <class T, bool kDefault>
__global__ void gru_v1_forward_a_kernel(T* z, i64 ldz, const T* h_prev, i64 ldp, const T* rmask_h,
                                        i64 ldrm, T* rh, i64 ldrh, i64 N, i64 U, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    T* x = z + n * ldz;
    const GruV1ForwardA<T> r = gru_v1_forward_a_unit<T, kDefault>(
        ract, x[j], x[U + j], h_prev[n * ldp + j], rmask_h ? rmask_h[n * ldrm + j] : T(1));
    if (kDefault) {
      x[j] = r.sz;
      x[U + j] = r.sr;
    }
    rh[n * ldrh + j] = r.rh;
  }
}

// Part b, after z[:, 2U:3U] += rh @ R_h: the candidate and h (masked rows carry h_prev).
template <class T, bool kDefault>
__global__ void gru_v1_forward_b_kernel(T* z, i64 ldz, const T* h_prev, i64 ldp, T* h, i64 ldh,
                                        const T* mask, i64 ldm, i64 N, i64 U, int act, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    const T hp = h_prev[n * ldp + j];
    if (row_masked(mask, ldm, n)) {
      h[n * ldh + j] = hp;
      continue;
    }
    T* x = z + n * ldz;
    const GruV1ForwardB<T> r =
        gru_v1_forward_b_unit<T, kDefault>(act, ract, x[j], x[2 * U + j], hp);
    if (kDefault) x[2 * U + j] = r.sh;
    h[n * ldh + j] = r.h;
  }
}

// reset_after=False backward, part a: dz's z and candidate blocks (the r block zeroed, filled by
// part b), dh = h_prev's share through the blend.
template <class T, bool kDefault>
__global__ void gru_v1_backward_a_kernel(const T* g, T* dz, i64 ldz, const T* h_prev, i64 ldp,
                                         const T* mask, i64 ldm, const T* dy, i64 lddy, T* dh,
                                         i64 N, i64 U, int act, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    T dhv = dh[i];
    if (dy) dhv += dy[n * lddy + j];
    T* dzr = dz + n * ldz;
    if (row_masked(mask, ldm, n)) {
      dh[i] = dhv;
      dzr[j] = dzr[U + j] = dzr[2 * U + j] = T(0);
      continue;
    }
    const T* gr = g + n * ldz;
    const GruV1BackwardA<T> r = gru_v1_backward_a_unit<T, kDefault>(
        act, ract, gr[j], gr[2 * U + j], h_prev[n * ldp + j], dhv);
    dzr[j] = r.dz;
    dzr[U + j] = T(0);
    dzr[2 * U + j] = r.dh_cand;
    dh[i] = r.dh_prev;
  }
}

// Part b, once drh (N, U) contiguous = dz_h @ R_h^T: the r block of dz and rh's share of dh
// (masked rows untouched).
template <class T, bool kDefault>
__global__ void gru_v1_backward_b_kernel(const T* g, T* dz, i64 ldz, const T* drh,
                                         const T* h_prev, i64 ldp, const T* rmask_h, i64 ldrm,
                                         const T* mask, i64 ldm, T* dh, i64 N, i64 U, int ract) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    if (row_masked(mask, ldm, n)) continue;
    const GruV1BackwardB<T> r = gru_v1_backward_b_unit<T, kDefault>(
        ract, g[n * ldz + U + j], drh[i], h_prev[n * ldp + j],
        rmask_h ? rmask_h[n * ldrm + j] : T(1));
    dz[n * ldz + U + j] = r.dr;
    dh[i] += r.dh_prev_add;
  }
}

// SimpleRNN forward: h = act(z) (z (N, U) at ldz, the pre-activations, kept).
template <class T, bool kDefault>
__global__ void simple_forward_step_kernel(const T* z, i64 ldz, const T* h_prev, i64 ldp, T* h,
                                           i64 ldh, const T* mask, i64 ldm, i64 N, i64 U,
                                           int act) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    h[n * ldh + j] = row_masked(mask, ldm, n)
                         ? h_prev[n * ldp + j]
                         : simple_forward_unit<T, kDefault>(act, z[n * ldz + j]);
  }
}

// SimpleRNN backward: dz (N, U) at ldz holds the pre-activations in, their gradients out.
template <class T, bool kDefault>
__global__ void simple_backward_step_kernel(T* dz, i64 ldz, const T* h, i64 ldh, const T* mask,
                                            i64 ldm, const T* dy, i64 lddy, T* dh, i64 N, i64 U,
                                            int act) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, j = i % U;
    T dhv = dh[i];
    if (dy) dhv += dy[n * lddy + j];
    T* d = dz + n * ldz + j;
    if (row_masked(mask, ldm, n)) {
      dh[i] = dhv;
      *d = T(0);
      continue;
    }
    *d = simple_backward_unit<T, kDefault>(act, *d, h[n * ldh + j], dhv);
    dh[i] = T(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Recurrent dropout and the recurrent-kernel gradient's operand.
// ---------------------------------------------------------------------------------------------

// hd[n, g*U + u] = h[n*ldh + u] * rmask[n, g*U + u] for g < gates; hd and rmask rows of G.
// Grid: grid_stride_blocks(N * gates * U, 256) blocks of 256 threads, grid-stride.
template <class T>
__global__ void dropped_state_kernel(const T* h, i64 ldh, const T* rmask, i64 G, i64 N,
                                     i64 width, i64 U, T* hd) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * width;
       i += stride) {
    const i64 n = i / width, k = i % width;
    hd[n * G + k] = h[n * ldh + k % U] * rmask[n * G + k];
  }
}

// dh[n, u] += sum_g tmp[g, n, u] * rmask[n, g*U + u] (gates in order, as the CPU adds them);
// tmp (gates, N, U) contiguous, rmask rows of G. Grid: grid_stride_blocks(N * U, 256) blocks of
// 256 threads, grid-stride.
template <class T>
__global__ void add_dropped_gradient_kernel(const T* tmp, const T* rmask, i64 G, i64 gates,
                                            i64 N, i64 U, T* dh) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * U; i += stride) {
    const i64 n = i / U, u = i % U;
    T v = dh[i];
    for (i64 g = 0; g < gates; ++g) v += tmp[g * N * U + i] * rmask[n * G + g * U + u];
    dh[i] = v;
  }
}

// out (N*T, U): row n*T + t holds the state step t read, h_{t-1} (h0 at t = 0), times m[n, :]
// (one gate's keep mask at row stride ldm) when m is given. Grid: grid_stride_blocks(N * T * U,
// 256) blocks of 256 threads, grid-stride.
template <class T>
__global__ void previous_states_kernel(const T* h0, const T* h_seq, const T* m, i64 ldm, i64 N,
                                       i64 Ts, i64 U, T* out) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < N * Ts * U;
       i += stride) {
    const i64 row = i / U, u = i % U, n = row / Ts, t = row % Ts;
    const T v = t == 0 ? h0[n * U + u] : h_seq[(row - 1) * U + u];
    out[i] = m ? v * m[n * ldm + u] : v;
  }
}

}  // namespace lamina::cuda::rnn_cells
