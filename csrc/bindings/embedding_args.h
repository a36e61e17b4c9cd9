// Argument checks of embedding_forward / embedding_backward, shared by lamina._cpu
// (cpu_embedding.cpp) and lamina._cuda (cuda_embedding.cpp): the same checks and messages by
// construction. The templates take the module's array type and reader (arrays.h's ArrayReader).
#pragma once

#include <cstdint>
#include <string>

#include "bindings/arrays.h"
#include "bindings/overlap.h"

namespace lamina::bind {

// indices (any shape, n values), the table (V, D) and the (n, D) rows: forward reads `table`
// and writes `out`; backward reads `grad` and writes `dtable`.
template <class A, ArrayReader<A> Read>
struct EmbeddingArgs {
  A idx, table, rows;
  std::int64_t n = 0, V = 0, D = 0;
};

template <class A, ArrayReader<A> Read>
EmbeddingArgs<A, Read> embedding_args(const char* where, py::handle idx_o, py::handle table_o,
                                     py::handle rows_o, bool rows_written) {
  EmbeddingArgs<A, Read> a;
  a.idx = read_array<A, Read>(idx_o, where, "indices", kRead, kContiguous, kIndexDType);
  expect_index(a.idx, where, "indices");
  const char* table_name = rows_written ? "table" : "dtable";
  a.table = read_array<A, Read>(table_o, where, table_name, rows_written ? kRead : kWrite);
  expect_ndim(a.table, 2, where, table_name);
  expect_float(a.table, where, table_name);
  const char* rows_name = rows_written ? "out" : "grad";
  a.rows = read_array<A, Read>(rows_o, where, rows_name, rows_written ? kWrite : kRead);
  expect_dtype(a.rows, a.table.dtype, where, rows_name);
  a.n = a.idx.size();
  a.V = a.table.dim(0);
  a.D = a.table.dim(1);
  expect_shape(a.rows, {a.n, a.D}, where, rows_name);
  // Forward writes rows (out) from table; backward writes table (dtable) from rows (grad).
  if (rows_written) {
    expect_all_disjoint(where, {{a.rows, rows_name}}, {{a.table, "table"}, {a.idx, "indices"}});
  } else {
    expect_all_disjoint(where, {{a.table, "dtable"}}, {{a.rows, rows_name}, {a.idx, "indices"}});
  }
  return a;
}

// The error for the first index outside [0, V): `value` at flat position `position`.
[[noreturn]] inline void fail_embedding_index(const char* where, std::int64_t value,
                                              std::int64_t position, std::int64_t V) {
  fail_value(where, "indices", "index " + std::to_string(value) + " at flat position " +
                                   std::to_string(position) + " is out of range for a table of " +
                                   std::to_string(V) + " rows (expected 0 <= index < " +
                                   std::to_string(V) + ")");
}

}  // namespace lamina::bind
