// Argument checking for the pybind11 bindings: the only place where a Python object becomes a raw
// pointer. Every entry point takes generic py::handle arguments and validates them with these
// helpers (0.24 us for three arrays, against 0.89 us for py::array_t + request() measured on the
// dev machine), so that a bad call raises a Python TypeError/ValueError naming the entry point,
// the argument and the shapes, and never reaches a kernel.
//
// Messages read: "[dense_forward] argument 'w': expected shape (64, 10), got (64, 9)".
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace lamina::bind {

namespace py = pybind11;

enum class DType { f32, f64, i32, i64, other };

const char* dtype_name(DType dt);

// A validated numpy array: its data pointer, shape, and (for 2-D arrays that allow it) row stride.
struct Arr {
  py::handle obj;  // borrowed: the caller's argument keeps the array alive for the call
  char* data = nullptr;
  int ndim = 0;
  const py::ssize_t* shape = nullptr;
  const py::ssize_t* strides = nullptr;
  DType dtype = DType::other;

  bool present() const { return data != nullptr || obj.ptr() != nullptr; }
  std::int64_t dim(int i) const { return static_cast<std::int64_t>(shape[i]); }
  std::int64_t size() const;
  // Elements between consecutive rows of a 2-D array (the BLAS leading dimension).
  std::int64_t row_stride() const;
  template <class T>
  T* ptr() const { return reinterpret_cast<T*>(data); }
};

enum Access { kRead = 0, kWrite = 1 };
enum Layout {
  kContiguous = 0,  // C-contiguous
  kRowStrided = 1,  // 2-D, unit stride along the last axis, any row stride >= columns (lda)
};

// Which dtypes an argument takes, for the message when it holds none of lamina's four (so that
// uint8 labels read "expected dtype int32 or int64, got uint8", not a list of float types). The
// entry point still checks the exact dtype it needs (expect_float, expect_index, expect_dtype).
enum Accept {
  kAnyDType = 0,    // float32, float64, int32 or int64
  kFloatDType = 1,  // float32 or float64
  kIndexDType = 2,  // int32 or int64
};

// "unsupported dtype float16 (expected float32 or float64)" for `accept`.
std::string unsupported_dtype(const std::string& dtype, Accept accept);

// Validates `obj` as a numpy array: aligned, writeable if `access` is kWrite, laid out as
// `layout` asks, of one of lamina's dtypes. Raises TypeError for a non-array or another dtype
// and ValueError for a bad layout.
Arr array_arg(py::handle obj, const char* where, const char* name, Access access = kRead,
              Layout layout = kContiguous, Accept accept = kAnyDType);
// Same, but None gives an Arr with present() == false.
Arr optional_array_arg(py::handle obj, const char* where, const char* name,
                       Access access = kRead, Layout layout = kContiguous,
                       Accept accept = kAnyDType);

std::string shape_string(const Arr& a);

// How a module reads an array argument: array_arg here (lamina._cpu), device_array_arg in
// cuda_arrays.h (lamina._cuda). The checks the two modules share (rnn_args.h, conv_args.h, ...)
// are templates over the reader, so both run the same checks and raise the same messages.
template <class A>
using ArrayReader = A (*)(py::handle, const char*, const char*, Access, Layout, Accept);

// Read(obj, ...) with the readers' defaults.
template <class A, ArrayReader<A> Read>
A read_array(py::handle obj, const char* where, const char* name, Access access = kRead,
             Layout layout = kContiguous, Accept accept = kAnyDType) {
  return Read(obj, where, name, access, layout, accept);
}

// Same, but None gives an absent array (present() == false).
template <class A, ArrayReader<A> Read>
A read_optional(py::handle obj, const char* where, const char* name, Access access = kRead,
                Layout layout = kContiguous, Accept accept = kAnyDType) {
  if (obj.is_none()) return A{};
  return Read(obj, where, name, access, layout, accept);
}

// Raise with the "[where] argument 'name': ..." prefix.
[[noreturn]] void fail_value(const char* where, const char* name, const std::string& what);
[[noreturn]] void fail_type(const char* where, const char* name, const std::string& what);

void expect_ndim(const Arr& a, int ndim, const char* where, const char* name);
// Exact shape; -1 in `shape` matches any extent.
void expect_shape(const Arr& a, std::initializer_list<std::int64_t> shape, const char* where,
                  const char* name);
// Same shape as `ref` (named ref_name in the message).
void expect_same_shape(const Arr& a, const Arr& ref, const char* where, const char* name,
                       const char* ref_name);
void expect_dtype(const Arr& a, DType dt, const char* where, const char* name);
// float32 or float64.
void expect_float(const Arr& a, const char* where, const char* name);
// int32 or int64.
void expect_index(const Arr& a, const char* where, const char* name);

// Releases the GIL for a kernel call (RAII, like py::gil_scoped_release) when the kernel runs
// long enough for another Python thread to use the time. A release and re-acquire cost ~0.2 us on
// the dev machine (a 1x1x1 gemm call: 593 -> 380 ns without it), a third of a small kernel's whole
// call, while a thread kept waiting for a few microseconds loses nothing it could have used.
// Thresholds: kGilMinMacs multiply-adds (64^3, ~3-5 us) or kGilMinElements elements of
// elementwise work (~5-15 us).
constexpr std::int64_t kGilMinMacs = std::int64_t{1} << 18;
constexpr std::int64_t kGilMinElements = std::int64_t{1} << 14;
class GilRelease {
 public:
  explicit GilRelease(bool release) {
    if (release) nogil_.emplace();
  }

 private:
  std::optional<py::gil_scoped_release> nogil_;
};

// Calls fn(T{}) with T = float or double according to `dt` (already checked to be a float type).
template <class Fn>
decltype(auto) dispatch_float(DType dt, Fn&& fn) {
  if (dt == DType::f64) return fn(double{});
  return fn(float{});
}

// Calls fn(I{}) with I = int32_t or int64_t according to `dt` (already checked to be an index).
template <class Fn>
decltype(auto) dispatch_index(DType dt, Fn&& fn) {
  if (dt == DType::i64) return fn(std::int64_t{});
  return fn(std::int32_t{});
}

}  // namespace lamina::bind
