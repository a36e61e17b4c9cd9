// Drivers of the whole-sequence recurrent kernels (contract in rnn.h). The element-wise step
// passes live in csrc/cpu/simd/rnn_cells.cpp (one copy per ISA); every matrix product goes
// through lamina::gemm.
//
// Layout choice: the sequence buffers stay batch-major (N, T, X) like the user's x, so the input
// projection, dx and dkernel are single gemms over N*T contiguous rows, and step t is a strided
// slice (row stride T*X) that gemm takes as its leading dimension. The one product that does
// not line up is drecurrent_kernel = sum_t h_{t-1}^T dgates_t: flattened, h_seq row r-1 pairs
// with dgates row r except at t = 0, where the pair must be h0 instead of the previous sample's
// last state. One gemm over the shifted rows plus one (N-row) correction gemm with
// (h0[n] - h_seq[n-1, T-1]) gives the exact sum.
//
// The per-step products all multiply by the same recurrent kernel R (or R^T backward), so each
// call packs it once (lamina::gemm_pack_b) and every step runs lamina::gemm_prepacked on it:
// contiguous K x NR panels, A (a few batch rows of h_{t-1} or dgates_t) read in place.
// Measured on the dev machine (Zen 4, one thread, 16 rows per product): U = 128 forward
// (16 x 128) @ (128 x 512) 20.1 -> 19.6 us, backward 18.7 -> 18.6 us against R read in place
// (and R^T copied once per call: a strided transpose of 90 us, against 10 us to pack); U = 512
// 383 -> 291 us and 368 -> 289 us (87-91 -> 115 GFLOP/s), where R read in place no longer
// streams well from the caches.
#include "cpu/rnn.h"

#include <algorithm>
#include <vector>

#include <omp.h>

#include "common/parallel.h"
#include "cpu/gemm.h"
#include "cpu/rnn_kernels.h"

