// lamina._cpu.gemm / gemm_batched: see csrc/cpu/gemm.h for the contract.
#include <string>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/fastcall.h"
#include "bindings/overlap.h"
#include "cpu/gemm.h"

namespace lamina::bind {

namespace {

// op(x) extents of a stored 2-D operand.
inline std::int64_t rows_of(const Arr& a, bool trans) { return a.dim(trans ? 1 : 0); }
inline std::int64_t cols_of(const Arr& a, bool trans) { return a.dim(trans ? 0 : 1); }

// numpy 2 gives zero-size arrays zero strides, which the row-stride check would reject; an empty
// operand (K == 0, or an empty C) has no layout to check beyond the C-contiguity numpy reports.
inline Layout operand_layout(py::handle obj) {
  return py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).size() == 0
             ? kContiguous
             : kRowStrided;
}

// The operands of a 2-D product, checked: op(a) (M, K), op(b) (K, N), c (M, N), c sharing
// memory with neither (the kernels pack panels of a and b while they write c).
struct Operands {
  Arr a, b, c;
  std::int64_t M, N, K;
};

// a and b alone (o.c left empty).
Operands factor_operands(const char* where, py::handle a_obj, py::handle b_obj, bool trans_a,
                         bool trans_b) {
  Operands o{array_arg(a_obj, where, "a", kRead, operand_layout(a_obj)),
             array_arg(b_obj, where, "b", kRead, operand_layout(b_obj)), Arr{}, 0, 0, 0};
  expect_ndim(o.a, 2, where, "a");
  expect_ndim(o.b, 2, where, "b");
  expect_float(o.a, where, "a");
  expect_dtype(o.b, o.a.dtype, where, "b");
  o.M = rows_of(o.a, trans_a);
  o.K = cols_of(o.a, trans_a);
  o.N = cols_of(o.b, trans_b);
  if (rows_of(o.b, trans_b) != o.K) {
    fail_value(where, "b", "op(a) has shape (" + std::to_string(o.M) + ", " +
                               std::to_string(o.K) + ") so op(b) needs " + std::to_string(o.K) +
                               " rows, got b of shape " + shape_string(o.b) +
                               (trans_b ? " (transposed)" : ""));
  }
  return o;
}

Operands product_operands(const char* where, py::handle a_obj, py::handle b_obj,
                          py::handle c_obj, bool trans_a, bool trans_b) {
  Operands o = factor_operands(where, a_obj, b_obj, trans_a, trans_b);
  o.c = array_arg(c_obj, where, "c", kWrite, operand_layout(c_obj));
  expect_ndim(o.c, 2, where, "c");
  expect_dtype(o.c, o.a.dtype, where, "c");
  expect_shape(o.c, {o.M, o.N}, where, "c");
  expect_disjoint(o.c, o.a, where, "c", "a");
  expect_disjoint(o.c, o.b, where, "c", "b");
  return o;
}

void gemm_entry(py::handle a_obj, py::handle b_obj, py::handle c_obj, bool trans_a, bool trans_b,
                double alpha, double beta) {
  const Operands o = product_operands("gemm", a_obj, b_obj, c_obj, trans_a, trans_b);
  dispatch_float(o.a.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(o.M * o.N * o.K >= kGilMinMacs);
    gemm<T>(trans_a, trans_b, o.M, o.N, o.K, static_cast<T>(alpha), o.a.ptr<T>(),
            o.a.row_stride(), o.b.ptr<T>(), o.b.row_stride(), static_cast<T>(beta),
            o.c.ptr<T>(), o.c.row_stride());
  });
}

