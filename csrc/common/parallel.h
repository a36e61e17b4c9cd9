// Threading policy for the portable drivers (not for csrc/cpu/simd, which holds no templates).
//
// An OpenMP fork/join costs about 0.6 us while the workers spin and about 40 us once they sleep
// (measured on the 2-core dev machine). Work of a few microseconds therefore runs on the calling
// thread: callers pass an estimate of the work (flops or bytes touched) and parallel_for only
// opens a parallel region above kParallelWorkThreshold.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace lamina {

// ~50 us of single-core work at a few GFLOP/s: below this a fork/join cannot pay for itself.
constexpr std::int64_t kParallelWorkThreshold = 200000;

inline int max_threads() { return omp_get_max_threads(); }

// Calls fn(begin, end) over contiguous chunks of [0, n), one per thread, in parallel when `work`
// (a cost estimate for the whole range) is large enough and there is more than one thread.
// Chunks are static and deterministic: the same n and thread count split the same way.
template <class Fn>
void parallel_for(std::int64_t n, std::int64_t work, Fn&& fn) {
  if (n <= 0) return;
  const int threads = static_cast<int>(std::min<std::int64_t>(max_threads(), n));
  if (threads <= 1 || work < kParallelWorkThreshold) {
    fn(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const std::int64_t chunk = (n + nt - 1) / nt;
    const std::int64_t begin = std::min<std::int64_t>(n, chunk * t);
    const std::int64_t end = std::min<std::int64_t>(n, begin + chunk);
    if (begin < end) fn(begin, end);
  }
}

}  // namespace lamina
