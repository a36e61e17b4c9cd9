// CTC loss and gradient (contract in ctc.h): the forward-backward recursion of
// csrc/cpu/ctc.cpp, one block per sample, the states s of the blank-extended label sequence
// spread over the block's threads and one __syncthreads per time step.
//
// Per sample, in order:
//   1. thread 0 builds ext (blank, l1, blank, l2, ..., blank) and, for the gradient, a chain per
//      class through the states carrying it (first_state[k], next_state[s]) in increasing s,
//      so that each class's occupancy is summed over its states in the CPU's order;
//   2. log-sum-exp of every step's logits (a warp per step): log p(k | t) = logit - lse[t];
//   3. alpha over all steps (kept: the gradient needs every row);
//   4. the log-likelihood from alpha's last row (thread 0), the loss;
//   5. beta from the last step down, two rows kept; as soon as row t of beta exists, row t of
//      the gradient: exp(log p) - exp(occupancy - log p - loglik), one thread per class.
// Work per sample is O(T * (S + C)) with S = 2L + 1 states, all in double; parallel over S and C
// within a sample and over samples across blocks. Tuning (with a GPU): long sequences of short
// labels leave most threads idle at each step: several samples per block, or a warp per sample
// for S <= 64.
#include <cmath>

#include "cuda/ctc.h"
#include "cuda/launch.h"

namespace lamina::cuda {

namespace {

using i64 = std::int64_t;

constexpr int kCtcThreads = kBlockThreads;
constexpr int kCtcWarps = kCtcThreads / kWarpSize;

__device__ __forceinline__ double log_add(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = a > b ? a : b;
  return m + log1p(exp(-fabs(a - b)));
}

// Scratch of one sample: `doubles` doubles and `ints` int64 per sample, in two regions.
struct CtcScratch {
  double* d;  // lse (Tmax), alpha (Tmax * S), beta (2 * S)
  i64* k;     // ext (S), next_state (S), first_state (C)
  i64 doubles, ints;
};

// Grid: B blocks (one per sample) of 256 threads.
template <class T, class I>
__global__ void __launch_bounds__(kCtcThreads)
    ctc_loss_kernel(i64 Tmax, i64 C, i64 L, const T* __restrict__ logits,
                    const I* __restrict__ targets, const I* __restrict__ target_length,
                    const I* __restrict__ output_length, i64 blank, bool zero_infinity,
                    T* __restrict__ loss, T* __restrict__ grad, CtcScratch scratch) {
  const i64 b = blockIdx.x;
  const int tid = threadIdx.x;
  const i64 Smax = 2 * L + 1;
  const T* lg = logits + b * Tmax * C;
  T* gr = grad ? grad + b * Tmax * C : nullptr;
  double* lse = scratch.d + b * scratch.doubles;
  double* alpha = lse + Tmax;
  double* beta = alpha + Tmax * Smax;
  i64* ext = scratch.k + b * scratch.ints;
  i64* next_state = ext + Smax;
  i64* first_state = next_state + Smax;
  i64 Tb = static_cast<i64>(output_length[b]);
  Tb = Tb < 0 ? 0 : (Tb > Tmax ? Tmax : Tb);
  i64 Lb = static_cast<i64>(target_length[b]);
  Lb = Lb < 0 ? 0 : (Lb > L ? L : Lb);

  __shared__ i64 states;
  __shared__ double loglik_shared;
  for (i64 k = tid; k < C; k += kCtcThreads) first_state[k] = -1;
  if (tid == 0) {
    i64 S = 0;
    ext[S++] = blank;
    for (i64 i = 0; i < Lb; ++i) {
      const i64 label = static_cast<i64>(targets[b * L + i]);
      if (label == blank || label < 0 || label >= C) continue;  // padding (or unchecked junk)
      ext[S++] = label;
      ext[S++] = blank;
    }
    states = S;
  }
  __syncthreads();  // first_state initialised, ext and states written
  const i64 S = states;
  if (tid == 0) {
    for (i64 s = S - 1; s >= 0; --s) {
      next_state[s] = first_state[ext[s]];
      first_state[ext[s]] = s;
    }
  }
  if (Tb == 0) {  // block-uniform: only an empty target has an alignment in 0 steps
    if (tid == 0) {
      loss[b] = (S == 1 || zero_infinity) ? T(0) : static_cast<T>(INFINITY);
    }
    if (gr) {
      for (i64 e = tid; e < Tmax * C; e += kCtcThreads) gr[e] = T(0);
    }
    return;
  }

  // 2. log-sum-exp per step, a warp per step (the max as std::max does it: NaN never wins).
  const int lane = tid % kWarpSize, warp = tid / kWarpSize;
  for (i64 t = warp; t < Tb; t += kCtcWarps) {
    const T* row = lg + t * C;
    double m = -INFINITY;
    for (i64 k = lane; k < C; k += kWarpSize) {
      const double v = static_cast<double>(row[k]);
      m = m < v ? v : m;
    }
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      const double o = __shfl_xor_sync(0xffffffffu, m, offset);
      m = m < o ? o : m;
    }
    double sum = 0.0;
    for (i64 k = lane; k < C; k += kWarpSize) sum += exp(static_cast<double>(row[k]) - m);
    sum = warp_sum(sum);
    if (lane == 0) lse[t] = m + log(sum);
  }
  __syncthreads();  // lse ready; next_state / first_state too
  auto logp = [&](i64 t, i64 k) { return static_cast<double>(lg[t * C + k]) - lse[t]; };
  // A transition s-2 -> s skips a blank; allowed unless ext[s] is blank or repeats ext[s-2].
  auto can_skip = [&](i64 s) { return s >= 2 && ext[s] != blank && ext[s] != ext[s - 2]; };

