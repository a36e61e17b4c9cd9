// lamina._cuda: the CUDA kernels. Present only in builds made with nvcc (LAMINA_CUDA=AUTO|ON);
// importing it never needs a GPU, so lamina.cuda.is_available() can ask. Each family registers
// its entry points (cuda_families.h); every kernel entry takes a keyword-only `stream`.
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "bindings/cuda_families.h"
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

  lamina::bind::bind_cuda_gemm(m);
  lamina::bind::bind_cuda_activations(m);
  lamina::bind::bind_cuda_dense(m);
  lamina::bind::bind_cuda_reduce(m);
  lamina::bind::bind_cuda_losses(m);
  lamina::bind::bind_cuda_optimizers(m);
  lamina::bind::bind_cuda_rnn(m);
  lamina::bind::bind_cuda_conv(m);
  lamina::bind::bind_cuda_pooling(m);
  lamina::bind::bind_cuda_normalization(m);
  lamina::bind::bind_cuda_embedding(m);
  lamina::bind::bind_cuda_ctc(m);

  // The entries that take `stream`: lamina.cuda.kernels() appends cupy's current stream to
  // exactly these. A test checks the list against the signatures.
  m.attr("STREAM_ENTRIES") = py::make_tuple(
      "gemm", "gemm_batched", "activation_forward", "activation_backward", "dense_forward",
      "dense_backward", "reduce_sum", "reduce_max", "categorical_crossentropy",
      "sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
      "mean_absolute_error", "log_cosh", "mean_absolute_percentage_error",
      "mean_squared_logarithmic_error", "poisson", "kl_divergence", "hinge", "squared_hinge",
      "huber", "sgd_step", "rmsprop_step", "adam_step", "adagrad_step", "adamax_step",
      "nadam_step", "adadelta_step", "lion_step", "conv2d_forward", "conv2d_backward",
      "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
      "batchnorm_forward_training", "batchnorm_forward_inference", "batchnorm_backward",
      "embedding_forward", "embedding_backward", "ctc_loss");

  // Recurrent layers (cuda_rnn.cpp).
  py::list entries(m.attr("STREAM_ENTRIES"));
  for (const char* name : {"lstm_sequence_forward", "lstm_sequence_backward",
                           "gru_sequence_forward", "gru_sequence_backward",
                           "simple_rnn_sequence_forward", "simple_rnn_sequence_backward"}) {
    entries.append(name);
  }
  m.attr("STREAM_ENTRIES") = py::tuple(entries);
}
