// Device queries for lamina._cuda: plain C++ over the CUDA runtime, no pybind11.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace lamina::cuda {

// Number of visible CUDA devices; 0 (never an error) when there is no driver or no GPU.
int device_count();

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  int multiprocessors = 0;
  long long total_memory = 0;
};

// Throws std::runtime_error with the CUDA error string if `device` cannot be queried.
DeviceInfo device_info(int device);

// The CUDA runtime version this module was built with, as major * 1000 + minor * 10.
int runtime_version();

// Copies `bytes` of device memory at `src` to host memory at `dst` once the work queued on
// `stream` before it is done, and waits: this SYNCHRONISES `stream`. For the few values a
// binding checks on the host before it queues a kernel (CTC lengths and labels). Throws
// std::runtime_error "[where] ..." on a CUDA error.
void copy_to_host(void* dst, const void* src, std::size_t bytes, cudaStream_t stream,
                  const char* where);

}  // namespace lamina::cuda