namespace lamina {

namespace {

using i64 = std::int64_t;

template <class T>
const RnnCellKernelsOf<T>& cells();
template <>
const RnnCellKernelsOf<float>& cells<float>() {
  return LAMINA_KERNEL_TABLE(rnn_cell_kernels).f32;
}
template <>
const RnnCellKernelsOf<double>& cells<double>() {
  return LAMINA_KERNEL_TABLE(rnn_cell_kernels).f64;
}

// Threading of the time loop. The recurrence couples timesteps, never batch rows, so when the
// batch is large enough each thread takes a block of rows and runs the WHOLE time loop on them
// (its own row-block gemm and gate pass per step): one fork/join per sequence instead of two per
// step, which matters most when the machine is shared and a descheduled thread stalls every
// barrier. Inside, each thread runs its products single-threaded (omp_set_num_threads(1) only
// changes that thread's setting for regions it opens); they share the packed recurrent kernel.
// With few rows per thread the steps run on the calling thread and the products and the gate
// pass thread themselves per step.
template <class Steps>
void run_sequence(i64 N, i64 work, Steps&& steps) {
  const int threads = max_threads();
  if (threads > 1 && N >= 2 * threads && work >= kParallelWorkThreshold) {
    parallel_for(N, work, [&](i64 n0, i64 n1) {
      omp_set_num_threads(1);
      steps(n0, n1, false);
    });
  } else {
    steps(0, N, true);
  }
}

// Column split, for small batches with a recurrent kernel past L2. Row blocks of a few rows are
// wasteful there: each thread multiplies its 1-7 rows by ALL of R (4 MiB at U = 512, streamed
// from L3 every step) in direct tiles of 8 rows that compute their unused rows anyway, and below
// 2 rows per thread every step forks twice. Instead each thread takes whole column panels of
// units [u0, u1) of EVERY gate, for all N rows: it streams only its share of R, fills its tiles,
// and owns every input of its units' gate pass, so that it runs that pass right after its
// products. One barrier per step (forward: the next product reads all of h_t; backward:
// dh_{t-1}[:, u0:u1] = dgates_t @ R^T[:, u0:u1] reads every unit's gate gradients).
// The backward split is over dh's columns (N = U), never over K = G, so every element stays one
// FMA chain over all of K: results are identical to the row blocks' and to one thread's.
// The LSTM and the GRU with reset_after (forward: s = h_{t-1} @ R per gate block; backward:
// dh_{t-1} = ds_t @ R^T); the GRU with reset_after=False keeps the row blocks (its second product
// per step, (r * h_{t-1}) @ R_h, reads every unit's r, which would cost a second barrier per step).
// Not taken with recurrent dropout (per-gate dropped copies of h_{t-1}), nor from 8 rows per
// thread on, where the row blocks' products already run at ~91-94% of peak and the split
// measured slower (all its rows' A re-read per panel, and the barriers).
// Measured on the dev machine (Zen 4, 2 threads, LSTM(512) float32, 50 steps x 64 features,
// same build with the split on and off alternated in one process, medians):
//   batch 4:  forward 8.97 -> 5.39 ms, backward 13.29 -> 9.04
//   batch 8:  forward 9.19 -> 5.81 ms, backward 13.85 -> 10.50
//   batch 16: forward 9.98 -> 10.56 ms, backward 19.97 -> 20.18 (not taken)
//   batch 32: forward 19.72 -> 20.65 ms, backward 38.48 -> 40.22 (not taken)
// Against main's build (one worker process per build, calls alternated): batch 4 forward
// 9.54 -> 5.59 ms, backward 11.38 -> 7.64; batch 8 forward 9.27 -> 5.89, backward 13.96 -> 10.90.
// GRU(512) reset_after, float32, same shapes, main's build against this one (one worker process
// per build, 60 alternated calls, medians of the paired differences): batch 4 forward 6.80 ->
// 4.17 ms (-40%), backward 10.50 -> 7.37 (-29%); batch 8 forward -36%, backward -19% (min
// 6.95 -> 4.44 ms and 11.30 -> 8.67); batch 32 and GRU(128) (not taken) within 1%.
// Isolated step products (32 x 512 @ 512 x 2048, 2 threads): rows 92% of peak, columns 88-90%;
// 8 x 512 @ 512 x 2048: rows 48%, columns 93-94%.
constexpr i64 kColumnSplitBytes = 512 * 1024;
constexpr i64 kColumnSplitMaxRowsPerThread = 7;

// Whether a time loop over an R of U x G elements takes the column split.
template <class T>
bool split_columns(i64 N, i64 U, i64 G, i64 work, bool rmask) {
  const int threads = max_threads();
  return threads > 1 && !rmask && work >= kParallelWorkThreshold &&
         N <= kColumnSplitMaxRowsPerThread * threads &&
         U * G * static_cast<i64>(sizeof(T)) > kColumnSplitBytes;
}

// steps(p0, p1, u0, u1) on each thread of one parallel region: column panels [p0, p1) of every
// U-column product (panels of NR columns), units [u0, u1). steps holds the barriers.
template <class Steps>
void run_sequence_by_units(i64 U, i64 NR, Steps&& steps) {
  const i64 panels = (U + NR - 1) / NR;
  const int threads = static_cast<int>(std::min<i64>(max_threads(), panels));
#pragma omp parallel num_threads(threads)
  {
    const i64 nt = omp_get_num_threads(), t = omp_get_thread_num();
    const i64 p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
    steps(p0, p1, std::min(U, p0 * NR), std::min(U, p1 * NR));
  }
}

// A step pass over rows [n0, n1), itself threaded over rows when `threaded` and big enough.
template <class Args>
void run_rows(void (*pass)(const Args&, i64, i64), const Args& a, i64 n0, i64 n1, i64 width,
              bool threaded) {
  if (!threaded) {
    pass(a, n0, n1);
    return;
  }
  parallel_for(n1 - n0, (n1 - n0) * width * 24,
               [&](i64 r0, i64 r1) { pass(a, n0 + r0, n0 + r1); });
}

// The recurrent kernel R (U, G), column blocks [g0, g1) (gate blocks of U columns), packed for
// the step products: for the forward h_{t-1} @ R[:, blocks] (K = U), for the backward
// (transposed) dgates[:, blocks] @ R[:, blocks]^T (K = the blocks' width, N = U). One B for all
// the blocks, or with recurrent dropout one per block: each gate multiplies its own dropped copy
// of h_{t-1} (and backward its own gradient block before the mask).
// The packs live in a per-thread pool (slot 0, or 1 for a second set alive at the same time)
// whose buffers are reused from call to call: fresh ones page-fault on first touch, which cost
// more than the packing itself (U = 128: 256 KB).
template <class T>
const std::vector<PackedB<T>>& pack_recurrent(const T* R, i64 U, i64 G, i64 g0, i64 g1,
                                              bool per_gate, bool transposed, int slot = 0) {
  thread_local std::vector<PackedB<T>> pool[2];
  std::vector<PackedB<T>>& packs = pool[slot];
  packs.resize(per_gate ? g1 - g0 : 1);
  for (size_t i = 0; i < packs.size(); ++i) {
    const i64 b0 = per_gate ? g0 + i64(i) : g0, b1 = per_gate ? b0 + 1 : g1;
    const i64 width = (b1 - b0) * U;
    if (transposed) {
      gemm_pack_b<T>(true, width, U, R + b0 * U, G, &packs[i]);
    } else {
      gemm_pack_b<T>(false, U, width, R + b0 * U, G, &packs[i]);
    }
  }
  return packs;
}

// Recurrent dropout (Keras 3's cells): rmask (N, G) holds one scaled keep mask (N, U) per gate,
// fixed for the sequence; gate g's recurrent product reads h_{t-1} * rmask[:, g-th block], and
// the cell update itself uses the undropped state. Without rmask every gate reads h_{t-1}.

// z[n0:n1, gate blocks] (+)= (h_{t-1} (* rmask_g)) @ R[:, gate blocks], packs from
// pack_recurrent (one for all the blocks, or one per block with rmask). R and rmask rows hold G
// elements (all of the layer's gates); h rows ldh; z rows ldz; hd is an (N, G) scratch for the
// dropped copies. The caller's rows are [n0, n1); z points at the first block's column of row 0.
template <class T>
void recurrent_products(i64 n0, i64 n1, i64 U, i64 G, const T* h, i64 ldh, const T* rmask,
                        const std::vector<PackedB<T>>& packs, T beta, T* z, i64 ldz, T* hd) {
  const i64 M = n1 - n0;
  if (!rmask) {
    gemm_prepacked<T>(M, T(1), h + n0 * ldh, ldh, packs[0], beta, z + n0 * ldz, ldz);
    return;
  }
  const i64 gates = static_cast<i64>(packs.size());
  for (i64 n = n0; n < n1; ++n)
    for (i64 g = 0; g < gates; ++g)
      for (i64 u = 0; u < U; ++u) hd[n * G + g * U + u] = h[n * ldh + u] * rmask[n * G + g * U + u];
  for (i64 g = 0; g < gates; ++g)
    gemm_prepacked<T>(M, T(1), hd + n0 * G + g * U, G, packs[g], beta, z + n0 * ldz + g * U, ldz);
}

// dh[n0:n1] += sum_g (dg_g @ R_g^T) (* rmask_g), the recurrent products' share of dL/dh_{t-1};
// dg points at row n0 of the step's gate gradients (stride ldg), packs_t from pack_recurrent
// (transposed), tmp (N, U).
template <class T>
void recurrent_state_gradient(i64 n0, i64 n1, i64 U, i64 G, const T* dg, i64 ldg,
                              const std::vector<PackedB<T>>& packs_t, const T* rmask, T* tmp,
                              T* dh) {
  const i64 M = n1 - n0;
  if (!rmask) {
    gemm_prepacked<T>(M, T(1), dg, ldg, packs_t[0], T(1), dh + n0 * U, U);
    return;
  }
  for (size_t g = 0; g < packs_t.size(); ++g) {
    gemm_prepacked<T>(M, T(1), dg + g * U, ldg, packs_t[g], T(0), tmp + n0 * U, U);
    for (i64 n = n0; n < n1; ++n)
      for (i64 u = 0; u < U; ++u) dh[n * U + u] += tmp[n * U + u] * rmask[n * G + g * U + u];
  }
}

// h0 * m and h_seq * m for one gate's mask m (N, U) of row stride ldm: what that gate's
// recurrent-kernel gradient pairs with its gate gradients.
template <class T>
void dropped_sequence(const RnnShape& s, const T* m, i64 ldm, const T* h0, const T* h_seq,
                      std::vector<T>& h0d, std::vector<T>& hd) {
  const i64 N = s.N, Ts = s.T, U = s.U;
  h0d.resize(static_cast<size_t>(N * U));
  hd.resize(static_cast<size_t>(N * Ts * U));
  for (i64 n = 0; n < N; ++n) {
    for (i64 u = 0; u < U; ++u) h0d[n * U + u] = h0[n * U + u] * m[n * ldm + u];
    for (i64 t = 0; t < Ts; ++t)
      for (i64 u = 0; u < U; ++u)
        hd[(n * Ts + t) * U + u] = h_seq[(n * Ts + t) * U + u] * m[n * ldm + u];
  }
}

// gates (N*T, G) = x (N*T, F) @ kernel (F, G) + bias (bias may be null).
template <class T>
void project_inputs(const RnnShape& s, i64 G, const T* x, const T* kernel, const T* bias,
                    T* gates) {
  const i64 rows = s.N * s.T;
  gemm<T>(false, false, rows, G, s.F, T(1), x, s.F, kernel, G, T(0), gates, G);
  if (bias == nullptr) return;
  parallel_for(rows, rows * G, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      T* __restrict g = gates + r * G;
      for (i64 j = 0; j < G; ++j) g[j] += bias[j];
    }
  });
}

