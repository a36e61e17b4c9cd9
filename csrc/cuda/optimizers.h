// CUDA optimizer steps, the twins of csrc/cpu/optimizers.h (same Keras formulas, same
// ParamSlots / *Options structs): every tensor of the list is updated by ONE kernel launch per
// dtype. The tensor table (pointers and sizes) and a chunk table are copied to a stream-ordered
// scratch buffer (cudaMallocAsync + an asynchronous copy from host memory, freed after the
// kernel in stream order); nothing is synchronised. Pointers inside the ParamSlots are device
// pointers; the ParamSlots array itself is host memory.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cpu/optimizers.h"  // ParamSlots and the options: one definition for both backends

namespace lamina::cuda {

template <class T>
void sgd_step(const ParamSlots<T>* tensors, std::int64_t count, const SgdOptions& o,
              cudaStream_t stream);
template <class T>
void rmsprop_step(const ParamSlots<T>* tensors, std::int64_t count, const RmspropOptions& o,
                  cudaStream_t stream);
template <class T>
void adam_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamOptions& o,
               cudaStream_t stream);
template <class T>
void adagrad_step(const ParamSlots<T>* tensors, std::int64_t count, const AdagradOptions& o,
                  cudaStream_t stream);
template <class T>
void adamax_step(const ParamSlots<T>* tensors, std::int64_t count, const AdamaxOptions& o,
                 cudaStream_t stream);
// o.u_product is the running product INCLUDING this step (see nadam_u_product in cpu/).
template <class T>
void nadam_step(const ParamSlots<T>* tensors, std::int64_t count, const NadamOptions& o,
                cudaStream_t stream);

template <class T>
void adadelta_step(const ParamSlots<T>* tensors, std::int64_t count, const AdadeltaOptions& o,
                   cudaStream_t stream);
template <class T>
void lion_step(const ParamSlots<T>* tensors, std::int64_t count, const LionOptions& o,
               cudaStream_t stream);

}  // namespace lamina::cuda
