// lamina._cpu.embedding_forward / embedding_backward: see csrc/cpu/embedding.h.
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/embedding.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

template <class Fn>
void run_embedding(const char* where, py::handle idx_o, py::handle table_o, py::handle rows_o,
                   bool rows_written, Fn&& fn) {
  const Arr idx = array_arg(idx_o, where, "indices", kRead, kContiguous, kIndexDType);
  expect_index(idx, where, "indices");
  const Arr table = array_arg(table_o, where, rows_written ? "table" : "dtable",
                              rows_written ? kRead : kWrite);
  expect_ndim(table, 2, where, rows_written ? "table" : "dtable");
  expect_float(table, where, rows_written ? "table" : "dtable");
  const char* rows_name = rows_written ? "out" : "grad";
  const Arr rows = array_arg(rows_o, where, rows_name, rows_written ? kWrite : kRead);
  expect_dtype(rows, table.dtype, where, rows_name);
  const i64 n = idx.size(), V = table.dim(0), D = table.dim(1);
  expect_shape(rows, {n, D}, where, rows_name);
  // Forward writes rows (out) from table; backward writes table (dtable) from rows (grad).
  if (rows_written) {
    expect_all_disjoint(where, {{rows, rows_name}}, {{table, "table"}, {idx, "indices"}});
  } else {
    expect_all_disjoint(where, {{table, "dtable"}}, {{rows, rows_name}, {idx, "indices"}});
  }
  const i64 bad = dispatch_index(idx.dtype, [&](auto izero) {
    using I = decltype(izero);
    return dispatch_float(table.dtype, [&](auto fzero) {
      using T = decltype(fzero);
      py::gil_scoped_release nogil;
      return fn(n, idx.ptr<I>(), V, D, table.ptr<T>(), rows.ptr<T>());
    });
  });
  if (bad >= 0) {
    const i64 value = idx.dtype == DType::i64 ? idx.ptr<std::int64_t>()[bad]
                                              : idx.ptr<std::int32_t>()[bad];
    fail_value(where, "indices", "index " + std::to_string(value) + " at flat position " +
                                     std::to_string(bad) + " is out of range for a table of " +
                                     std::to_string(V) + " rows (expected 0 <= index < " +
                                     std::to_string(V) + ")");
  }
}

void forward_entry(py::handle idx, py::handle table, py::handle out) {
  run_embedding("embedding_forward", idx, table, out, true,
                [](i64 n, const auto* ix, i64 V, i64 D, auto* tab, auto* o) {
                  return embedding_forward(n, ix, V, D, static_cast<const decltype(+*tab)*>(tab),
                                           o);
                });
}

void backward_entry(py::handle idx, py::handle grad, py::handle dtable) {
  run_embedding("embedding_backward", idx, dtable, grad, false,
                [](i64 n, const auto* ix, i64 V, i64 D, auto* dtab, auto* g) {
                  return embedding_backward(n, ix, V, D, static_cast<const decltype(+*g)*>(g),
                                            dtab);
                });
}

}  // namespace

void bind_embedding(py::module_& m) {
  m.def("embedding_forward", &forward_entry, py::arg("indices"), py::arg("table"),
        py::arg("out"),
        "out (n, D) = table[indices] for the n indices (any shape, int32/int64); raises "
        "ValueError for an index outside [0, V).");
  m.def("embedding_backward", &backward_entry, py::arg("indices"), py::arg("grad"),
        py::arg("dtable"),
        "dtable (V, D) = scatter-add of grad (n, D) rows at indices (assigned, deterministic).");
}

}  // namespace lamina::bind
