// lamina._cuda.embedding_forward / embedding_backward: see csrc/cuda/embedding.h. Arguments,
// checks and messages are lamina._cpu's (bindings/embedding_args.h), plus the keyword-only
// stream. The indices are checked on the device before anything is written; reading the verdict
// back synchronises the stream (as sparse_categorical_crossentropy's labels do).
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/embedding_args.h"
#include "cuda/embedding.h"
#include "cuda/losses.h"  // find_invalid_label, label_at

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

void run_embedding(const char* where, py::handle idx_o, py::handle table_o, py::handle rows_o,
                   bool forward, std::uintptr_t stream) {
  const auto a = embedding_args<DevArr, device_array_arg>(where, idx_o, table_o, rows_o, forward);
  const cudaStream_t s = stream_arg(stream);
  dispatch_index(a.idx.dtype, [&](auto izero) {
    using I = decltype(izero);
    const I* idx = a.idx.ptr<I>();
    i64 bad = -1, value = 0;
    {
      py::gil_scoped_release nogil;
      bad = cuda::find_invalid_label<I>(idx, a.n, a.V, false, 0, s, where);
      if (bad >= 0) value = cuda::label_at<I>(idx, bad, s, where);
    }
    if (bad >= 0) fail_embedding_index(where, value, bad, a.V);
    dispatch_float(a.table.dtype, [&](auto fzero) {
      using T = decltype(fzero);
      py::gil_scoped_release nogil;
      if (forward) {
        cuda::embedding_forward<I, T>(a.n, idx, a.V, a.D, a.table.ptr<T>(), a.rows.ptr<T>(), s);
      } else {
        cuda::embedding_backward<I, T>(a.n, idx, a.V, a.D, a.rows.ptr<T>(), a.table.ptr<T>(), s);
      }
    });
  });
}

}  // namespace

void bind_cuda_embedding(py::module_& m) {
  m.def(
      "embedding_forward",
      [](py::handle idx, py::handle table, py::handle out, std::uintptr_t stream) {
        run_embedding("embedding_forward", idx, table, out, true, stream);
      },
      py::arg("indices"), py::arg("table"), py::arg("out"), py::kw_only(), py::arg("stream"),
      "out (n, D) = table[indices] for the n indices (any shape, int32/int64) on `stream`; "
      "raises ValueError for an index outside [0, V) (checking waits for the stream).");
  m.def(
      "embedding_backward",
      [](py::handle idx, py::handle grad, py::handle dtable, std::uintptr_t stream) {
        run_embedding("embedding_backward", idx, dtable, grad, false, stream);
      },
      py::arg("indices"), py::arg("grad"), py::arg("dtable"), py::kw_only(), py::arg("stream"),
      "dtable (V, D) = scatter-add of grad (n, D) rows at indices (assigned, deterministic), on "
      "`stream`; raises ValueError for an index outside [0, V) (checking waits for the stream).");
}

}  // namespace lamina::bind
