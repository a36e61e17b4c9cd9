// Argument checking for lamina._cuda: reads cupy arrays (any object exposing
// __cuda_array_interface__, versions 0-3) into the same validated view the CPU bindings use
// (bindings/arrays.h's Arr), so every check and message is shared with lamina._cpu:
// "[gemm] argument 'b': expected shape (3, 4), got (3, 5)".
//
// Validation reads only the interface dict (typestr, shape, strides, data, mask); it makes no
// CUDA call, so a bad argument is reported before anything touches the device (the GPU-less
// tests rely on this with fake interface objects). The arrays' device is not checked: the
// caller (lamina.device / cupy) makes the arrays' device current.
#pragma once

#include <cuda_runtime_api.h>

#include "bindings/arrays.h"

namespace lamina::bind {

// Arr plus storage for the shape and strides it points to (copies re-point at their own).
struct DevArr : Arr {
  static constexpr int kMaxDims = 32;
  py::ssize_t dims[kMaxDims] = {};
  py::ssize_t byte_strides[kMaxDims] = {};

  DevArr() = default;
  DevArr(const DevArr& other) : Arr(other) { copy_storage(other); }
  DevArr& operator=(const DevArr& other) {
    Arr::operator=(other);
    copy_storage(other);
    return *this;
  }

 private:
  void copy_storage(const DevArr& other) {
    for (int i = 0; i < kMaxDims; ++i) {
      dims[i] = other.dims[i];
      byte_strides[i] = other.byte_strides[i];
    }
    shape = dims;
    strides = byte_strides;
  }
};

// Validates `obj` as a device array: float32/float64/int32/int64, aligned, writeable if
// `access` is kWrite, laid out as `layout` asks. TypeError for an object without the
// interface (a numpy array, say) or an unsupported dtype (named against `accept`); ValueError
// for a bad layout.
DevArr device_array_arg(py::handle obj, const char* where, const char* name, Access access = kRead,
                        Layout layout = kContiguous, Accept accept = kAnyDType);
// Same, but None gives a DevArr with present() == false.
DevArr optional_device_array_arg(py::handle obj, const char* where, const char* name,
                                 Access access = kRead, Layout layout = kContiguous,
                                 Accept accept = kAnyDType);

// The `stream` argument: a cudaStream_t as an integer (cupy's Stream.ptr; 0 = legacy default).
inline cudaStream_t stream_arg(std::uintptr_t stream) {
  return reinterpret_cast<cudaStream_t>(stream);
}

}  // namespace lamina::bind
