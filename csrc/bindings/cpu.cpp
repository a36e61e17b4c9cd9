// lamina._cpu: the CPU kernels. Each family registers its own entry points (families.h); this
// file adds what concerns the whole module: the instruction set in use and the thread count.
#include <omp.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/families.h"
#include "common/isa.h"
#include "cpu/isa_probe.h"

namespace py = pybind11;

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "lamina's CPU kernels (C++, OpenMP, AVX2/AVX-512 chosen at run time)";

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
