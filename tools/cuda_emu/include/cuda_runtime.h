// A CPU stand-in for the device half of CUDA: kernel qualifiers, threadIdx and friends,
// __syncthreads, __shfl_xor_sync, atomicMin and the launch that csrc/cuda/launch.h calls in
// place of <<<...>>> when LAMINA_CUDA_EMULATION is defined. tools/cuda_emu/runtime.cpp runs the
// kernels; tools/cuda_emu/README.md says what this proves and what it cannot.
//
// What is emulated:
//   * Every CUDA thread of a block runs as a fiber (its own stack) on one OS thread; a block's
//     fibers take turns, switching only at __syncthreads and __shfl_xor_sync, and a thread that
//     returns stops counting at later __syncthreads. Blocks run in any order, spread over a few
//     OS threads (LAMINA_CUDA_EMU_THREADS, default one per core; 1 makes runs reproducible).
//   * __shared__ variables are per OS thread, hence shared by the block running there; they keep
//     the previous block's values instead of starting undefined.
//   * Launches check CUDA's limits on the grid and block shapes (1024 threads per block, grid y
//     and z up to 65535, 48 KiB of dynamic shared memory) and fail as CUDA does, through
//     cudaGetLastError().
//   * A block that cannot go on (threads waiting at __syncthreads while others wait at a
//     shuffle, a shuffle missing lanes that returned) aborts the process with a message naming
//     the kernel and the block, where a GPU would hang or read garbage.
//
// What is not:
//   * Warp scheduling: lanes never run in lockstep, so code that needs it would fail here (as it
//     may on Volta and later), and the switches happen at barriers only, so the interleavings a
//     GPU produces between two barriers are not explored.
//   * The memory model: within a block the fibers are sequentially consistent, and blocks on
//     different OS threads race only as the host's memory model allows; missing fences, missing
//     volatile and most data races between barriers go unnoticed.
//   * Everything else of a real device: register and static shared memory limits, occupancy,
//     timing, alignment faults, out-of-bounds accesses (they read or write host memory and
//     usually pass unnoticed), nvcc's floating point (FMA contraction, its math functions), and
//     streams (every launch finishes before it returns).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>

// CUDA's math functions (sqrt, expf, ... overloaded for float and double in the global
// namespace) are the host C library's here: libstdc++'s <math.h> brings the overloads too.
#include <math.h>

#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local

// The running thread's coordinates, set by the emulator before it resumes a fiber.
extern thread_local uint3 threadIdx, blockIdx, blockDim, gridDim;

namespace cuda_emu {

// Runs thread_body(closure) once for every thread of `grid` x `block`, then returns. On a shape
// CUDA would refuse, sets cudaGetLastError()'s error and runs nothing. `name` is for messages.
void run_grid(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes,
              void (*thread_body)(const void*), const void* closure);

// __syncthreads of the calling fiber's block.
void sync_block();

// The value `bits` of lane (lane ^ lane_mask) of the calling fiber's warp; every lane of a full
// warp must call it with mask 0xffffffff.
std::uint64_t shuffle_xor(unsigned mask, std::uint64_t bits, int lane_mask);

// kernel<<<grid, block, shared_bytes, stream>>>(args...), finished on return. The arguments are
// converted to the kernel's parameter types once, as a launch copies them to the device.
template <class... KernelArgs, class... Args>
void launch(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t,
            void (*kernel)(KernelArgs...), Args... args) {
  struct Closure {
    void (*kernel)(KernelArgs...);
    std::tuple<KernelArgs...> params;
  };
  const Closure closure{kernel, std::tuple<KernelArgs...>(args...)};
  run_grid(name, grid, block, shared_bytes,
           [](const void* c) {
             const Closure& cl = *static_cast<const Closure*>(c);
             std::apply(cl.kernel, cl.params);
           },
           &closure);
}

}  // namespace cuda_emu

inline void __syncthreads() { cuda_emu::sync_block(); }

template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffles move at most 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = cuda_emu::shuffle_xor(mask, bits, lane_mask);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// Atomic between blocks, which may run at the same time on different OS threads.
inline unsigned long long atomicMin(unsigned long long* address, unsigned long long value) {
  unsigned long long old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (value < old &&
         !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}
