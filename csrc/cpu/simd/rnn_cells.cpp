// Step passes of the recurrent cells, compiled once per ISA (see csrc/cpu/rnn_kernels.h for the
// argument layout and csrc/cpu/rnn.cpp for the order of calls within a step). The per-unit
// formulas are common/lstm_math.h's, shared with the CUDA step kernels (csrc/cuda/rnn.cu); these
// passes only walk the rows and handle the masks.
//
// Each pass walks batch rows; within a row the unit loop is branch-free for the default
// activations (tanh / sigmoid), so the compiler vectorises it with the ISA's full width, the
// float32 exp included (common/lstm_math.h). Other activations take activation_math's
// per-element switch; their passes keep the pre-activations in the gate buffer and backward
// re-evaluates the activations from them (kDefault = false below).
// A masked row (mask == 0) carries its state: forward copies h_prev (and c_prev), backward
// writes zero pre-activation gradients and passes dh (and dc) through unchanged.
#include "cpu/simd/simd.h"
#include "common/lstm_math.h"
#include "cpu/rnn_kernels.h"

namespace lamina::LAMINA_ISA_NS {

namespace {

using namespace ::lamina::rnn_math;
using i64 = std::int64_t;

// The units [j0, j1) a pass covers (csrc/cpu/rnn_kernels.h).
template <class Args>
inline i64 unit_begin(const Args& a) { return a.u1 ? a.u0 : 0; }
template <class Args>
inline i64 unit_end(const Args& a) { return a.u1 ? a.u1 : a.units; }

template <class T>
inline bool row_masked(const T* mask, i64 ldm, i64 n) {
  return mask != nullptr && mask[n * ldm] == T(0);
}

// ---------------------------------------------------------------------------------------------
// LSTM: z = [i f g o] pre-activations; c = f c_prev + i g; h = o act(c). The bias is added here
// (the driver's projection leaves it out: a separate pass over all the gates cost more), and the
// backward pass sums the bias gradient per batch row as it goes.
// ---------------------------------------------------------------------------------------------
template <class T, bool kDefault>
void lstm_forward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units, j0 = unit_begin(a), j1 = unit_end(a);
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict z = a.z + n * a.ldz;
    const T* __restrict cp = a.c_prev + n * a.ldc_prev;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict c = a.c + n * a.ldch;
    T* __restrict h = a.h + n * a.ldch;
    const T* __restrict b = a.bias;
    if (row_masked(a.mask, a.ldm, n)) {
#pragma omp simd
      for (i64 j = j0; j < j1; ++j) {
        c[j] = cp[j];
        h[j] = hp[j];
      }
      continue;  // the gates of a masked step are never read by backward
    }
#pragma omp simd
    for (i64 j = j0; j < j1; ++j) {
      const LstmForwardUnit<T> r = lstm_forward_unit<T, kDefault>(
          a.act, a.ract, z[j] + b[j], z[U + j] + b[U + j], z[2 * U + j] + b[2 * U + j],
          z[3 * U + j] + b[3 * U + j], cp[j]);
      z[j] = r.si;  // the activated gates, or the pre-activations (bias included)
      z[U + j] = r.sf;
      z[2 * U + j] = r.sg;
      z[3 * U + j] = r.so;
      c[j] = r.c;
      h[j] = r.h;
    }
  }
}

// dz may be z itself (the driver's in-place backward): each unit reads its four saved gates
// before it writes their gradients, so z and dz carry no __restrict.
template <class T, bool kDefault>
void lstm_backward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units, j0 = unit_begin(a), j1 = unit_end(a);
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dc = a.dc + n * U;
    T* dz = a.dz + n * a.ldz;
    T* __restrict db = a.dbias + n * 4 * U;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = j0; j < j1; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 g = 0; g < 4; ++g)
        for (i64 j = j0; j < j1; ++j) dz[g * U + j] = T(0);
      continue;  // dh and dc flow to the previous step untouched
    }
    const T* z = a.z + n * a.ldz;
    const T* __restrict cp = a.c_prev + n * a.ldc_prev;
    const T* __restrict c = a.c + n * a.ldch;
