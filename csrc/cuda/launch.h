// The one launch helper of lamina._cuda (included by .cu files only).
//
// Every kernel goes through launch(): it skips empty grids, launches on the caller's stream and
// checks cudaGetLastError() right after, so a bad configuration (too many threads, too much
// shared memory, no kernel image for this GPU) raises std::runtime_error naming the kernel
// instead of failing silently. Errors of the kernel's execution are asynchronous: they surface
// at the next check of any later call (or at cupy's next synchronisation), not here.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace lamina::cuda {

// Throws std::runtime_error "[where] what: cudaErrorX (description)" unless err is cudaSuccess.
inline void check_cuda(cudaError_t err, const char* where, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  throw std::runtime_error(std::string("[") + where + "] " + what + ": " + cudaGetErrorName(err) +
                           " (" + cudaGetErrorString(err) + ")");
}

// Threads per block of the element-wise and warp-per-row kernels.
constexpr int kBlockThreads = 256;
constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;

// Grid-stride kernels never get more than this many blocks: 8192 blocks of 256 threads are
// 2M threads, more than any current GPU keeps resident (H100: 132 SMs x 2048), so every
// thread still has work and the grid size stays far below gridDim.x's limit.
constexpr std::int64_t kMaxGridStrideBlocks = 8192;

// Blocks for a grid-stride loop over `items` work items handled `per_block` at a time
// (threads for element-wise kernels, warps for warp-per-row kernels). 0 when there is no work.
inline unsigned grid_stride_blocks(std::int64_t items, std::int64_t per_block) {
  if (items <= 0) return 0;
  const std::int64_t blocks = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(blocks < kMaxGridStrideBlocks ? blocks : kMaxGridStrideBlocks);
}

// Launches `kernel` with `grid` x `block` threads and `shared_bytes` of dynamic shared memory
// on `stream`, then checks the launch. `name` is the kernel's name (it ends in _kernel) for the
// message. An empty grid launches nothing.
template <class... KernelArgs, class... Args>
void launch(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes,
            cudaStream_t stream, void (*kernel)(KernelArgs...), Args... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
#ifdef LAMINA_CUDA_EMULATION
  // tools/cuda_emu: g++ builds this file against a CPU stand-in for CUDA, which has no <<<>>>.
  cuda_emu::launch(name, grid, block, shared_bytes, stream, kernel, args...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
#endif
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("[") + name + "] launch failed (grid " +
                             std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" +
                             std::to_string(grid.z) + ", block " + std::to_string(block.x) +
                             "): " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                             "; may also be an earlier kernel's asynchronous error)");
  }
}

// A stream-ordered scratch allocation (cudaMallocAsync from the device's default pool), freed
// on `stream` when it goes out of scope, so kernels queued before the free may still use it.
// For the few bytes the kernels need beyond the caller's arrays (label flags, tensor tables).
class StreamScratch {
 public:
  StreamScratch(std::size_t bytes, cudaStream_t stream, const char* where) : stream_(stream) {
    check_cuda(cudaMallocAsync(&ptr_, bytes, stream), where, "cudaMallocAsync of scratch");
  }
  ~StreamScratch() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);  // an error here cannot be reported from a destructor
  }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

// Warp-wide reductions: every lane of a full warp must call them (loops around them are
// warp-uniform in the kernels that use them); every lane gets the result.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

// Maximum in the CPU kernels' sense: a NaN on either side wins, so NaN propagates.
template <class T>
__device__ __forceinline__ T nan_max(T a, T b) {
  return (b > a || b != b) ? b : a;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

}  // namespace lamina::cuda
