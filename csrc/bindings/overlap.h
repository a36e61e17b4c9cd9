// Memory-overlap checks for entry points that write: an output that shares memory with an input
// (or another output) would make the kernel read what it has already overwritten. Exact aliasing
// is allowed only where a kernel documents in-place operation.
//
// Arrays here went through array_arg / device_array_arg, so each is C-contiguous or a 2-D
// row-strided view (unit stride along the last axis, row stride >= row length): a column slice of
// a C-contiguous matrix, as gemm accepts. Two such views overlap exactly when some element of one
// shares a byte with some element of the other; column slices of one buffer that do not meet pass.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "bindings/arrays.h"

namespace lamina::bind {

inline std::int64_t item_size(const Arr& a) {
  return (a.dtype == DType::f64 || a.dtype == DType::i64) ? 8 : 4;
}

// Whether the byte ranges [a, a + a_bytes) and [b, b + b_bytes) meet.
inline bool ranges_overlap(const char* a, std::int64_t a_bytes, const char* b,
                           std::int64_t b_bytes) {
  return a && b && a_bytes > 0 && b_bytes > 0 && a < b + b_bytes && b < a + a_bytes;
}

// Rows, bytes per row and row stride in bytes of `a` seen as rows over its last axis (a
// C-contiguous array is one row of all its bytes unless it is a 2-D view with a row stride).
struct RowBytes {
  std::int64_t rows, width, stride;
};

inline RowBytes row_bytes(const Arr& a) {
  if (a.ndim == 2 && a.dim(0) > 1) {
    return {a.dim(0), a.dim(1) * item_size(a), static_cast<std::int64_t>(a.strides[0])};
  }
  const std::int64_t bytes = a.size() * item_size(a);
  return {1, bytes, bytes};
}

// Whether two validated arrays share any byte.
inline bool overlaps(const Arr& a, const Arr& b) {
  if (!a.data || !b.data || a.size() == 0 || b.size() == 0) return false;
  const RowBytes ra = row_bytes(a), rb = row_bytes(b);
  const std::int64_t span_a = (ra.rows - 1) * ra.stride + ra.width;
  const std::int64_t span_b = (rb.rows - 1) * rb.stride + rb.width;
  const std::int64_t d = static_cast<std::int64_t>(b.data - a.data);  // b's start from a's
  if (d >= span_a || -d >= span_b) return false;  // the byte ranges do not meet
  // Both on one row grid of stride L (one of them may be a single row that fits in a row):
  // b's row j covers [r, r + wb) of grid row q + j, spilling into row q + j + 1 when r + wb > L;
  // a covers [0, wa) of grid rows 0 .. ra - 1.
  const std::int64_t L = ra.rows > 1 ? ra.stride : rb.stride;
  const bool one_grid = (ra.rows == 1 || rb.rows == 1 || ra.stride == rb.stride) &&
                        ra.width <= L && rb.width <= L && (ra.rows > 1 || rb.rows > 1);
  if (!one_grid) return true;  // conservative: the byte ranges meet
  const std::int64_t q = d >= 0 ? d / L : -((-d + L - 1) / L);  // floor(d / L)
  const std::int64_t r = d - q * L;                               // in [0, L)
  const bool same_row = r < ra.width && q < ra.rows && q + rb.rows > 0;
  const bool next_row = r + rb.width > L && q + 1 < ra.rows && q + 1 + rb.rows > 0;
  return same_row || next_row;
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
  if (out.data == other.data && out.size() * item_size(out) == other.size() * item_size(other)) {
    return;
  }
  if (overlaps(out, other)) {
    fail_value(where, name, std::string("may be the same array as '") + other_name +
                                "' (in place) but must not partially overlap it");
  }
}

// An argument and its name, for expect_all_disjoint.
struct Named {
  const Arr& array;
  const char* name;
};

// Every output is disjoint from every input and from every other output (absent ones skipped):
// the usual contract of an entry that reads its inputs while it writes its outputs.
inline void expect_all_disjoint(const char* where, std::initializer_list<Named> outputs,
                                std::initializer_list<Named> inputs) {
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    for (const Named& in : inputs) expect_disjoint(out->array, in.array, where, out->name, in.name);
    for (auto other = std::next(out); other != outputs.end(); ++other) {
      expect_disjoint(other->array, out->array, where, other->name, out->name);
    }
  }
}

// The byte ranges of one tensor's arrays in a multi-tensor update (weights, gradient and up to
// three states; null where absent), C-contiguous and all of `bytes` bytes.
struct TensorBuffers {
  std::array<const char*, 5> starts;
  std::int64_t bytes;
};

// No two arrays of one tensor share memory (an elementwise update through restrict pointers).
// name(k, i) names array k of tensor i for the message ("grads[3]").
template <class NameFn>
void expect_buffers_disjoint(const char* where, const std::vector<TensorBuffers>& buffers,
                             std::size_t arrays, NameFn&& name) {
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const TensorBuffers& b = buffers[i];
    for (std::size_t x = 1; x < arrays; ++x) {
      for (std::size_t y = 0; y < x; ++y) {
        if (ranges_overlap(b.starts[x], b.bytes, b.starts[y], b.bytes)) {
          fail_value(where, name(x, i).c_str(), "must not share memory with '" + name(y, i) + "'");
        }
      }
    }
  }
}

}  // namespace lamina::bind