// Column sums of a (rows, G) matrix into out (G,), assigned.
template <class T>
void column_sums(i64 rows, i64 G, const T* a, i64 lda, T* out) {
  parallel_for(G, rows * G, [&](i64 j0, i64 j1) {
    for (i64 j = j0; j < j1; ++j) out[j] = T(0);
    for (i64 r = 0; r < rows; ++r) {
      const T* __restrict row = a + r * lda;
      for (i64 j = j0; j < j1; ++j) out[j] += row[j];
    }
  });
}

// drk (U, ncols; ld ldk) = sum_{n,t} h_{t-1}[n]^T dg[n, t, 0:ncols], dg rows of stride ldg.
template <class T>
void recurrent_kernel_gradient(const RnnShape& s, const T* h0, const T* h_seq, const T* dg,
                               i64 ldg, i64 ncols, T* drk, i64 ldk) {
  const i64 N = s.N, Ts = s.T, U = s.U, rows = N * Ts;
  if (rows > 1) {
    gemm<T>(true, false, U, ncols, rows - 1, T(1), h_seq, U, dg + ldg, ldg, T(0), drk, ldk);
  } else {
    for (i64 u = 0; u < U; ++u)
      for (i64 j = 0; j < ncols; ++j) drk[u * ldk + j] = T(0);
  }
  std::vector<T> fix(static_cast<size_t>(N * U));
  for (i64 n = 0; n < N; ++n) {
    const T* last = n > 0 ? h_seq + ((n - 1) * Ts + Ts - 1) * U : nullptr;
    for (i64 u = 0; u < U; ++u) fix[n * U + u] = h0[n * U + u] - (last ? last[u] : T(0));
  }
  gemm<T>(true, false, U, ncols, N, T(1), fix.data(), U, dg, Ts * ldg, T(1), drk, ldk);
}

