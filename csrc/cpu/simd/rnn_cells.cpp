// Step passes of the recurrent cells, compiled once per ISA (see csrc/cpu/rnn_kernels.h for the
// argument layout and csrc/cpu/rnn.cpp for the order of calls within a step).
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

// Activation (act) and recurrent activation (ract) values and derivatives. The derivatives
// take the pre-activation x and the value y; the default pair reads y only.
template <class T, bool kDefault>
inline T act_of(int code, T x) {
  if (kDefault) return tanh_act(x);
  return activate(code, x);
}
template <class T, bool kDefault>
inline T ract_of(int code, T x) {
  if (kDefault) return sigmoid(x);
  return activate(code, x);
}
template <class T, bool kDefault>
inline T dact_of(int code, T x, T y) {
  if (kDefault) return T(1) - y * y;
  return activate_grad(code, x, y);
}
template <class T, bool kDefault>
inline T dract_of(int code, T x, T y) {
  if (kDefault) return y * (T(1) - y);
  return activate_grad(code, x, y);
}
// A saved gate's value: saved activated on the default path, re-evaluated otherwise.
template <class T, bool kDefault>
inline T saved_act(int code, T s) {
  if (kDefault) return s;
  return activate(code, s);
}

template <class T>
inline bool row_masked(const T* mask, i64 ldm, i64 n) {
  return mask != nullptr && mask[n * ldm] == T(0);
}

// ---------------------------------------------------------------------------------------------
// LSTM: z = [i f g o] pre-activations; c = f c_prev + i g; h = o act(c).
// ---------------------------------------------------------------------------------------------
template <class T, bool kDefault>
void lstm_forward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict z = a.z + n * a.ldz;
    const T* __restrict cp = a.c_prev + n * a.ldc_prev;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict c = a.c + n * a.ldch;
    T* __restrict h = a.h + n * a.ldch;
    if (row_masked(a.mask, a.ldm, n)) {
  #pragma omp simd
    for (i64 j = 0; j < U; ++j) {
        c[j] = cp[j];
        h[j] = hp[j];
      }
      continue;  // the gates of a masked step are never read by backward
    }
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const T i = ract_of<T, kDefault>(a.ract, z[j]);
      const T f = ract_of<T, kDefault>(a.ract, z[U + j]);
      const T g = act_of<T, kDefault>(a.act, z[2 * U + j]);
      const T o = ract_of<T, kDefault>(a.ract, z[3 * U + j]);
      const T cn = f * cp[j] + i * g;
      if (kDefault) {
        z[j] = i;
        z[U + j] = f;
        z[2 * U + j] = g;
        z[3 * U + j] = o;
      }
      c[j] = cn;
      h[j] = o * act_of<T, kDefault>(a.act, cn);
    }
  }
}

template <class T, bool kDefault>
void lstm_backward_rows(const LstmStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dc = a.dc + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = 0; j < U; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < 4 * U; ++j) dz[j] = T(0);
      continue;  // dh and dc flow to the previous step untouched
    }
    const T* __restrict z = a.z + n * a.ldz;
    const T* __restrict cp = a.c_prev + n * a.ldc_prev;
    const T* __restrict c = a.c + n * a.ldch;
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const T zi = z[j], zf = z[U + j], zg = z[2 * U + j], zo = z[3 * U + j];
      const T i = saved_act<T, kDefault>(a.ract, zi), f = saved_act<T, kDefault>(a.ract, zf);
      const T g = saved_act<T, kDefault>(a.act, zg), o = saved_act<T, kDefault>(a.ract, zo);
      const T tc = act_of<T, kDefault>(a.act, c[j]);
      const T dhv = dh[j];
      const T dcv = dc[j] + dhv * o * dact_of<T, kDefault>(a.act, c[j], tc);
      dz[j] = dcv * g * dract_of<T, kDefault>(a.ract, zi, i);
      dz[U + j] = dcv * cp[j] * dract_of<T, kDefault>(a.ract, zf, f);
      dz[2 * U + j] = dcv * i * dact_of<T, kDefault>(a.act, zg, g);
      dz[3 * U + j] = dhv * tc * dract_of<T, kDefault>(a.ract, zo, o);
      dc[j] = dcv * f;
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
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict x = a.z + n * a.ldz;
    const T* __restrict s = a.s + n * 3 * U;
    const T* __restrict rb = a.rbias;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
    T* __restrict rh = a.rh + n * a.ldrh;
    T* __restrict h = a.h + n * a.ldh;
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < U; ++j) h[j] = hp[j];
      continue;
    }
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const T bz = rb ? rb[j] : T(0), br = rb ? rb[U + j] : T(0), bh = rb ? rb[2 * U + j] : T(0);
      const T pz = x[j] + s[j] + bz, pr = x[U + j] + s[U + j] + br;
      const T zg = ract_of<T, kDefault>(a.ract, pz);
      const T r = ract_of<T, kDefault>(a.ract, pr);
      const T sh = s[2 * U + j] + bh;
      const T ph = x[2 * U + j] + r * sh;
      const T hh = act_of<T, kDefault>(a.act, ph);
      x[j] = kDefault ? zg : pz;
      x[U + j] = kDefault ? r : pr;
      x[2 * U + j] = kDefault ? hh : ph;
      rh[j] = sh;
      h[j] = zg * hp[j] + (T(1) - zg) * hh;
    }
  }
}

