// The kernel launch of the CUDA emulation (include/cuda_runtime.h says what is emulated).
//
// A block runs on one OS thread as one fiber per CUDA thread (a 256 KiB stack each, above a
// guard page). A round-robin scheduler resumes every fiber that is not waiting; a fiber runs
// until it waits at a barrier (__syncthreads: the block's, __shfl_xor_sync: its warp's) or
// returns. Fibers and stacks are reused from block to block. Blocks are spread over a pool of
// OS threads, the caller included, taking the next block index from a shared counter.
//
// Costs, tests/test_cuda*.py on two cores: an OS thread per CUDA thread (the first version)
// had done 60% of them after 4 minutes, most of it in the operating system; fibers on ucontext
// took 61 s, half of it in the signal-mask system call of every swapcontext; switch_stack below,
// which swaps only the registers a call must preserve, takes 11 s. Other CPUs use ucontext.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_runtime.h"

#if defined(__x86_64__) && !defined(CUDA_EMU_UCONTEXT)
#define CUDA_EMU_SWITCH_STACK 1
#else
#include <ucontext.h>
#endif

thread_local uint3 threadIdx, blockIdx, blockDim, gridDim;

namespace cuda_emu {
namespace {

// ---------------------------------------------------------------------------------------------
// Execution contexts: start(c, stack, entry) makes c run entry() on the stack when switched to;
// switch_to(from, to) saves the running context in `from` and resumes `to`.
// ---------------------------------------------------------------------------------------------
#if CUDA_EMU_SWITCH_STACK
// switch_stack(save, load): pushes the registers the SysV ABI makes callee-saved, stores the
// stack pointer in *save, loads `load` and pops the same registers from there. MXCSR and the x87
// control word are callee-saved too, but every fiber of an OS thread shares them, unchanged.
extern "C" void cuda_emu_switch_stack(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .hidden cuda_emu_switch_stack
  .globl cuda_emu_switch_stack
  .type cuda_emu_switch_stack, @function
cuda_emu_switch_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_emu_switch_stack, .-cuda_emu_switch_stack
)");

struct Context {
  void* sp = nullptr;
};

// A stack that switch_stack resumes by popping six zero registers and returning into entry,
// with the stack aligned as at a function's entry (rsp + 8 a multiple of 16).
void start(Context& c, void* stack, std::size_t bytes, void (*entry)()) {
  void** sp = reinterpret_cast<void**>(
      (reinterpret_cast<std::uintptr_t>(stack) + bytes) & ~std::uintptr_t{15});
  *--sp = nullptr;  // entry's return address: it never returns
  *--sp = reinterpret_cast<void*>(entry);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  c.sp = sp;
}

void switch_to(Context& from, Context& to) { cuda_emu_switch_stack(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc;
};

void start(Context& c, void* stack, std::size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;  // entry never returns
  makecontext(&c.uc, entry, 0);
}

void switch_to(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------
constexpr unsigned kWarpSize = 32;
constexpr std::size_t kStackBytes = 256 * 1024;  // kernels compiled at -O1 use a few KiB
constexpr unsigned kMaxBlockThreads = 1024;
constexpr std::size_t kMaxDynamicSharedBytes = 48 * 1024;

// A reusable barrier: `expected` arrivals release it and bump `generation`.
struct Barrier {
  unsigned expected = 0;
  unsigned arrived = 0;
  std::uint64_t generation = 0;
};

struct Fiber {
  Context context;
  void* stack = nullptr;  // kStackBytes above a guard page, kept for the life of the process
  uint3 index{};
  unsigned linear = 0;
  Barrier* waiting_on = nullptr;  // released when its generation moves past waiting_generation
  std::uint64_t waiting_generation = 0;
  unsigned shuffles = 0;  // how many shuffles this lane has done; its parity picks the buffer
  bool exited = false;
};

struct Warp {
  Barrier barrier;
  // Lane values of a shuffle. Two buffers, alternating, so a lane that leaves one shuffle and
  // enters the next cannot overwrite a value a slower lane has still to read: writing the same
  // buffer again needs every lane at the barrier in between.
  std::uint64_t exchange[2][kWarpSize];
};

// The block running on this OS thread (each pool thread and each launching thread has one).
struct Block {
  const char* kernel = nullptr;
  void (*body)(const void*) = nullptr;
  const void* closure = nullptr;
  std::vector<Fiber> fibers;  // the first `threads` run this block, the rest are spare
  unsigned threads = 0;
  std::vector<Warp> warps;
  Barrier barrier;
  Context scheduler;
  Fiber* current = nullptr;
};

thread_local Block tls_block;

[[noreturn]] void fail(const Block& b, const std::string& what) {
  static std::mutex one_message;  // the first failing block speaks, the others wait for the end
  one_message.lock();
  std::fflush(stdout);
  std::fprintf(stderr, "[cuda_emu] %s, block (%u, %u, %u): %s\n", b.kernel, blockIdx.x,
               blockIdx.y, blockIdx.z, what.c_str());
  std::fflush(stderr);
  std::abort();
}

void* new_stack() {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED || mprotect(p, page, PROT_NONE) != 0) {
    std::perror("[cuda_emu] fiber stack");
    std::abort();
  }
  return static_cast<char*>(p) + page;  // stacks grow down, into the guard page on overflow
}

void wait_at(Block& b, Barrier& barrier) {
  if (++barrier.arrived == barrier.expected) {
    barrier.arrived = 0;
    ++barrier.generation;
    return;
  }
  Fiber& f = *b.current;
  f.waiting_on = &barrier;
  f.waiting_generation = barrier.generation;
  switch_to(f.context, b.scheduler);
}

void fiber_main() {
  Block& b = tls_block;
  b.body(b.closure);
  Fiber& f = *b.current;
  f.exited = true;
  // A returned thread no longer counts at __syncthreads (on a GPU exited threads do not hold a
  // barrier up either); it may have been the last one the others waited for.
  --b.barrier.expected;
  if (b.barrier.arrived > 0 && b.barrier.arrived == b.barrier.expected) {
    b.barrier.arrived = 0;
    ++b.barrier.generation;
  }
  switch_to(f.context, b.scheduler);  // for good: an exited fiber is never resumed
}

[[noreturn]] void deadlock(const Block& b) {
  unsigned at_block = 0, at_warp = 0, exited = 0;
  for (unsigned t = 0; t < b.threads; ++t) {
    const Fiber& f = b.fibers[t];
    if (f.exited) {
      ++exited;
    } else if (f.waiting_on == &b.barrier) {
      ++at_block;
    } else {
      ++at_warp;
    }
  }
  fail(b, "no thread can go on: " + std::to_string(at_block) + " wait at __syncthreads, " +
              std::to_string(at_warp) + " at __shfl_xor_sync, " + std::to_string(exited) +
              " have returned (a full-warp shuffle needs all 32 lanes, a __syncthreads every "
              "running thread)");
}

void run_block(Block& b, uint3 block_index) {
  blockIdx = block_index;
  const unsigned n = blockDim.x * blockDim.y * blockDim.z;
  b.threads = n;
  while (b.fibers.size() < n) {
    b.fibers.emplace_back();
    b.fibers.back().stack = new_stack();
  }
  b.warps.assign((n + kWarpSize - 1) / kWarpSize, Warp{});
  for (unsigned w = 0; w < b.warps.size(); ++w) {
    b.warps[w].barrier.expected = std::min(kWarpSize, n - w * kWarpSize);
  }
  b.barrier = Barrier{};
  b.barrier.expected = n;
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = b.fibers[t];
    start(f.context, f.stack, kStackBytes, fiber_main);
    f.index = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
    f.linear = t;
    f.waiting_on = nullptr;
    f.shuffles = 0;
    f.exited = false;
  }
  unsigned running = n;
  while (running > 0) {
    bool resumed = false;
    for (unsigned t = 0; t < n; ++t) {
      Fiber& f = b.fibers[t];
      if (f.exited || (f.waiting_on && f.waiting_on->generation == f.waiting_generation)) {
        continue;
      }
      f.waiting_on = nullptr;
      b.current = &f;
      threadIdx = f.index;
      switch_to(b.scheduler, f.context);
      resumed = true;
      running -= f.exited;
    }
    if (!resumed) deadlock(b);
  }
}

// OS threads that run blocks alongside the launching thread. Never destroyed: they sleep on a
// condition variable between launches and die with the process.
class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool();
    return *pool;
  }