// drk[:, gate blocks 0 .. gates-1] (rows of G) = sum_{n,t} (h_{t-1} (* rmask_g))^T dg_g, with dg
// the (N*T, ldg) gradients of the products that recurrent_products computed.
template <class T>
void recurrent_kernel_gradients(const RnnShape& s, i64 gates, i64 G, const T* h0,
                                const T* h_seq, const T* rmask, const T* dg, i64 ldg, T* drk) {
  const i64 U = s.U;
  if (!rmask) {
    recurrent_kernel_gradient(s, h0, h_seq, dg, ldg, gates * U, drk, G);
    return;
  }
  std::vector<T> h0d, hd;
  for (i64 g = 0; g < gates; ++g) {
    dropped_sequence(s, rmask + g * U, G, h0, h_seq, h0d, hd);
    recurrent_kernel_gradient(s, h0d.data(), hd.data(), dg + g * U, ldg, U, drk + g * U, G);
  }
}

// dkernel = x^T dg, dx = dg @ kernel^T (skipped when dx is null), dg rows of G contiguous.
template <class T>
void input_gradients(const RnnShape& s, i64 G, const T* x, const T* kernel, const T* dg, T* dx,
                     T* dkernel) {
  const i64 rows = s.N * s.T;
  gemm<T>(true, false, s.F, G, rows, T(1), x, s.F, dg, G, T(0), dkernel, G);
  if (dx != nullptr) gemm<T>(false, true, rows, s.F, G, T(1), dg, G, kernel, G, T(0), dx, s.F);
}

// Rows [n0, n1) of a strided slice (`width` elements each, row stride ld) requested into L2
// ahead of the step that reads them. The saved sequences (gates, c, h: megabytes once batch *
// timesteps is large) were written long before a step reads them back, and each step touches
// only a few short rows of each, T rows apart: too little of any one stream for the hardware
// prefetcher to lock on. Issued before the step product that precedes their use, whose ~20 us
// hides the latency. Measured on the dev machine (Zen 4, 2 threads, LSTM(128) batch 32 x 50):
// backward 2.81-2.87 -> 2.73-2.82 ms (best of 100, three alternating runs), forward unchanged.
template <class T>
void prefetch_rows(const T* p, i64 n0, i64 n1, i64 ld, i64 width) {
  constexpr i64 kLine = 64 / static_cast<i64>(sizeof(T));
  for (i64 n = n0; n < n1; ++n)
    for (i64 j = 0; j < width; j += kLine) __builtin_prefetch(p + n * ld + j, 1, 2);
}

// Rows [n0, n1) of a (N, U) state gradient: a copy of src, or zeros.
template <class T>
void init_state_grad(i64 n0, i64 n1, i64 U, const T* src, T* dst) {
  for (i64 i = n0 * U; i < n1 * U; ++i) dst[i] = src ? src[i] : T(0);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LSTM
// ---------------------------------------------------------------------------------------------
// Work estimate of a time loop: the recurrent products plus ~24 flops per gate element.
inline i64 loop_work(const RnnShape& s, i64 G) { return s.N * s.T * G * (2 * s.U + 24); }

template <class T>
void lstm_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* bias, const T* h0, const T* c0,
                           const T* mask, const T* rmask, int activation,
                           int recurrent_activation, T* gates, T* h_seq, T* c_seq) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 4 * U;
  project_inputs(s, G, x, kernel, static_cast<const T*>(nullptr), gates);
  const std::vector<T> no_bias(bias ? 0 : static_cast<size_t>(G), T(0));
  const auto& k = cells<T>();
  auto step = [&](i64 t) {
    LstmStepArgs<T> a{};
    a.z = gates + t * G;
    a.ldz = Ts * G;
    a.h_prev = t == 0 ? h0 : h_seq + (t - 1) * U;
    a.ldh_prev = t == 0 ? U : Ts * U;
    a.c_prev = t == 0 ? c0 : c_seq + (t - 1) * U;
    a.ldc_prev = a.ldh_prev;
    a.c = c_seq + t * U;
    a.h = h_seq + t * U;
    a.ldch = Ts * U;
    a.mask = mask ? mask + t : nullptr;
    a.ldm = Ts;
    a.units = U;
    a.act = activation;
    a.ract = recurrent_activation;
    a.bias = bias ? bias : no_bias.data();  // added by the gate pass
    return a;
  };
  if (split_columns<T>(N, U, G, loop_work(s, G), rmask != nullptr)) {
    const auto& packs = pack_recurrent(recurrent_kernel, U, G, 0, 4, true, false);
    run_sequence_by_units(U, packs[0].panel_width(), [&](i64 p0, i64 p1, i64 u0, i64 u1) {
      for (i64 t = 0; t < Ts; ++t) {
        LstmStepArgs<T> a = step(t);
        a.u0 = u0;
        a.u1 = u1;
        if (t + 1 < Ts) {
          for (i64 g = 0; g < 4; ++g) prefetch_rows(a.z + G + g * U + u0, 0, N, a.ldz, u1 - u0);
          prefetch_rows(a.c + U + u0, 0, N, a.ldch, u1 - u0);
          prefetch_rows(a.h + U + u0, 0, N, a.ldch, u1 - u0);
        }
        for (i64 g = 0; g < 4; ++g)
          gemm_prepacked_panels<T>(p0, p1, N, T(1), a.h_prev, a.ldh_prev, packs[g], T(1),
                                   a.z + g * U, a.ldz);
        k.lstm_forward(a, 0, N);
#pragma omp barrier
      }
    });
    return;
  }
  std::vector<T> hd(rmask ? static_cast<size_t>(N * G) : 0);
  const auto& packs = pack_recurrent(recurrent_kernel, U, G, 0, 4, rmask != nullptr, false);
  run_sequence(N, loop_work(s, G), [&](i64 n0, i64 n1, bool threaded) {
    for (i64 t = 0; t < Ts; ++t) {
      const LstmStepArgs<T> a = step(t);
      if (t + 1 < Ts) {
        prefetch_rows(a.z + G, n0, n1, a.ldz, G);
        prefetch_rows(a.c + U, n0, n1, a.ldch, U);
        prefetch_rows(a.h + U, n0, n1, a.ldch, U);
      }
      recurrent_products(n0, n1, U, G, a.h_prev, a.ldh_prev, rmask, packs, T(1), a.z, a.ldz,
                         hd.data());
      run_rows(k.lstm_forward, a, n0, n1, G, threaded);
    }
  });
}

