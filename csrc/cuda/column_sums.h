// Deterministic per-column sums over the rows of a (rows, C) row-major view, for the kernels
// whose outputs are per-channel sums over many rows (batch-norm statistics and gradients, the
// convolution's bias gradient). Included by .cu files only.
//
// Two passes, no atomics, the same bits for the same shapes on every run:
//   1. column_partials_kernel: the rows are cut into fixed parts (row_parts(): at least 256
//      rows a part, at most 64 parts, a number that depends on the row count alone, as in the
//      CPU drivers). A block of 256 threads owns 32 columns of one part: 8 row lanes walk the
//      part's rows with stride 8, each accumulating in double, and the 8 lane sums are added in
//      lane order through shared memory. Every warp reads 32 consecutive values of a row.
//   2. the caller's finishing kernel adds each column's part sums in part order
//      (sum_of_parts) and applies its formula (mean, variance, a bias gradient ...).
// `Op` supplies the values: op(r, c, acc) adds row r, column c's contribution to acc[0 ..
// Count), so one pass can accumulate several sums (sum dy and sum dy * (x - mean)).
#pragma once

#include <cstdint>

#include "cuda/launch.h"

namespace lamina::cuda {

constexpr std::int64_t kMinPartRows = 256;
constexpr std::int64_t kMaxRowParts = 64;
constexpr int kSumColumns = kWarpSize;                   // columns per block
constexpr int kSumRowLanes = kBlockThreads / kSumColumns;  // 8 row lanes per block

// Parts of `rows` rows: ceil(rows / 256) clamped to [1, 64]; every part but the last has
// part_rows(rows) rows.
inline std::int64_t row_parts(std::int64_t rows) {
  const std::int64_t parts = (rows + kMinPartRows - 1) / kMinPartRows;
  return parts < 1 ? 1 : (parts > kMaxRowParts ? kMaxRowParts : parts);
}

inline std::int64_t part_rows(std::int64_t rows) {
  const std::int64_t parts = row_parts(rows);
  return (rows + parts - 1) / parts;
}

// partial[(part * Count + j) * C + c] = sum over the rows r of part `part` of op's j-th value
// at (r, c). Grid: x = ceil(C / 32) column blocks, y = row_parts(rows) parts. Block: 256.
template <int Count, class Op>
__global__ void __launch_bounds__(kBlockThreads)
    column_partials_kernel(std::int64_t rows, std::int64_t C, std::int64_t per_part, Op op,
                           double* __restrict__ partial) {
  const int lane = threadIdx.x % kSumColumns, row_lane = threadIdx.x / kSumColumns;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kSumColumns + lane;
  const std::int64_t part = blockIdx.y;
  const std::int64_t r0 = part * per_part;
  const std::int64_t r1 = r0 + per_part < rows ? r0 + per_part : rows;
  double acc[Count];
#pragma unroll
  for (int j = 0; j < Count; ++j) acc[j] = 0.0;
  if (c < C) {
    for (std::int64_t r = r0 + row_lane; r < r1; r += kSumRowLanes) op(r, c, acc);
  }
  __shared__ double lanes[Count][kSumRowLanes][kSumColumns];
#pragma unroll
  for (int j = 0; j < Count; ++j) lanes[j][row_lane][lane] = acc[j];
  __syncthreads();
  if (row_lane == 0 && c < C) {
#pragma unroll
    for (int j = 0; j < Count; ++j) {
      double s = lanes[j][0][lane];
      for (int l = 1; l < kSumRowLanes; ++l) s += lanes[j][l][lane];
      partial[(part * Count + j) * C + c] = s;
    }
  }
}

// Queues pass 1 into `partial` (row_parts(rows) * Count * C doubles).
template <int Count, class Op>
void column_partials(const char* name, std::int64_t rows, std::int64_t C, Op op, double* partial,
                     cudaStream_t stream) {
  const std::int64_t blocks = (C + kSumColumns - 1) / kSumColumns;
  if (blocks > 0x7fffffff) throw std::runtime_error(std::string("[") + name + "] too many columns");
  launch(name, dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(row_parts(rows))),
         dim3(kBlockThreads), 0, stream, column_partials_kernel<Count, Op>, rows, C,
         part_rows(rows), op, partial);
}

// The j-th sum of column c over all parts, added in part order (pass 2's building block).
template <int Count>
__device__ __forceinline__ double sum_of_parts(const double* partial, std::int64_t parts,
                                               int j, std::int64_t C, std::int64_t c) {
  double s = partial[j * C + c];
  for (std::int64_t p = 1; p < parts; ++p) s += partial[(p * Count + j) * C + c];
  return s;
}

}  // namespace lamina::cuda
