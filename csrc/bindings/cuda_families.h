// One registration function per kernel family of lamina._cuda; each lives in
// csrc/bindings/cuda_<family>.cpp, mirrors its lamina._cpu twin (same names, same arguments,
// same checks and messages) and adds a keyword-only `stream` argument (an int: cupy's
// Stream.ptr, 0 for the legacy default stream). lamina.cuda.kernels() passes cupy's current
// stream on every call.
#pragma once

#include <pybind11/pybind11.h>

namespace lamina::bind {

void bind_cuda_gemm(pybind11::module_& m);
void bind_cuda_activations(pybind11::module_& m);
void bind_cuda_dense(pybind11::module_& m);
void bind_cuda_reduce(pybind11::module_& m);
void bind_cuda_losses(pybind11::module_& m);
void bind_cuda_optimizers(pybind11::module_& m);
void bind_cuda_conv(pybind11::module_& m);
void bind_cuda_pooling(pybind11::module_& m);
void bind_cuda_normalization(pybind11::module_& m);
void bind_cuda_embedding(pybind11::module_& m);
void bind_cuda_ctc(pybind11::module_& m);

// Recurrent layers (cuda_rnn.cpp).
void bind_cuda_rnn(pybind11::module_& m);

}  // namespace lamina::bind