#pragma omp simd
    for (i64 j = j0; j < j1; ++j) {
      const LstmBackwardUnit<T> r = lstm_backward_unit<T, kDefault>(
          a.act, a.ract, z[j], z[U + j], z[2 * U + j], z[3 * U + j], cp[j], c[j], dh[j], dc[j]);
      dz[j] = r.dzi;
      dz[U + j] = r.dzf;
      dz[2 * U + j] = r.dzg;
      dz[3 * U + j] = r.dzo;
      db[j] += r.dzi;
      db[U + j] += r.dzf;
      db[2 * U + j] += r.dzg;
      db[3 * U + j] += r.dzo;
      dc[j] = r.dc_prev;
      dh[j] = T(0);  // the recurrent product dz @ R^T is added on top by the driver
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GRU, reset_after=True (Keras 3 default): s = h_prev @ R; with rb the recurrent bias,
// z = ract(xz + sz + rbz), r = ract(xr + sr + rbr), hh = act(xh + r (sh + rbh)),
// h = z h_prev + (1 - z) hh. Saved: z, r, hh in place of the pre-activations, rh = sh + rbh.
// ---------------------------------------------------------------------------------------------
template <class T, bool kDefault>
void gru_forward_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units, j0 = unit_begin(a), j1 = unit_end(a);
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict x = a.z + n * a.ldz;
    const T* __restrict s = a.s + n * 3 * U;
    const T* __restrict rb = a.rbias;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict rh = a.rh + n * a.ldrh;
    T* __restrict h = a.h + n * a.ldh;
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = j0; j < j1; ++j) h[j] = hp[j];
      continue;
    }
#pragma omp simd
    for (i64 j = j0; j < j1; ++j) {
      const T bz = rb ? rb[j] : T(0), br = rb ? rb[U + j] : T(0), bh = rb ? rb[2 * U + j] : T(0);
      const GruForwardUnit<T> r = gru_forward_unit<T, kDefault>(
          a.act, a.ract, x[j], x[U + j], x[2 * U + j], s[j], s[U + j], s[2 * U + j], bz, br, bh,
          hp[j]);
      x[j] = r.sz;
      x[U + j] = r.sr;
      x[2 * U + j] = r.sh;
      rh[j] = r.rh;
      h[j] = r.h;
    }
  }
}

template <class T, bool kDefault>
void gru_backward_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units, j0 = unit_begin(a), j1 = unit_end(a);
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    T* __restrict ds = a.ds + n * a.ldz;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = j0; j < j1; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 g = 0; g < 3; ++g) {
        for (i64 j = j0; j < j1; ++j) {
          dz[g * U + j] = T(0);
          ds[g * U + j] = T(0);
        }
      }
      continue;
    }
    const T* __restrict g = a.z + n * a.ldz;
    const T* __restrict rh = a.rh + n * a.ldrh;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
#pragma omp simd
    for (i64 j = j0; j < j1; ++j) {
      const GruBackwardUnit<T> r = gru_backward_unit<T, kDefault>(
          a.act, a.ract, g[j], g[U + j], g[2 * U + j], rh[j], hp[j], dh[j]);
      dz[j] = r.dz;
      dz[U + j] = r.dr;
      dz[2 * U + j] = r.dh;
      ds[j] = r.dz;
      ds[U + j] = r.dr;
      ds[2 * U + j] = r.ds_h;
      dh[j] = r.dh_prev;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GRU, reset_after=False: z = ract(xz + h_prev Rz), r = ract(xr + h_prev Rr),
// hh = act(xh + (r h_prev) Rh). Pass a: z, r and rh = r h_prev; pass b (after the driver added
// rh @ Rh into the candidate column block): hh and h. With recurrent dropout the driver has
// dropped h_prev in the z and r products, and rh = r (h_prev rmask_h) (Keras 3's GRUCell); the
// blend h = z h_prev + (1 - z) hh keeps the undropped h_prev.
// ---------------------------------------------------------------------------------------------
template <class T, bool kDefault>
void gru_v1_forward_a_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict x = a.z + n * a.ldz;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict rh = a.rh + n * a.ldrh;
    const T* __restrict mh = a.rmask_h ? a.rmask_h + n * a.ldrm : nullptr;
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const GruV1ForwardA<T> r =
          gru_v1_forward_a_unit<T, kDefault>(a.ract, x[j], x[U + j], hp[j], mh ? mh[j] : T(1));
      if (kDefault) {
        x[j] = r.sz;
        x[U + j] = r.sr;
      }
      rh[j] = r.rh;
    }
  }
}

template <class T, bool kDefault>
void gru_v1_forward_b_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict x = a.z + n * a.ldz;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict h = a.h + n * a.ldh;
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < U; ++j) h[j] = hp[j];
      continue;
    }
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const GruV1ForwardB<T> r =
          gru_v1_forward_b_unit<T, kDefault>(a.act, a.ract, x[j], x[2 * U + j], hp[j]);
      if (kDefault) x[2 * U + j] = r.sh;
      h[j] = r.h;
    }
  }
}