template <class T>
void lstm_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                            const T* recurrent_kernel, const T* h0, const T* c0, const T* mask,
                            const T* rmask, int activation, int recurrent_activation,
                            const T* gates,
                            const T* h_seq, const T* c_seq, const T* dh_seq, const T* dh_last,
                            const T* dc_last, T* dx, T* dkernel, T* drecurrent_kernel, T* dbias,
                            T* dh0, T* dc0, T* dgates) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 4 * U;
  const auto& k = cells<T>();
  const auto& packs_t = pack_recurrent(recurrent_kernel, U, G, 0, 4, rmask != nullptr, true);
  std::vector<T> drec(rmask ? static_cast<size_t>(N * U) : 0);
  // Each batch row's bias gradient, summed over its steps by the gate pass (N * G elements
  // instead of a second pass over the N * T * G gate gradients); then over the rows, in order.
  std::vector<T> dbias_rows(static_cast<size_t>(N * G), T(0));
  auto step = [&](i64 t) {
    LstmStepArgs<T> a{};
    a.z = const_cast<T*>(gates) + t * G;  // read only in backward
    a.ldz = Ts * G;
    a.h_prev = t == 0 ? h0 : h_seq + (t - 1) * U;
    a.ldh_prev = t == 0 ? U : Ts * U;
    a.c_prev = t == 0 ? c0 : c_seq + (t - 1) * U;
    a.ldc_prev = a.ldh_prev;
    a.c = const_cast<T*>(c_seq) + t * U;
    a.ldch = Ts * U;
    a.mask = mask ? mask + t : nullptr;
    a.ldm = Ts;
    a.units = U;
    a.act = activation;
    a.ract = recurrent_activation;
    a.dy = dh_seq ? dh_seq + t * U : nullptr;
    a.lddy = Ts * U;
    a.dh = dh0;
    a.dc = dc0;
    a.dz = dgates + t * G;
    a.dbias = dbias_rows.data();
    return a;
  };
  if (split_columns<T>(N, U, G, loop_work(s, G), rmask != nullptr)) {
    init_state_grad(0, N, U, dh_last, dh0);
    init_state_grad(0, N, U, dc_last, dc0);
    run_sequence_by_units(U, packs_t[0].panel_width(), [&](i64 p0, i64 p1, i64 u0, i64 u1) {
      for (i64 t = Ts - 1; t >= 0; --t) {
        LstmStepArgs<T> a = step(t);
        a.u0 = u0;
        a.u1 = u1;
        k.lstm_backward(a, 0, N);
        if (t > 0) {
          for (i64 g = 0; g < 4; ++g)
            prefetch_rows(a.z - G + g * U + u0, 0, N, a.ldz, u1 - u0);
          if (t > 1) prefetch_rows(a.c - 2 * U + u0, 0, N, a.ldch, u1 - u0);
          if (a.dy) prefetch_rows(a.dy - U + u0, 0, N, a.lddy, u1 - u0);
        }
#pragma omp barrier
        gemm_prepacked_panels<T>(p0, p1, N, T(1), a.dz, a.ldz, packs_t[0], T(1), dh0, U);
      }
    });
  } else {
    run_sequence(N, loop_work(s, G), [&](i64 n0, i64 n1, bool threaded) {
      init_state_grad(n0, n1, U, dh_last, dh0);
      init_state_grad(n0, n1, U, dc_last, dc0);
      for (i64 t = Ts - 1; t >= 0; --t) {
        const LstmStepArgs<T> a = step(t);
        run_rows(k.lstm_backward, a, n0, n1, G, threaded);
        if (t > 0) {
          prefetch_rows(a.z - G, n0, n1, a.ldz, G);
          if (t > 1) prefetch_rows(a.c - 2 * U, n0, n1, a.ldch, U);
          if (a.dy) prefetch_rows(a.dy - U, n0, n1, a.lddy, U);
        }
        recurrent_state_gradient(n0, n1, U, G, a.dz + n0 * a.ldz, a.ldz, packs_t, rmask,
                                 drec.data(), dh0);
      }
    });
  }
  input_gradients(s, G, x, kernel, dgates, dx, dkernel);
  if (dbias) column_sums(N, G, dbias_rows.data(), G, dbias);
  recurrent_kernel_gradients(s, 4, G, h0, h_seq, rmask, dgates, G, drecurrent_kernel);
}