  // Runs every block of `grid` on the calling thread and the pool; returns when all are done.
  void run(dim3 grid, dim3 block, const char* name, void (*body)(const void*),
           const void* closure) {
    std::lock_guard<std::mutex> one_launch_at_a_time(launch_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      grid_ = grid;
      block_ = block;
      name_ = name;
      body_ = body;
      closure_ = closure;
      next_ = 0;
      total_ = std::uint64_t{grid.x} * grid.y * grid.z;
      busy_ = static_cast<unsigned>(threads_.size());
      ++epoch_;
    }
    start_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_ == 0; });
  }

 private:
  Pool() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("LAMINA_CUDA_EMU_THREADS")) n = std::atoi(env);
    for (int i = 1; i < n; ++i) threads_.emplace_back([this] { serve(); });
  }

  void serve() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_.wait(lock, [&] { return epoch_ != seen; });
        seen = epoch_;
      }
      work();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  void work() {
    Block& b = tls_block;
    b.kernel = name_;
    b.body = body_;
    b.closure = closure_;
    blockDim = block_;
    gridDim = grid_;
    for (std::uint64_t i = next_++; i < total_; i = next_++) {
      run_block(b, uint3{static_cast<unsigned>(i % grid_.x),
                         static_cast<unsigned>(i / grid_.x % grid_.y),
                         static_cast<unsigned>(i / (std::uint64_t{grid_.x} * grid_.y))});
    }
  }

  std::mutex launch_mutex_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  std::vector<std::thread> threads_;
  std::uint64_t epoch_ = 0;
  unsigned busy_ = 0;
  // The launch being run; written under mutex_ before the pool is woken.
  dim3 grid_, block_;
  const char* name_ = nullptr;
  void (*body_)(const void*) = nullptr;
  const void* closure_ = nullptr;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> next_{0};
};

