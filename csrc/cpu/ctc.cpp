// CTC loss (alpha-beta in log space) and prefix beam search; contract in ctc.h.
#include "cpu/ctc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "common/parallel.h"

namespace lamina {

namespace {

using i64 = std::int64_t;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = a > b ? a : b;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// logp (steps, C) = log_softmax of `steps` rows of logits, in double.
template <class T>
void log_softmax_rows(i64 steps, i64 C, const T* logits, double* logp) {
  for (i64 t = 0; t < steps; ++t) {
    const T* x = logits + t * C;
    double* y = logp + t * C;
    double m = kNegInf;
    for (i64 k = 0; k < C; ++k) m = std::max(m, static_cast<double>(x[k]));
    double sum = 0.0;
    for (i64 k = 0; k < C; ++k) sum += std::exp(static_cast<double>(x[k]) - m);
    const double lse = m + std::log(sum);
    for (i64 k = 0; k < C; ++k) y[k] = static_cast<double>(x[k]) - lse;
  }
}

// Loss and gradient of one sample; scratch vectors are reused across samples of a thread.
template <class T, class I>
void ctc_one(i64 Tmax, i64 C, i64 L, const T* logits, const I* target, i64 Lb, i64 Tb,
             i64 blank, bool zero_infinity, T* loss, T* grad, std::vector<double>& logp,
             std::vector<double>& alpha, std::vector<double>& beta, std::vector<i64>& ext) {
  (void)L;
  if (grad) std::fill(grad, grad + Tmax * C, T(0));
  ext.clear();
  ext.push_back(blank);
  for (i64 i = 0; i < Lb; ++i) {
    const i64 label = static_cast<i64>(target[i]);
    if (label == blank) continue;  // padding inside the length
    ext.push_back(label);
    ext.push_back(blank);
  }
  const i64 S = static_cast<i64>(ext.size());
  if (Tb == 0) {
    const bool possible = S == 1;
    *loss = possible || zero_infinity ? T(0) : std::numeric_limits<T>::infinity();
    return;
  }
  logp.resize(static_cast<size_t>(Tb * C));
  log_softmax_rows(Tb, C, logits, logp.data());
  alpha.assign(static_cast<size_t>(Tb * S), kNegInf);
  beta.assign(static_cast<size_t>(Tb * S), kNegInf);
  // A transition s-2 -> s skips a blank; allowed unless ext[s] is blank or repeats ext[s-2].
  auto can_skip = [&](i64 s) { return s >= 2 && ext[s] != blank && ext[s] != ext[s - 2]; };

  alpha[0] = logp[ext[0]];
  if (S > 1) alpha[1] = logp[ext[1]];
  for (i64 t = 1; t < Tb; ++t) {
    const double* prev = alpha.data() + (t - 1) * S;
    double* cur = alpha.data() + t * S;
    const double* lp = logp.data() + t * C;
    // Only states that can still reach the end and can be reached from the start matter, but
    // the full band is cheap at CTC sizes and keeps the code obvious.
    for (i64 s = 0; s < S; ++s) {
      double a = prev[s];
      if (s >= 1) a = log_add(a, prev[s - 1]);
      if (can_skip(s)) a = log_add(a, prev[s - 2]);
      cur[s] = a == kNegInf ? kNegInf : a + lp[ext[s]];
    }
  }
  double* last_beta = beta.data() + (Tb - 1) * S;
  last_beta[S - 1] = logp[(Tb - 1) * C + ext[S - 1]];
  if (S > 1) last_beta[S - 2] = logp[(Tb - 1) * C + ext[S - 2]];
  for (i64 t = Tb - 2; t >= 0; --t) {
    const double* next = beta.data() + (t + 1) * S;
    double* cur = beta.data() + t * S;
    const double* lp = logp.data() + t * C;
    for (i64 s = 0; s < S; ++s) {
      double b = next[s];
      if (s + 1 < S) b = log_add(b, next[s + 1]);
      if (s + 2 < S && can_skip(s + 2)) b = log_add(b, next[s + 2]);
      cur[s] = b == kNegInf ? kNegInf : b + lp[ext[s]];
    }
  }
  const double* last = alpha.data() + (Tb - 1) * S;
  const double loglik = S > 1 ? log_add(last[S - 1], last[S - 2]) : last[S - 1];
  if (loglik == kNegInf) {  // no alignment fits in Tb steps
    *loss = zero_infinity ? T(0) : std::numeric_limits<T>::infinity();
    return;
  }
  *loss = static_cast<T>(-loglik);
  if (!grad) return;
  std::vector<double> occ(static_cast<size_t>(C));
  for (i64 t = 0; t < Tb; ++t) {
    const double* a = alpha.data() + t * S;
    const double* b = beta.data() + t * S;
    const double* lp = logp.data() + t * C;
    std::fill(occ.begin(), occ.end(), kNegInf);
    for (i64 s = 0; s < S; ++s) occ[ext[s]] = log_add(occ[ext[s]], a[s] + b[s]);
    T* g = grad + t * C;
    for (i64 k = 0; k < C; ++k) {
      // alpha + beta counts the emission at t twice: divide it out once.
      const double posterior = occ[k] == kNegInf ? 0.0 : std::exp(occ[k] - lp[k] - loglik);
      g[k] = static_cast<T>(std::exp(lp[k]) - posterior);
    }
  }
}

}  // namespace

template <class T, class I>
void ctc_loss(i64 B, i64 Tmax, i64 C, i64 L, const T* logits, const I* targets,
              const I* target_length, const I* output_length, i64 blank, bool zero_infinity,
              T* loss, T* grad) {
  parallel_for(B, B * Tmax * (C + 4 * L + 2) * 40, [&](i64 b0, i64 b1) {
    std::vector<double> logp, alpha, beta;
    std::vector<i64> ext;
    for (i64 b = b0; b < b1; ++b) {
      ctc_one(Tmax, C, L, logits + b * Tmax * C, targets + b * L,
              static_cast<i64>(target_length[b]), static_cast<i64>(output_length[b]), blank,
              zero_infinity, loss + b, grad ? grad + b * Tmax * C : nullptr, logp, alpha, beta,
              ext);
    }
  });
}

template <class T, class I>
void ctc_beam_search(i64 B, i64 Tmax, i64 C, const T* logits, const I* sequence_length,
                     i64 blank, i64 beam_width, i64 top_paths, bool merge_repeated, i64* paths,
                     T* scores) {
  struct Score {
    double blank = kNegInf, nonblank = kNegInf;
    double total() const { return log_add(blank, nonblank); }
  };
  using Beams = std::map<std::vector<i64>, Score>;
  parallel_for(B, B * Tmax * C * beam_width * 20, [&](i64 b0, i64 b1) {
    std::vector<double> logp;
    for (i64 b = b0; b < b1; ++b) {
      const i64 Tb = static_cast<i64>(sequence_length[b]);
      logp.resize(static_cast<size_t>(std::max<i64>(Tb, 1) * C));
      log_softmax_rows(Tb, C, logits + b * Tmax * C, logp.data());
      Beams beams;
      beams[{}].blank = 0.0;
      for (i64 t = 0; t < Tb; ++t) {
        const double* lp = logp.data() + t * C;
        Beams next;
        for (const auto& [prefix, sc] : beams) {
          const double total = sc.total();
          Score& same = next[prefix];
          same.blank = log_add(same.blank, total + lp[blank]);
          const i64 tail = prefix.empty() ? -1 : prefix.back();
          for (i64 c = 0; c < C; ++c) {
            if (c == blank) continue;
            std::vector<i64> extended = prefix;
            extended.push_back(c);
            Score& ext = next[extended];
            if (merge_repeated && c == tail) {
              // "a a" collapses into "a"; a new "a" needs a blank in between.
              Score& stay = next[prefix];
              stay.nonblank = log_add(stay.nonblank, sc.nonblank + lp[c]);
              ext.nonblank = log_add(ext.nonblank, sc.blank + lp[c]);
            } else {
              ext.nonblank = log_add(ext.nonblank, total + lp[c]);
            }
          }
        }
        // Keep the beam_width best prefixes (ties broken by the prefix order, deterministic).
        std::vector<std::pair<double, const std::vector<i64>*>> ranked;
        ranked.reserve(next.size());
        for (const auto& [prefix, sc] : next) ranked.emplace_back(sc.total(), &prefix);
        const size_t keep = std::min<size_t>(ranked.size(), static_cast<size_t>(beam_width));
        std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(),
                          [](const auto& x, const auto& y) { return x.first > y.first; });
        Beams pruned;
        for (size_t i = 0; i < keep; ++i) pruned.emplace(*ranked[i].second, next[*ranked[i].second]);
        beams.swap(pruned);
      }
      std::vector<std::pair<double, const std::vector<i64>*>> ranked;
      for (const auto& [prefix, sc] : beams) ranked.emplace_back(sc.total(), &prefix);
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& x, const auto& y) { return x.first > y.first; });
      for (i64 p = 0; p < top_paths; ++p) {
        i64* out = paths + (b * top_paths + p) * Tmax;
        std::fill(out, out + Tmax, i64(-1));
        if (p < static_cast<i64>(ranked.size())) {
          const auto& prefix = *ranked[p].second;
          std::copy(prefix.begin(), prefix.end(), out);
          scores[b * top_paths + p] = static_cast<T>(ranked[p].first);
        } else {
          scores[b * top_paths + p] = static_cast<T>(kNegInf);
        }
      }
    }
  });
}

#define LAMINA_INSTANTIATE_CTC(T, I)                                                          \
  template void ctc_loss<T, I>(i64, i64, i64, i64, const T*, const I*, const I*, const I*,   \
                               i64, bool, T*, T*);                                           \
  template void ctc_beam_search<T, I>(i64, i64, i64, const T*, const I*, i64, i64, i64, bool, \
                                      i64*, T*);
LAMINA_INSTANTIATE_CTC(float, std::int32_t)
LAMINA_INSTANTIATE_CTC(float, std::int64_t)
LAMINA_INSTANTIATE_CTC(double, std::int32_t)
LAMINA_INSTANTIATE_CTC(double, std::int64_t)
#undef LAMINA_INSTANTIATE_CTC

}  // namespace lamina
