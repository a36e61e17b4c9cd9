// Reductions along one axis of a C-contiguous array viewed as (outer, n, inner):
//   out[o, j] = sum_k x[o, k, j]    (reduce_sum; divided by n when `mean`)
//   out[o, j] = max_k x[o, k, j]    (reduce_max; NaN propagates as in numpy; n >= 1)
// out is C-contiguous (outer, inner) and ASSIGNED.
//
// Summation: float32 and float64 both accumulate in float64, in vector-lane partial sums over
// blocks of at most 4096 terms whose sums are then added, so the float32 result is the correctly
// rounded sum for all practical sizes and float64 loses ~log(n) bits at worst. The order depends
// on the ISA and the thread split (deterministic for a given ISA and thread count).
#pragma once

#include <cstdint>

namespace lamina {

template <class T>
void reduce_sum(const T* x, T* out, std::int64_t outer, std::int64_t n, std::int64_t inner,
                bool mean);

template <class T>
void reduce_max(const T* x, T* out, std::int64_t outer, std::int64_t n, std::int64_t inner);

}  // namespace lamina
