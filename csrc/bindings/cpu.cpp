// lamina._cpu: the CPU kernels. Each family registers its own entry points (families.h); this
// file adds what concerns the whole module: the instruction set in use and the thread count.
#include <omp.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bindings/families.h"
#include "common/isa.h"
#include "cpu/isa_probe.h"

namespace py = pybind11;

namespace {

// A training step allocates and frees megabytes of activations and gradients (numpy.empty).
// glibc's defaults hand freed blocks back to the OS (heap trimming, and mmap for large blocks),
// so every step page-faults them in again: 1,600 faults and 2-4 ms of the 10 ms MNIST convnet
// step (batch 64) on the dev VM. Keeping up to 256 MB of freed memory in the heap brings that
// to ~35 faults. Set MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_ (or LAMINA_KEEP_MALLOC=1)
// to keep glibc's own policy.
void keep_freed_memory_in_heap() {
#if defined(__GLIBC__)
  if (std::getenv("LAMINA_KEEP_MALLOC") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("MALLOC_MMAP_THRESHOLD_")) {
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "lamina's CPU kernels (C++, OpenMP, AVX2/AVX-512 chosen at run time)";
  keep_freed_memory_in_heap();

  m.def("isa", [] { return std::string(lamina::isa_name(lamina::active_isa())); },
        "The instruction set the SIMD kernels use now: 'generic', 'avx2' or 'avx512'.");
  m.def("best_isa", [] { return std::string(lamina::isa_name(lamina::best_isa())); },
        "The best instruction set this CPU supports among those compiled in.");
  m.def("supported_isas", [] {
    py::list out;
    for (auto isa : {lamina::Isa::generic, lamina::Isa::avx2, lamina::Isa::avx512}) {
      if (lamina::cpu_supports(isa)) out.append(lamina::isa_name(isa));
    }
    return out;
  }, "The instruction sets this CPU can run, from the most portable.");
  m.def("set_isa", [](const std::string& name) {
    lamina::Isa isa;
    if (!lamina::parse_isa(name.c_str(), &isa)) {
      throw py::value_error("[set_isa] argument 'name': expected 'generic', 'avx2' or 'avx512', got '" +
                            name + "'");
    }
    if (!lamina::set_active_isa(isa)) {
      throw py::value_error("[set_isa] argument 'name': this CPU cannot run '" + name +
                            "' code (best available: " + lamina::isa_name(lamina::best_isa()) + ")");
    }
  }, py::arg("name"), "Switches every SIMD kernel to the given instruction set.");
  m.def("get_num_threads", [] { return omp_get_max_threads(); },
        "Threads the kernels may use.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("[set_num_threads] argument 'n': expected >= 1, got " + std::to_string(n));
    omp_set_num_threads(n);
  }, py::arg("n"), "Sets the threads the kernels may use.");
  m.def("isa_probe", [] {
    const auto& k = LAMINA_KERNEL_TABLE(isa_probe_kernels);
    return py::make_tuple(std::string(k.compiled_for()), k.vector_bytes());
  }, "(translation unit, vector bytes) of the SIMD code that runs now; for tests.");
  m.def("fma_throughput", [](const std::string& dtype, std::int64_t iterations, int threads) {
    if (dtype != "float32" && dtype != "float64") {
      throw py::value_error("[fma_throughput] argument 'dtype': expected 'float32' or 'float64', got '" +
                            dtype + "'");
    }
    if (iterations < 1) {
      throw py::value_error("[fma_throughput] argument 'iterations': expected >= 1, got " +
                            std::to_string(iterations));
    }
    if (threads < 1) {
      throw py::value_error("[fma_throughput] argument 'threads': expected >= 1, got " +
                            std::to_string(threads));
    }
    const auto& k = LAMINA_KERNEL_TABLE(isa_probe_kernels);
    const bool f32 = dtype == "float32";
    const int lanes = k.vector_bytes() / (f32 ? 4 : 8);
    double seconds = 0, sink = 0;
    {
      py::gil_scoped_release release;
      // Every thread runs the same loop; the clock spans the whole region (fork, barrier, join).
      const double start = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
      sink += f32 ? static_cast<double>(k.fma_loop_f32(iterations)) : k.fma_loop_f64(iterations);
      seconds = omp_get_wtime() - start;
    }
    const double flops = 2.0 * lamina::kFmaChains * lanes * static_cast<double>(iterations) * threads;
    return py::make_tuple(flops / seconds, sink);
  }, py::arg("dtype"), py::arg("iterations"), py::arg("threads"),
     "(flops per second, checksum) of `threads` threads each running `iterations` rounds of "
     "independent vector FMA chains on the active ISA: the machine's floating-point peak "
     "(bench/peak.py).");
  m.attr("openmp_version") = _OPENMP;

  lamina::bind::bind_gemm(m);
  lamina::bind::bind_activations(m);
  lamina::bind::bind_dense(m);
  lamina::bind::bind_reduce(m);
  lamina::bind::bind_losses(m);
  lamina::bind::bind_optimizers(m);
  lamina::bind::bind_conv(m);
  lamina::bind::bind_pooling(m);
  lamina::bind::bind_normalization(m);
  lamina::bind::bind_rnn(m);
  lamina::bind::bind_embedding(m);
  lamina::bind::bind_ctc(m);
}
