// A CPU stand-in for the host half of the CUDA runtime API, just what csrc/cuda and
// csrc/bindings/cuda*.cpp call, so that lamina._cuda compiles with g++ and runs on a machine
// without a GPU (tools/cuda_emu/README.md). Not NVIDIA's header: a name lamina starts to use
// fails to compile here until it is added.
//
// "Device" memory is host memory (malloc), so a kernel dereferences it directly. Streams do not
// exist: every call, launches included, has finished when it returns, so stream ordering always
// holds and nothing overlaps. New allocations are filled with 0x7f bytes (a float of 3.4e38, a
// double of 1.4e306) so that a kernel reading scratch it never wrote gets garbage, not zeros.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <thread>

#define CUDART_VERSION 12000

// CUDA's built-in vector types: threadIdx and blockIdx are uint3, launch shapes dim3.
struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
};

struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  std::size_t totalGlobalMem;
};

namespace cuda_emu {
// The error cudaGetLastError() returns and clears: set by a launch that breaks CUDA's limits.
inline thread_local cudaError_t last_error = cudaSuccess;
}  // namespace cuda_emu

inline const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
  }
  return "cudaErrorUnknown";
}

inline const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument (CPU emulation)";
    case cudaErrorMemoryAllocation: return "out of memory (CPU emulation)";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (CPU emulation)";
  }
  return "unknown error (CPU emulation)";
}

inline cudaError_t cudaGetLastError() {
  const cudaError_t err = cuda_emu::last_error;
  cuda_emu::last_error = cudaSuccess;
  return err;
}

inline cudaError_t cudaMallocAsync(void** ptr, std::size_t bytes, cudaStream_t) {
  *ptr = std::malloc(bytes ? bytes : 1);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  std::memset(*ptr, 0x7f, bytes);
  return cudaSuccess;
}

inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  std::free(ptr);
  return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind,
                                   cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

inline cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

// One emulated device, so lamina.cuda.is_available() is true without patching.
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  std::memset(prop, 0, sizeof(*prop));
  std::strncpy(prop->name, "lamina CUDA emulation on the CPU", sizeof(prop->name) - 1);
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = static_cast<int>(std::thread::hardware_concurrency());
  prop->totalGlobalMem = std::size_t{1} << 32;
  return cudaSuccess;
}