// ---------------------------------------------------------------------------------------------
// GRU
// ---------------------------------------------------------------------------------------------
template <class T>
void gru_sequence_forward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                          const T* recurrent_kernel, const T* bias, const T* h0, const T* mask,
                          const T* rmask, int activation, int recurrent_activation, T* gates,
                          T* rh, T* h_seq) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 3 * U;
  project_inputs(s, G, x, kernel, bias, gates);
  const auto& k = cells<T>();
  std::vector<T> sbuf(reset_after ? static_cast<size_t>(N * G) : 0);
  auto step = [&](i64 t) {
    GruStepArgs<T> a{};
    a.z = gates + t * G;
    a.ldz = Ts * G;
    a.h_prev = t == 0 ? h0 : h_seq + (t - 1) * U;
    a.ldh_prev = t == 0 ? U : Ts * U;
    a.h = h_seq + t * U;
    a.ldh = Ts * U;
    a.rh = rh + t * U;
    a.ldrh = Ts * U;
    a.mask = mask ? mask + t : nullptr;
    a.ldm = Ts;
    a.units = U;
    a.act = activation;
    a.ract = recurrent_activation;
    a.rmask_h = rmask ? rmask + 2 * U : nullptr;
    a.ldrm = G;
    a.s = sbuf.data();
    a.rbias = reset_after && bias ? bias + G : nullptr;
    return a;
  };
  // The column split (reset_after only, see split_columns): each thread writes its units of the
  // three gates' s = h_{t-1} @ R, then runs their gate pass.
  if (reset_after && split_columns<T>(N, U, G, loop_work(s, G), rmask != nullptr)) {
    const auto& packs = pack_recurrent(recurrent_kernel, U, G, 0, 3, true, false);
    run_sequence_by_units(U, packs[0].panel_width(), [&](i64 p0, i64 p1, i64 u0, i64 u1) {
      for (i64 t = 0; t < Ts; ++t) {
        GruStepArgs<T> a = step(t);
        a.u0 = u0;
        a.u1 = u1;
        if (t + 1 < Ts) {
          for (i64 g = 0; g < 3; ++g) prefetch_rows(a.z + G + g * U + u0, 0, N, a.ldz, u1 - u0);
          prefetch_rows(a.rh + U + u0, 0, N, a.ldrh, u1 - u0);
          prefetch_rows(a.h + U + u0, 0, N, a.ldh, u1 - u0);
        }
        for (i64 g = 0; g < 3; ++g)
          gemm_prepacked_panels<T>(p0, p1, N, T(1), a.h_prev, a.ldh_prev, packs[g], T(0),
                                   sbuf.data() + g * U, G);
        k.gru_forward(a, 0, N);
#pragma omp barrier
      }
    });
    return;
  }
  std::vector<T> hd(rmask ? static_cast<size_t>(N * G) : 0);
  // reset_after: one product for the three gates; otherwise z and r first, then the candidate's
  // product of r * h_{t-1} by its own block.
  const auto& packs = pack_recurrent(recurrent_kernel, U, G, 0, reset_after ? 3 : 2,
                                     rmask != nullptr, false);
  const auto& pack_h = reset_after ? packs
                                   : pack_recurrent(recurrent_kernel, U, G, 2, 3, false, false, 1);
  run_sequence(N, loop_work(s, G), [&](i64 n0, i64 n1, bool threaded) {
    const i64 M = n1 - n0;
    for (i64 t = 0; t < Ts; ++t) {
      const GruStepArgs<T> a = step(t);
      if (reset_after) {
        recurrent_products(n0, n1, U, G, a.h_prev, a.ldh_prev, rmask, packs, T(0), sbuf.data(),
                           G, hd.data());
        run_rows(k.gru_forward, a, n0, n1, G, threaded);
      } else {
        recurrent_products(n0, n1, U, G, a.h_prev, a.ldh_prev, rmask, packs, T(1), a.z, a.ldz,
                           hd.data());
        run_rows(k.gru_v1_forward_a, a, n0, n1, 2 * U, threaded);
        gemm_prepacked<T>(M, T(1), a.rh + n0 * a.ldrh, a.ldrh, pack_h[0], T(1),
                          a.z + n0 * a.ldz + 2 * U, a.ldz);
        run_rows(k.gru_v1_forward_b, a, n0, n1, U, threaded);
      }
    }
  });
}