bool valid_launch(dim3 grid, dim3 block, std::size_t shared_bytes) {
  const std::uint64_t threads = std::uint64_t{block.x} * block.y * block.z;
  return threads > 0 && threads <= kMaxBlockThreads && block.x <= 1024 && block.y <= 1024 &&
         block.z <= 64 && grid.x <= 0x7fffffffu && grid.y <= 65535 && grid.z <= 65535 &&
         shared_bytes <= kMaxDynamicSharedBytes;
}

}  // namespace

void run_grid(const char* name, dim3 grid, dim3 block, std::size_t shared_bytes,
              void (*thread_body)(const void*), const void* closure) {
  if (!valid_launch(grid, block, shared_bytes)) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  Pool::instance().run(grid, block, name, thread_body, closure);
}

void sync_block() {
  Block& b = tls_block;
  wait_at(b, b.barrier);
}

std::uint64_t shuffle_xor(unsigned mask, std::uint64_t bits, int lane_mask) {
  Block& b = tls_block;
  Fiber& f = *b.current;
  Warp& w = b.warps[f.linear / kWarpSize];
  if (mask != 0xffffffffu || w.barrier.expected != kWarpSize) {
    fail(b, "__shfl_xor_sync with mask " + std::to_string(mask) + " in a warp of " +
                std::to_string(w.barrier.expected) +
                " threads: the emulation runs full-warp shuffles only");
  }
  const unsigned lane = f.linear % kWarpSize;
  std::uint64_t* values = w.exchange[f.shuffles++ & 1];
  values[lane] = bits;
  wait_at(b, w.barrier);
  const unsigned source = lane ^ static_cast<unsigned>(lane_mask);
  return source < kWarpSize ? values[source] : bits;
}

}  // namespace cuda_emu
