// lamina._cuda: the CUDA kernels. Present only in builds made with nvcc (LAMINA_CUDA=AUTO|ON);
// importing it never needs a GPU, so lamina.cuda.is_available() can ask.
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "cuda/device.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "lamina's CUDA kernels";
  m.def("device_count", &lamina::cuda::device_count,
        "Visible CUDA devices (0 without a driver or GPU).");
  m.def("runtime_version", &lamina::cuda::runtime_version,
        "CUDA runtime version built in (major * 1000 + minor * 10).");
  m.def("device_info", [](int device) {
    const int n = lamina::cuda::device_count();
    if (device < 0 || device >= n) {
      throw py::value_error("[cuda.device_info] argument 'device': expected 0 <= device < " +
                            std::to_string(n) + ", got " + std::to_string(device));
    }
    const auto info = lamina::cuda::device_info(device);
    py::dict d;
    d["name"] = info.name;
    d["compute_capability"] = py::make_tuple(info.major, info.minor);
    d["multiprocessors"] = info.multiprocessors;
    d["total_memory"] = info.total_memory;
    return d;
  }, py::arg("device") = 0, "Name, compute capability, SM count and memory of a device.");
}