template <class T, bool kDefault>
void gru_v1_backward_a_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = 0; j < U; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < 3 * U; ++j) dz[j] = T(0);
      continue;
    }
    const T* __restrict g = a.z + n * a.ldz;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const GruV1BackwardA<T> r =
          gru_v1_backward_a_unit<T, kDefault>(a.act, a.ract, g[j], g[2 * U + j], hp[j], dh[j]);
      dz[j] = r.dz;
      dz[U + j] = T(0);  // filled by pass b once d(r h_prev) is known
      dz[2 * U + j] = r.dh_cand;
      dh[j] = r.dh_prev;
    }
  }
}

template <class T, bool kDefault>
void gru_v1_backward_b_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    if (row_masked(a.mask, a.ldm, n)) continue;
    T* __restrict dh = a.dh + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    const T* __restrict g = a.z + n * a.ldz;
    const T* __restrict drh = a.drh + n * U;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    const T* __restrict mh = a.rmask_h ? a.rmask_h + n * a.ldrm : nullptr;
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const GruV1BackwardB<T> r =
          gru_v1_backward_b_unit<T, kDefault>(a.ract, g[U + j], drh[j], hp[j], mh ? mh[j] : T(1));
      dz[U + j] = r.dr;
      dh[j] += r.dh_prev_add;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SimpleRNN: h = act(x W + b + h_prev R). The pre-activations stay in the gate buffer, which
// backward overwrites with their gradients.
// ---------------------------------------------------------------------------------------------
template <class T>
void simple_forward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  const bool tanh_path = a.act == kTanh;
  for (i64 n = n0; n < n1; ++n) {
    const T* __restrict z = a.z + n * a.ldz;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict h = a.h + n * a.ldch;
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < U; ++j) h[j] = hp[j];
    } else if (tanh_path) {
      for (i64 j = 0; j < U; ++j) h[j] = simple_forward_unit<T, true>(a.act, z[j]);
    } else {
      for (i64 j = 0; j < U; ++j) h[j] = simple_forward_unit<T, false>(a.act, z[j]);
    }
  }
}

template <class T>
void simple_backward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = 0; j < U; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < U; ++j) dz[j] = T(0);
      continue;
    }
    const T* __restrict h = a.h + n * a.ldch;
    if (a.act == kTanh) {
#pragma omp simd
      for (i64 j = 0; j < U; ++j) {
        dz[j] = simple_backward_unit<T, true>(a.act, dz[j], h[j], dh[j]);
        dh[j] = T(0);
      }
      continue;
    }
    for (i64 j = 0; j < U; ++j) {  // dz holds the pre-activation
      dz[j] = simple_backward_unit<T, false>(a.act, dz[j], h[j], dh[j]);
      dh[j] = T(0);
    }
  }
}

// Chooses the vectorised default-activation body or the generic one, once per call.
#define LAMINA_RNN_DISPATCH(name, Args)                                        \
  template <class T>                                                           \
  void name(const Args<T>& a, i64 n0, i64 n1) {                                \
    if (a.act == kTanh && a.ract == kSigmoid) name##_rows<T, true>(a, n0, n1); \
    else name##_rows<T, false>(a, n0, n1);                                     \
  }
LAMINA_RNN_DISPATCH(lstm_forward, LstmStepArgs)
LAMINA_RNN_DISPATCH(lstm_backward, LstmStepArgs)
LAMINA_RNN_DISPATCH(gru_forward, GruStepArgs)
LAMINA_RNN_DISPATCH(gru_backward, GruStepArgs)
LAMINA_RNN_DISPATCH(gru_v1_forward_a, GruStepArgs)
LAMINA_RNN_DISPATCH(gru_v1_forward_b, GruStepArgs)
LAMINA_RNN_DISPATCH(gru_v1_backward_a, GruStepArgs)
LAMINA_RNN_DISPATCH(gru_v1_backward_b, GruStepArgs)
#undef LAMINA_RNN_DISPATCH

template <class T>
constexpr RnnCellKernelsOf<T> table_of() {
  return {lstm_forward<T>,      lstm_backward<T>,      gru_forward<T>,
          gru_backward<T>,      gru_v1_forward_a<T>,   gru_v1_forward_b<T>,
          gru_v1_backward_a<T>, gru_v1_backward_b<T>,  simple_forward_rows<T>,
          simple_backward_rows<T>};
}

}  // namespace

extern const RnnCellKernels rnn_cell_kernels = {table_of<float>(), table_of<double>()};

}  // namespace lamina::LAMINA_ISA_NS
