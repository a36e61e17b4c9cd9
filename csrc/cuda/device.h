// Device queries for lamina._cuda: plain C++ over the CUDA runtime, no pybind11.
#pragma once

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

}  // namespace lamina::cuda