template <class T>
void gru_sequence_backward(const RnnShape& s, bool reset_after, const T* x, const T* kernel,
                           const T* recurrent_kernel, const T* h0, const T* mask, const T* rmask,
                           int activation, int recurrent_activation, const T* gates, const T* rh,
                           const T* h_seq, const T* dh_seq, const T* dh_last, T* dx, T* dkernel,
                           T* drecurrent_kernel, T* dbias, T* dh0, T* dgates, T* ds) {
  const i64 N = s.N, Ts = s.T, U = s.U, G = 3 * U;
  const auto& k = cells<T>();
  const auto& packs_t = pack_recurrent(recurrent_kernel, U, G, 0, reset_after ? 3 : 2,
                                       rmask != nullptr, true);
  auto step = [&](i64 t) {
    GruStepArgs<T> a{};
    a.z = const_cast<T*>(gates) + t * G;
    a.ldz = Ts * G;
    a.h_prev = t == 0 ? h0 : h_seq + (t - 1) * U;
    a.ldh_prev = t == 0 ? U : Ts * U;
    a.rh = const_cast<T*>(rh) + t * U;
    a.ldrh = Ts * U;
    a.mask = mask ? mask + t : nullptr;
    a.ldm = Ts;
    a.units = U;
    a.act = activation;
    a.ract = recurrent_activation;
    a.rmask_h = rmask ? rmask + 2 * U : nullptr;
    a.ldrm = G;
    a.dy = dh_seq ? dh_seq + t * U : nullptr;
    a.lddy = Ts * U;
    a.dh = dh0;
    a.dz = dgates + t * G;
    a.ds = reset_after ? ds + t * G : nullptr;
    return a;
  };
  // The column split (reset_after only, as in the forward): dh_{t-1}[:, u0:u1] +=
  // ds_t @ R^T[:, u0:u1], K = all three gates, after the barrier that publishes every unit's ds_t.
  if (reset_after && split_columns<T>(N, U, G, loop_work(s, G), rmask != nullptr)) {
    init_state_grad(0, N, U, dh_last, dh0);
    run_sequence_by_units(U, packs_t[0].panel_width(), [&](i64 p0, i64 p1, i64 u0, i64 u1) {
      for (i64 t = Ts - 1; t >= 0; --t) {
        GruStepArgs<T> a = step(t);
        a.u0 = u0;
        a.u1 = u1;
        k.gru_backward(a, 0, N);
        if (t > 0) {
          for (i64 g = 0; g < 3; ++g)
            prefetch_rows(a.z - G + g * U + u0, 0, N, a.ldz, u1 - u0);
          prefetch_rows(a.rh - U + u0, 0, N, a.ldrh, u1 - u0);
          if (t > 1) prefetch_rows(h_seq + (t - 2) * U + u0, 0, N, Ts * U, u1 - u0);
          if (a.dy) prefetch_rows(a.dy - U + u0, 0, N, a.lddy, u1 - u0);
        }
#pragma omp barrier
        gemm_prepacked_panels<T>(p0, p1, N, T(1), a.ds, a.ldz, packs_t[0], T(1), dh0, U);
      }
    });
  } else {
    const auto& pack_h_t =
        reset_after ? packs_t : pack_recurrent(recurrent_kernel, U, G, 2, 3, false, true, 1);
    std::vector<T> drh(reset_after ? 0 : static_cast<size_t>(N * U));
    std::vector<T> drec(rmask ? static_cast<size_t>(N * U) : 0);
    run_sequence(N, loop_work(s, G), [&](i64 n0, i64 n1, bool threaded) {
      const i64 M = n1 - n0;
      init_state_grad(n0, n1, U, dh_last, dh0);
      for (i64 t = Ts - 1; t >= 0; --t) {
        GruStepArgs<T> a = step(t);
        const i64 r0 = n0 * a.ldz;  // offset of this block's first row in a step slice
        if (reset_after) {
          run_rows(k.gru_backward, a, n0, n1, G, threaded);
          recurrent_state_gradient(n0, n1, U, G, a.ds + r0, a.ldz, packs_t, rmask, drec.data(),
                                   dh0);
        } else {
          a.drh = drh.data();
          run_rows(k.gru_v1_backward_a, a, n0, n1, G, threaded);
          gemm_prepacked<T>(M, T(1), a.dz + r0 + 2 * U, a.ldz, pack_h_t[0], T(0),
                            drh.data() + n0 * U, U);
          run_rows(k.gru_v1_backward_b, a, n0, n1, U, threaded);
          recurrent_state_gradient(n0, n1, U, G, a.dz + r0, a.ldz, packs_t, rmask, drec.data(),
                                   dh0);
        }
      }
    });
  }
  input_gradients(s, G, x, kernel, dgates, dx, dkernel);
  if (reset_after) {
    if (dbias) {
      column_sums(N * Ts, G, dgates, G, dbias);
      column_sums(N * Ts, G, ds, G, dbias + G);
    }
    recurrent_kernel_gradients(s, 3, G, h0, h_seq, rmask, ds, G, drecurrent_kernel);
  } else {
    if (dbias) column_sums(N * Ts, G, dgates, G, dbias);
    recurrent_kernel_gradients(s, 2, G, h0, h_seq, rmask, dgates, G, drecurrent_kernel);
    gemm<T>(true, false, U, U, N * Ts, T(1), rh, U, dgates + 2 * U, G, T(0),
            drecurrent_kernel + 2 * U, G);
  }
}

