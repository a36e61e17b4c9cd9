// One registration function per kernel family; each lives in csrc/bindings/cpu_<family>.cpp and
// adds that family's entry points to lamina._cpu.
#pragma once

#include <pybind11/pybind11.h>

namespace lamina::bind {

void bind_gemm(pybind11::module_& m);
void bind_activations(pybind11::module_& m);
void bind_dense(pybind11::module_& m);
void bind_reduce(pybind11::module_& m);
void bind_losses(pybind11::module_& m);
void bind_optimizers(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pooling(pybind11::module_& m);
void bind_normalization(pybind11::module_& m);
void bind_rnn(pybind11::module_& m);
void bind_embedding(pybind11::module_& m);
void bind_ctc(pybind11::module_& m);

}  // namespace lamina::bind
