// Portable driver for the reductions: blocks columns (so the accumulators stay in L1), blocks
// long sums (for accuracy, see reduce.h) and threads over (outer, column block) tasks, or splits
// the reduced axis between threads when there are fewer tasks than threads (a full sum, or the
// column sums of a tall matrix such as a dense layer's bias gradient).
#include "cpu/reduce.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "cpu/reduce_kernels.h"

namespace lamina {

namespace {

using i64 = std::int64_t;

constexpr i64 kSumBlock = 4096;    // terms summed in vector lanes before block sums are added
constexpr i64 kColumnBlock = 256;  // columns per task: 2 KB of float64 accumulators

template <class T>
const ReduceKernelsFor<T>& kernels();

template <>
const ReduceKernelsFor<float>& kernels<float>() {
  return LAMINA_KERNEL_TABLE(reduce_kernels).f32;
}

template <>
const ReduceKernelsFor<double>& kernels<double>() {
  return LAMINA_KERNEL_TABLE(reduce_kernels).f64;
}

// Runs span(o, j0, width, k0, k1, acc) for every (outer index, column block) and, when the
// reduced axis is split between threads, merges the partial results with combine(a, b) in a
// fixed order; finish(i, acc) writes out[i] (i = o * inner + j).
template <class Acc, class Span, class Combine, class Finish>
void reduce_axis(i64 outer, i64 n, i64 inner, Span span, Combine combine, Finish finish) {
  const i64 jblocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const i64 tasks = outer * jblocks;
  const i64 work = outer * n * inner;
  const i64 threads = max_threads();
  const i64 splits =
      (tasks < threads && work >= kParallelWorkThreshold && n >= 2 * threads) ? threads : 1;
  std::vector<Acc> partial(splits > 1 ? splits * outer * inner : 0);
  parallel_for(tasks * splits, work, [&](i64 begin, i64 end) {
    Acc acc[kColumnBlock];
    for (i64 item = begin; item < end; ++item) {
      const i64 s = item % splits, task = item / splits;
      const i64 o = task / jblocks, j0 = (task % jblocks) * kColumnBlock;
      const i64 width = std::min(kColumnBlock, inner - j0);
      span(o, j0, width, n * s / splits, n * (s + 1) / splits, acc);
      const i64 at = o * inner + j0;
      for (i64 j = 0; j < width; ++j) {
        if (splits == 1) finish(at + j, acc[j]);
        else partial[s * outer * inner + at + j] = acc[j];
      }
    }
  });
  if (splits == 1) return;
  for (i64 i = 0; i < outer * inner; ++i) {
    Acc a = partial[i];
    for (i64 s = 1; s < splits; ++s) a = combine(a, partial[s * outer * inner + i]);
    finish(i, a);
  }
}

}  // namespace

template <class T>
void reduce_sum(const T* x, T* out, i64 outer, i64 n, i64 inner, bool mean) {
  const auto& k = kernels<T>();
  auto span = [&](i64 o, i64 j0, i64 width, i64 k0, i64 k1, double* acc) {
    const T* base = x + o * n * inner + j0;
    if (inner == 1) {
      double s = 0.0;
      for (i64 b = k0; b < k1; b += kSumBlock) s += k.sum(base + b, std::min(kSumBlock, k1 - b));
      acc[0] = s;
      return;
    }
    if (k1 - k0 <= kSumBlock) {
      k.sum_columns(base + k0 * inner, k1 - k0, inner, width, acc);
      return;
    }
    double block[kColumnBlock];
    std::fill(acc, acc + width, 0.0);
    for (i64 b = k0; b < k1; b += kSumBlock) {
      k.sum_columns(base + b * inner, std::min(kSumBlock, k1 - b), inner, width, block);
      for (i64 j = 0; j < width; ++j) acc[j] += block[j];
    }
  };
  auto combine = [](double a, double b) { return a + b; };
  // mean over an empty axis is 0/0 = NaN, as in numpy.
  auto finish = [&](i64 i, double s) { out[i] = static_cast<T>(mean ? s / double(n) : s); };
  reduce_axis<double>(outer, n, inner, span, combine, finish);
}

template <class T>
void reduce_max(const T* x, T* out, i64 outer, i64 n, i64 inner) {
  const auto& k = kernels<T>();
  auto span = [&](i64 o, i64 j0, i64 width, i64 k0, i64 k1, T* acc) {
    const T* base = x + o * n * inner + j0;
    if (inner == 1) {
      acc[0] = k.max(base + k0, k1 - k0);
      return;
    }
    std::fill(acc, acc + width, -std::numeric_limits<T>::infinity());
    k.max_columns(base + k0 * inner, k1 - k0, inner, width, acc);
  };
  auto combine = [](T a, T b) { return (b > a || b != b) ? b : a; };
  auto finish = [&](i64 i, T m) { out[i] = m; };
  reduce_axis<T>(outer, n, inner, span, combine, finish);
}

template void reduce_sum<float>(const float*, float*, i64, i64, i64, bool);
template void reduce_sum<double>(const double*, double*, i64, i64, i64, bool);
template void reduce_max<float>(const float*, float*, i64, i64, i64);
template void reduce_max<double>(const double*, double*, i64, i64, i64);

}  // namespace lamina