// ---------------------------------------------------------------------------------------------
// SimpleRNN
// ---------------------------------------------------------------------------------------------
template <class T>
void simple_rnn_sequence_forward(const RnnShape& s, const T* x, const T* kernel,
                                 const T* recurrent_kernel, const T* bias, const T* h0,
                                 const T* mask, const T* rmask, int activation, T* gates,
                                 T* h_seq) {
  const i64 Ts = s.T, U = s.U;
  project_inputs(s, U, x, kernel, bias, gates);
  const auto& k = cells<T>();
  std::vector<T> hd(rmask ? static_cast<size_t>(s.N * U) : 0);
  const auto& packs = pack_recurrent(recurrent_kernel, U, U, 0, 1, false, false);
  run_sequence(s.N, loop_work(s, U), [&](i64 n0, i64 n1, bool threaded) {
    for (i64 t = 0; t < Ts; ++t) {
      LstmStepArgs<T> a{};
      a.z = gates + t * U;
      a.ldz = Ts * U;
      a.h_prev = t == 0 ? h0 : h_seq + (t - 1) * U;
      a.ldh_prev = t == 0 ? U : Ts * U;
      a.h = h_seq + t * U;
      a.ldch = Ts * U;
      a.mask = mask ? mask + t : nullptr;
      a.ldm = Ts;
      a.units = U;
      a.act = activation;
      recurrent_products(n0, n1, U, U, a.h_prev, a.ldh_prev, rmask, packs, T(1), a.z, a.ldz,
                         hd.data());
      run_rows(k.simple_forward, a, n0, n1, U, threaded);
    }
  });
}

template <class T>
void simple_rnn_sequence_backward(const RnnShape& s, const T* x, const T* kernel,
                                  const T* recurrent_kernel, const T* h0, const T* mask,
                                  const T* rmask, int activation, const T* h_seq,
                                  const T* dh_seq,
                                  const T* dh_last, T* dx, T* dkernel, T* drecurrent_kernel,
                                  T* dbias, T* dh0, T* dgates) {
  const i64 N = s.N, Ts = s.T, U = s.U;
  const auto& k = cells<T>();
  const auto& packs_t = pack_recurrent(recurrent_kernel, U, U, 0, 1, false, true);
  std::vector<T> drec(rmask ? static_cast<size_t>(N * U) : 0);
  run_sequence(N, loop_work(s, U), [&](i64 n0, i64 n1, bool threaded) {
    init_state_grad(n0, n1, U, dh_last, dh0);
    for (i64 t = Ts - 1; t >= 0; --t) {
      LstmStepArgs<T> a{};
      a.h = const_cast<T*>(h_seq) + t * U;
      a.ldch = Ts * U;
      a.mask = mask ? mask + t : nullptr;
      a.ldm = Ts;
      a.units = U;
      a.act = activation;
      a.dy = dh_seq ? dh_seq + t * U : nullptr;
      a.lddy = Ts * U;
      a.dh = dh0;
      a.dz = dgates + t * U;
      a.ldz = Ts * U;
      run_rows(k.simple_backward, a, n0, n1, U, threaded);
      recurrent_state_gradient(n0, n1, U, U, a.dz + n0 * a.ldz, a.ldz, packs_t, rmask,
                               drec.data(), dh0);
    }
  });
  input_gradients(s, U, x, kernel, dgates, dx, dkernel);
  if (dbias) column_sums(N * Ts, U, dgates, U, dbias);
  recurrent_kernel_gradients(s, 1, U, h0, h_seq, rmask, dgates, U, drecurrent_kernel);
}

#define LAMINA_INSTANTIATE_RNN(T)                                                              \
  template void lstm_sequence_forward<T>(const RnnShape&, const T*, const T*, const T*,        \
                                         const T*, const T*, const T*, const T*, const T*,     \
                                         int, int, T*, T*, T*);                                \
  template void lstm_sequence_backward<T>(const RnnShape&, const T*, const T*, const T*,       \
                                          const T*, const T*, const T*, const T*, int, int,    \
                                          const T*,                                            \
                                          const T*, const T*, const T*, const T*, const T*,    \
                                          T*, T*, T*, T*, T*, T*, T*);                         \
  template void gru_sequence_forward<T>(const RnnShape&, bool, const T*, const T*, const T*,   \
                                        const T*, const T*, const T*, const T*, int, int, T*,  \
                                        T*, T*);                                               \
  template void gru_sequence_backward<T>(const RnnShape&, bool, const T*, const T*, const T*,  \
                                         const T*, const T*, const T*, int, int, const T*,     \
                                         const T*, const T*, const T*, const T*, T*, T*, T*,   \
                                         T*, T*, T*, T*);                                      \
  template void simple_rnn_sequence_forward<T>(const RnnShape&, const T*, const T*, const T*,  \
                                               const T*, const T*, const T*, const T*, int, T*, \
                                               T*);                                            \
  template void simple_rnn_sequence_backward<T>(const RnnShape&, const T*, const T*,           \
                                                const T*, const T*, const T*, const T*, int,   \
                                                const T*,                                      \
                                                const T*, const T*, T*, T*, T*, T*, T*, T*);
LAMINA_INSTANTIATE_RNN(float)
LAMINA_INSTANTIATE_RNN(double)
#undef LAMINA_INSTANTIATE_RNN

}  // namespace lamina