void gemm_batched_entry(py::handle a_obj, py::handle b_obj, py::handle c_obj, bool trans_a,
                        bool trans_b, double alpha, double beta) {
  constexpr const char* where = "gemm_batched";
  const Arr a = array_arg(a_obj, where, "a");
  const Arr b = array_arg(b_obj, where, "b");
  const Arr c = array_arg(c_obj, where, "c", kWrite);
  expect_ndim(a, 3, where, "a");
  expect_ndim(b, 3, where, "b");
  expect_ndim(c, 3, where, "c");
  expect_float(a, where, "a");
  expect_dtype(b, a.dtype, where, "b");
  expect_dtype(c, a.dtype, where, "c");
  const std::int64_t batch = c.dim(0);
  if (a.dim(0) != batch && a.dim(0) != 1) {
    fail_value(where, "a", "expected a batch of " + std::to_string(batch) + " (or 1), got shape " +
                               shape_string(a));
  }
  if (b.dim(0) != batch && b.dim(0) != 1) {
    fail_value(where, "b", "expected a batch of " + std::to_string(batch) + " (or 1), got shape " +
                               shape_string(b));
  }
  const std::int64_t M = a.dim(trans_a ? 2 : 1), K = a.dim(trans_a ? 1 : 2);
  const std::int64_t N = b.dim(trans_b ? 1 : 2);
  if (b.dim(trans_b ? 2 : 1) != K) {
    fail_value(where, "b", "op(a) has " + std::to_string(K) + " columns but op(b) of b's shape " +
                               shape_string(b) + " has " + std::to_string(b.dim(trans_b ? 2 : 1)) +
                               " rows");
  }
  expect_shape(c, {batch, M, N}, where, "c");
  expect_disjoint(c, a, where, "c", "a");
  expect_disjoint(c, b, where, "c", "b");
  dispatch_float(a.dtype, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t sa = a.dim(0) == 1 ? 0 : a.dim(1) * a.dim(2);
    const std::int64_t sb = b.dim(0) == 1 ? 0 : b.dim(1) * b.dim(2);
    GilRelease nogil(batch * M * N * K >= kGilMinMacs);
    gemm_batched<T>(trans_a, trans_b, batch, M, N, K, static_cast<T>(alpha), a.ptr<T>(), a.dim(2),
                    sa, b.ptr<T>(), b.dim(2), sb, static_cast<T>(beta), c.ptr<T>(), N, M * N);
  });
}

// Packs op(b) once (gemm_pack_b) and multiplies: the recurrent kernels' path, exposed so that
// tests reach every shape, ISA and thread split of it.
void gemm_prepacked_entry(py::handle a_obj, py::handle b_obj, py::handle c_obj, bool trans_b,
                          double alpha, double beta) {
  const Operands o = product_operands("gemm_prepacked", a_obj, b_obj, c_obj, false, trans_b);
  dispatch_float(o.a.dtype, [&](auto zero) {
    using T = decltype(zero);
    GilRelease nogil(o.M * o.N * o.K >= kGilMinMacs);
    PackedB<T> packed;
    gemm_pack_b<T>(trans_b, o.K, o.N, o.b.ptr<T>(), o.b.row_stride(), &packed);
    gemm_prepacked<T>(o.M, static_cast<T>(alpha), o.a.ptr<T>(), o.a.row_stride(), packed,
                      static_cast<T>(beta), o.c.ptr<T>(), o.c.row_stride());
  });
}

}  // namespace

void bind_gemm(py::module_& m) {
  // METH_FASTCALL (fastcall.h): a small product's whole call is ~0.2 us and gemm's seven
  // parameters cost pybind11's dispatcher ~0.1 us of it.
  def_fast<&gemm_entry>(
      m, "gemm",
      "c = alpha * op(a) @ op(b) + beta * c, in place. 2-D float32/float64 arrays; rows must "
      "have unit stride (column slices of C-contiguous arrays are accepted).",
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0);
  def_fast<&gemm_batched_entry>(
      m, "gemm_batched",
      "c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i], in place. C-contiguous 3-D arrays; a "
      "batch of 1 in a or b is shared by every product.",
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0);
  def_fast<&gemm_prepacked_entry>(
      m, "gemm_prepacked",
      "c = alpha * a @ op(b) + beta * c through a prepacked b (the recurrent kernels' path: "
      "op(b) packed once, a read in place); results as gemm's up to rounding.",
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_b") = false,
      py::arg("alpha") = 1.0, py::arg("beta") = 0.0);
  m.def("gemm_path", [](py::handle a, py::handle b, bool trans_a, bool trans_b) {
    const Operands o = factor_operands("gemm_path", a, b, trans_a, trans_b);
    return dispatch_float(o.a.dtype, [&](auto zero) {
      using T = decltype(zero);
      return std::string(gemm_path<T>(trans_a, trans_b, o.M, o.N, o.K, o.a.row_stride()));
    });
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        "The algorithm gemm(a, b, c, trans_a, trans_b) runs on the active instruction set: "
        "'direct', 'packed', 'column stream', 'column tiles', 'transposed' or 'scale' (an empty "
        "product). For tests and benchmarks; it never depends on the thread count.");
  m.def("gemm_f64_tile", [] { return gemm_f64_wide() ? "wide" : "standard"; },
        "The double micro-tile in use: 'wide' (8 x 24 on AVX-512, chosen on AMD CPUs) or "
        "'standard' (12 x 16).");
  m.def("set_gemm_f64_tile", [](const std::string& name) {
    if (name != "wide" && name != "standard") {
      throw py::value_error("[set_gemm_f64_tile] argument 'name': expected 'wide' or "
                            "'standard', got '" + name + "'");
    }
    set_gemm_f64_wide(name == "wide");
  }, py::arg("name"), "Switches the double micro-tile (for tests and benchmarks).");
}

}  // namespace lamina::bind
