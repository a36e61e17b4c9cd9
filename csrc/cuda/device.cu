#include <cuda_runtime.h>

#include <stdexcept>

#include "cuda/device.h"
#include "cuda/launch.h"

namespace lamina::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp prop{};
  const cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("[cuda.device_info] device ") + std::to_string(device) +
                             ": " + cudaGetErrorString(err));
  }
  DeviceInfo info;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = static_cast<long long>(prop.totalGlobalMem);
  return info;
}

int runtime_version() { return CUDART_VERSION; }

void copy_to_host(void* dst, const void* src, std::size_t bytes, cudaStream_t stream,
                  const char* where) {
  if (bytes == 0) return;
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), where,
             "copying to the host");
  check_cuda(cudaStreamSynchronize(stream), where, "waiting for the copy to the host");
}

}  // namespace lamina::cuda
