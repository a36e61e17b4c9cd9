// The shape of a whole-sequence recurrent call, shared by the CPU and CUDA kernels (csrc/cpu/rnn.h,
// csrc/cuda/rnn.h) and their bindings: N batch, T timesteps, F input features, U units.
#pragma once

#include <cstdint>

namespace lamina {

struct RnnShape {
  std::int64_t N, T, F, U;
};

}  // namespace lamina