  // 3. alpha
  for (i64 s = tid; s < S; s += kCtcThreads) alpha[s] = s < 2 ? logp(0, ext[s]) : -INFINITY;
  __syncthreads();
  for (i64 t = 1; t < Tb; ++t) {
    const double* prev = alpha + (t - 1) * S;
    double* cur = alpha + t * S;
    for (i64 s = tid; s < S; s += kCtcThreads) {
      double a = prev[s];
      if (s >= 1) a = log_add(a, prev[s - 1]);
      if (can_skip(s)) a = log_add(a, prev[s - 2]);
      cur[s] = a == -INFINITY ? -INFINITY : a + logp(t, ext[s]);
    }
    __syncthreads();
  }

  // 4. the likelihood
  if (tid == 0) {
    const double* last = alpha + (Tb - 1) * S;
    const double ll = S > 1 ? log_add(last[S - 1], last[S - 2]) : last[S - 1];
    loglik_shared = ll;
    if (ll == -INFINITY) {  // no alignment fits in Tb steps
      loss[b] = zero_infinity ? T(0) : static_cast<T>(INFINITY);
    } else {
      loss[b] = static_cast<T>(-ll);
    }
  }
  __syncthreads();
  const double loglik = loglik_shared;
  if (!gr) return;
  for (i64 e = Tb * C + tid; e < Tmax * C; e += kCtcThreads) gr[e] = T(0);
  if (loglik == -INFINITY) {
    for (i64 e = tid; e < Tb * C; e += kCtcThreads) gr[e] = T(0);
    return;
  }

  // 5. beta (rows t % 2) and, row by row, the gradient.
  for (i64 t = Tb - 1; t >= 0; --t) {
    double* cur = beta + (t % 2) * S;
    const double* next = beta + ((t + 1) % 2) * S;
    for (i64 s = tid; s < S; s += kCtcThreads) {
      if (t == Tb - 1) {
        cur[s] = (s == S - 1 || s == S - 2) ? logp(t, ext[s]) : -INFINITY;
      } else {
        double v = next[s];
        if (s + 1 < S) v = log_add(v, next[s + 1]);
        if (s + 2 < S && can_skip(s + 2)) v = log_add(v, next[s + 2]);
        cur[s] = v == -INFINITY ? -INFINITY : v + logp(t, ext[s]);
      }
    }
    __syncthreads();  // beta row t complete
    const double* a = alpha + t * S;
    for (i64 k = tid; k < C; k += kCtcThreads) {
      double occ = -INFINITY;
      for (i64 s = first_state[k]; s >= 0; s = next_state[s]) occ = log_add(occ, a[s] + cur[s]);
      const double lp = logp(t, k);
      // alpha + beta counts the emission at t twice: divide it out once.
      const double posterior = occ == -INFINITY ? 0.0 : exp(occ - lp - loglik);
      gr[t * C + k] = static_cast<T>(exp(lp) - posterior);
    }
    __syncthreads();  // row t of beta is read above before step t - 2 overwrites it
  }
}

}  // namespace

template <class T, class I>
void ctc_loss(i64 B, i64 Tmax, i64 C, i64 L, const T* logits, const I* targets,
              const I* target_length, const I* output_length, i64 blank, bool zero_infinity,
              T* loss, T* grad, cudaStream_t stream) {
  if (B <= 0) return;
  if (B > 0x7fffffff) throw std::runtime_error("[ctc_loss] batch too large for one launch");
  const i64 S = 2 * L + 1;
  CtcScratch sc{nullptr, nullptr, Tmax + Tmax * S + 2 * S, 2 * S + C};
  const std::size_t bytes = static_cast<std::size_t>(B) *
                            static_cast<std::size_t>(sc.doubles + sc.ints) * sizeof(double);
  StreamScratch scratch(bytes, stream, "ctc_loss");
  sc.d = static_cast<double*>(scratch.get());
  sc.k = reinterpret_cast<i64*>(sc.d + B * sc.doubles);
  launch("ctc_loss_kernel", dim3(static_cast<unsigned>(B)), dim3(kCtcThreads), 0, stream,
         ctc_loss_kernel<T, I>, Tmax, C, L, logits, targets, target_length, output_length, blank,
         zero_infinity, loss, grad, sc);
}

#define LAMINA_INSTANTIATE_CTC(T, I)                                                           \
  template void ctc_loss<T, I>(i64, i64, i64, i64, const T*, const I*, const I*, const I*, i64, \
                               bool, T*, T*, cudaStream_t);
LAMINA_INSTANTIATE_CTC(float, std::int32_t)
LAMINA_INSTANTIATE_CTC(float, std::int64_t)
LAMINA_INSTANTIATE_CTC(double, std::int32_t)
LAMINA_INSTANTIATE_CTC(double, std::int64_t)
#undef LAMINA_INSTANTIATE_CTC

}  // namespace lamina::cuda
