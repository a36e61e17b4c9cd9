// Memory-overlap checks for entry points that write: an output that shares memory with an input
// (or another output) would make the kernel read what it has already overwritten. Exact aliasing
// is allowed only where a kernel documents in-place operation.
#pragma once

#include <string>

#include "bindings/arrays.h"

namespace lamina::bind {

inline std::int64_t byte_size(const Arr& a) {
  const std::int64_t item = (a.dtype == DType::f64 || a.dtype == DType::i64) ? 8 : 4;
  return a.size() * item;
}

// Whether two validated C-contiguous arrays share any byte.
inline bool overlaps(const Arr& a, const Arr& b) {
  if (!a.data || !b.data || byte_size(a) == 0 || byte_size(b) == 0) return false;
  return a.data < b.data + byte_size(b) && b.data < a.data + byte_size(a);
}

// `out` must not share memory with `other` (absent arrays are ignored).
inline void expect_disjoint(const Arr& out, const Arr& other, const char* where, const char* name,
                            const char* other_name) {
  if (overlaps(out, other)) {
    fail_value(where, name, std::string("must not share memory with '") + other_name + "'");
  }
}

// `out` may be exactly `other` (in place) but must not overlap it otherwise.
inline void expect_same_or_disjoint(const Arr& out, const Arr& other, const char* where,
                                    const char* name, const char* other_name) {
  if (out.data == other.data && byte_size(out) == byte_size(other)) return;
  if (overlaps(out, other)) {
    fail_value(where, name, std::string("may be the same array as '") + other_name +
                                "' (in place) but must not partially overlap it");
  }
}

}  // namespace lamina::bind
