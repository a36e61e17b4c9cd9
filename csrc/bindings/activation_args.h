// Arguments shared by the entry points that take an activation (activations, dense).
#pragma once

#include <pybind11/pybind11.h>

#include "cpu/activations.h"

namespace lamina::bind {

// Validates an activation code against lamina._cpu.ACTIVATIONS.
Activation activation_arg(int kind, const char* where);

// `alpha` as given, or the Keras default for `kind` when it is None.
double alpha_arg(pybind11::handle alpha, Activation kind, const char* where);

}  // namespace lamina::bind
