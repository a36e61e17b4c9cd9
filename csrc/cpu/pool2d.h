// 2-D max and average pooling, channels last.
//
// Layouts (ConvGeometry in common/conv_geometry.h, with K == C, (KH, KW) the pool size,
// DH == DW == 1, G == 1): x (N, H, W, C), y (N, OH, OW, C). Padding cells never count: max
// ignores them, the average divides by the number of valid cells in the window
// (Keras/TensorFlow "same").
// Max pooling saves, per output element, the flat index ih * W + iw of the first maximum of its
// window (int32, (N, OH, OW, C)); the backward pass scatters dy there. NaN propagates as in
// numpy's max and PyTorch: a window holding a NaN gives NaN, and its first NaN is the argmax
// (it takes the gradient). All outputs are assigned.
// Images are split over the threads; each loop runs across the contiguous channels.
#pragma once

#include <cstdint>

#include "common/conv_geometry.h"

namespace lamina {

template <class T>
void max_pool2d_forward(const ConvGeometry& g, const T* x, T* y, std::int32_t* argmax);
template <class T>
void max_pool2d_backward(const ConvGeometry& g, const T* dy, const std::int32_t* argmax, T* dx);
template <class T>
void avg_pool2d_forward(const ConvGeometry& g, const T* x, T* y);
template <class T>
void avg_pool2d_backward(const ConvGeometry& g, const T* dy, T* dx);

}  // namespace lamina
