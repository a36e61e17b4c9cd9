// lamina._cpu.embedding_forward / embedding_backward: see csrc/cpu/embedding.h and
// bindings/embedding_args.h (the checks shared with lamina._cuda).
#include "bindings/arrays.h"
#include "bindings/embedding_args.h"
#include "bindings/families.h"
#include "cpu/embedding.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

template <class Fn>
void run_embedding(const char* where, py::handle idx_o, py::handle table_o, py::handle rows_o,
                   bool rows_written, Fn&& fn) {
  const auto a = embedding_args<Arr, array_arg>(where, idx_o, table_o, rows_o, rows_written);
  const i64 bad = dispatch_index(a.idx.dtype, [&](auto izero) {
    using I = decltype(izero);
    return dispatch_float(a.table.dtype, [&](auto fzero) {
      using T = decltype(fzero);
      py::gil_scoped_release nogil;
      return fn(a.n, a.idx.ptr<I>(), a.V, a.D, a.table.ptr<T>(), a.rows.ptr<T>());
    });
  });
  if (bad >= 0) {
    const i64 value = a.idx.dtype == DType::i64 ? a.idx.ptr<std::int64_t>()[bad]
                                                : a.idx.ptr<std::int32_t>()[bad];
    fail_embedding_index(where, value, bad, a.V);
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