template <class T, bool kDefault>
void gru_backward_rows(const GruStepArgs<T>& a, i64 n0, i64 n1) {
  const i64 U = a.units;
  for (i64 n = n0; n < n1; ++n) {
    T* __restrict dh = a.dh + n * U;
    T* __restrict dz = a.dz + n * a.ldz;
    T* __restrict ds = a.ds + n * a.ldz;
    if (a.dy != nullptr) {
      const T* __restrict dy = a.dy + n * a.lddy;
      for (i64 j = 0; j < U; ++j) dh[j] += dy[j];
    }
    if (row_masked(a.mask, a.ldm, n)) {
      for (i64 j = 0; j < 3 * U; ++j) {
        dz[j] = T(0);
        ds[j] = T(0);
      }
      continue;
    }
    const T* __restrict g = a.z + n * a.ldz;
    const T* __restrict rh = a.rh + n * a.ldrh;
    const T* __restrict hp = a.h_prev + n * a.ldh_prev;
#pragma omp simd
    for (i64 j = 0; j < U; ++j) {
      const T pz = g[j], pr = g[U + j], ph = g[2 * U + j];
      const T zg = saved_act<T, kDefault>(a.ract, pz), r = saved_act<T, kDefault>(a.ract, pr);
      const T hh = saved_act<T, kDefault>(a.act, ph);
      const T dhv = dh[j];
      const T dah = dhv * (T(1) - zg) * dact_of<T, kDefault>(a.act, ph, hh);
      const T daz = dhv * (hp[j] - hh) * dract_of<T, kDefault>(a.ract, pz, zg);
      const T dar = dah * rh[j] * dract_of<T, kDefault>(a.ract, pr, r);
      dz[j] = daz;
      dz[U + j] = dar;
      dz[2 * U + j] = dah;
      ds[j] = daz;
      ds[U + j] = dar;
      ds[2 * U + j] = dah * r;
      dh[j] = dhv * zg;
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
      const T zg = ract_of<T, kDefault>(a.ract, x[j]);
      const T r = ract_of<T, kDefault>(a.ract, x[U + j]);
      if (kDefault) {
        x[j] = zg;
        x[U + j] = r;
      }
      rh[j] = r * (mh ? hp[j] * mh[j] : hp[j]);
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
      const T zg = saved_act<T, kDefault>(a.ract, x[j]);
      const T hh = act_of<T, kDefault>(a.act, x[2 * U + j]);
      if (kDefault) x[2 * U + j] = hh;
      h[j] = zg * hp[j] + (T(1) - zg) * hh;
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
      const T pz = g[j], ph = g[2 * U + j];
      const T zg = saved_act<T, kDefault>(a.ract, pz), hh = saved_act<T, kDefault>(a.act, ph);
      const T dhv = dh[j];
      dz[j] = dhv * (hp[j] - hh) * dract_of<T, kDefault>(a.ract, pz, zg);
      dz[U + j] = T(0);  // filled by pass b once d(r h_prev) is known
      dz[2 * U + j] = dhv * (T(1) - zg) * dact_of<T, kDefault>(a.act, ph, hh);
      dh[j] = dhv * zg;
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
      const T pr = g[U + j];
      const T r = saved_act<T, kDefault>(a.ract, pr);
      const T m = mh ? mh[j] : T(1);
      dz[U + j] = drh[j] * hp[j] * m * dract_of<T, kDefault>(a.ract, pr, r);
      dh[j] += drh[j] * r * m;
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
      for (i64 j = 0; j < U; ++j) h[j] = tanh_act(z[j]);
    } else {
      for (i64 j = 0; j < U; ++j) h[j] = activate(a.act, z[j]);
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
        dz[j] = dh[j] * (T(1) - h[j] * h[j]);
        dh[j] = T(0);
      }
      continue;
    }
    for (i64 j = 0; j < U; ++j) {
      dz[j] = dh[j] * activate_grad(a.act, dz[j], h[j]);  // dz holds the pre-activation
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
