// lamina._cpu recurrent entry points: lstm/gru/simple_rnn _sequence_forward/_backward.
// Contract (layouts, what is saved, assigned vs accumulated) in csrc/cpu/rnn.h.
#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "common/lstm_math.h"
#include "cpu/rnn.h"

namespace lamina::bind {

namespace {

using i64 = std::int64_t;

// The arrays every entry shares, checked once: x (N, T, F), kernel (F, G), recurrent (U, G).
struct Seq {
  const char* where;
  Arr x, kernel, rec;
  RnnShape shape{};
  DType dt{};
  i64 G = 0;

  Seq(const char* w, py::handle x_obj, py::handle k_obj, py::handle r_obj, i64 gates_per_unit)
      : where(w),
        x(array_arg(x_obj, w, "x")),
        kernel(array_arg(k_obj, w, "kernel")),
        rec(array_arg(r_obj, w, "recurrent_kernel")) {
    expect_ndim(x, 3, w, "x");
    expect_float(x, w, "x");
    dt = x.dtype;
    expect_dtype(kernel, dt, w, "kernel");
    expect_dtype(rec, dt, w, "recurrent_kernel");
    expect_ndim(rec, 2, w, "recurrent_kernel");
    const i64 U = rec.dim(0);
    G = gates_per_unit * U;
    shape = RnnShape{x.dim(0), x.dim(1), x.dim(2), U};
    if (U < 1) fail_value(w, "recurrent_kernel", "expected at least one unit, got shape " +
                                                     shape_string(rec));
    if (shape.T < 1) fail_value(w, "x", "expected at least one timestep, got shape " +
                                            shape_string(x));
    expect_shape(rec, {U, G}, w, "recurrent_kernel");
    expect_shape(kernel, {shape.F, G}, w, "kernel");
  }

  Arr in(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    Arr a = array_arg(obj, where, name);
    expect_dtype(a, dt, where, name);
    expect_shape(a, dims, where, name);
    return a;
  }
  Arr opt_in(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    if (obj.is_none()) return Arr{};
    return in(obj, name, dims);
  }
  Arr out(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    Arr a = array_arg(obj, where, name, kWrite);
    expect_dtype(a, dt, where, name);
    expect_shape(a, dims, where, name);
    return a;
  }
  Arr opt_out(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    if (obj.is_none()) return Arr{};
    return out(obj, name, dims);
  }
  Arr mask(py::handle obj) const { return opt_in(obj, "mask", {shape.N, shape.T}); }
  Arr state(py::handle obj, const char* name) const { return in(obj, name, {shape.N, shape.U}); }

  void activation(int code, const char* name) const {
    if (!rnn_math::supported(code)) {
      std::string known;
      for (int k = 0; k < activation_math::kElementwiseCount; ++k) {
        if (!rnn_math::supported(k)) continue;
        known += (known.empty() ? "" : ", ") + std::string(activation_math::kNames[k]) + " " +
                 std::to_string(k);
      }
      fail_value(where, name, "unsupported activation code " + std::to_string(code) +
                                  " (expected one of the element-wise kinds: " + known + ")");
    }
  }
};

template <class T>
T* p(const Arr& a) { return a.data ? a.ptr<T>() : nullptr; }

// ---- LSTM ----------------------------------------------------------------------------------
void lstm_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                        py::handle h0_o, py::handle c0_o, py::handle m_o, py::handle rm_o,
                        int act, int ract,
                        py::handle gates_o, py::handle hseq_o, py::handle cseq_o) {
  const Seq s("lstm_sequence_forward", x_o, k_o, r_o, 4);
  const auto [N, T, F, U] = s.shape;
  (void)F;
  s.activation(act, "activation");
  s.activation(ract, "recurrent_activation");
  const Arr b = s.opt_in(b_o, "bias", {s.G});
  const Arr h0 = s.state(h0_o, "h0"), c0 = s.state(c0_o, "c0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, s.G});
  const Arr gates = s.out(gates_o, "gates", {N, T, s.G});
  const Arr hseq = s.out(hseq_o, "h_seq", {N, T, U});
  const Arr cseq = s.out(cseq_o, "c_seq", {N, T, U});
  expect_all_disjoint(s.where, {{gates, "gates"}, {hseq, "h_seq"}, {cseq, "c_seq"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {b, "bias"}, {h0, "h0"}, {c0, "c0"}, {m, "mask"},
                       {rm, "recurrent_mask"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    lstm_sequence_forward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec), p<V>(b),
                             p<V>(h0), p<V>(c0), p<V>(m), p<V>(rm), act, ract, p<V>(gates),
                             p<V>(hseq),
                             p<V>(cseq));
  });
}

void lstm_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                         py::handle c0_o, py::handle m_o, py::handle rm_o, int act, int ract,
                         py::handle gates_o,
                         py::handle hseq_o, py::handle cseq_o, py::handle dhseq_o,
                         py::handle dhlast_o, py::handle dclast_o, py::handle dx_o,
                         py::handle dk_o, py::handle dr_o, py::handle db_o, py::handle dh0_o,
                         py::handle dc0_o, py::handle dg_o) {
  const Seq s("lstm_sequence_backward", x_o, k_o, r_o, 4);
  const auto [N, T, F, U] = s.shape;
  s.activation(act, "activation");
  s.activation(ract, "recurrent_activation");
  const Arr h0 = s.state(h0_o, "h0"), c0 = s.state(c0_o, "c0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, s.G});
  const Arr gates = s.in(gates_o, "gates", {N, T, s.G});
  const Arr hseq = s.in(hseq_o, "h_seq", {N, T, U});
  const Arr cseq = s.in(cseq_o, "c_seq", {N, T, U});
  const Arr dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
  const Arr dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
  const Arr dclast = s.opt_in(dclast_o, "dc_last", {N, U});
  const Arr dx = s.opt_out(dx_o, "dx", {N, T, F});
  const Arr dk = s.out(dk_o, "dkernel", {F, s.G});
  const Arr dr = s.out(dr_o, "drecurrent_kernel", {U, s.G});
  const Arr db = s.opt_out(db_o, "dbias", {s.G});
  const Arr dh0 = s.out(dh0_o, "dh0", {N, U});
  const Arr dc0 = s.out(dc0_o, "dc0", {N, U});
  const Arr dg = s.out(dg_o, "dgates", {N, T, s.G});
  expect_all_disjoint(s.where,
                      {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                       {dh0, "dh0"}, {dc0, "dc0"}, {dg, "dgates"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {h0, "h0"}, {c0, "c0"}, {m, "mask"}, {rm, "recurrent_mask"},
                       {gates, "gates"}, {hseq, "h_seq"}, {cseq, "c_seq"}, {dhseq, "dh_seq"},
                       {dhlast, "dh_last"}, {dclast, "dc_last"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    lstm_sequence_backward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec), p<V>(h0),
                              p<V>(c0), p<V>(m), p<V>(rm), act, ract, p<V>(gates), p<V>(hseq),
                              p<V>(cseq),
                              p<V>(dhseq), p<V>(dhlast), p<V>(dclast), p<V>(dx), p<V>(dk),
                              p<V>(dr), p<V>(db), p<V>(dh0), p<V>(dc0), p<V>(dg));
  });
}

// ---- GRU -----------------------------------------------------------------------------------
void gru_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                       py::handle h0_o, py::handle m_o, py::handle rm_o, int act, int ract,
                       bool reset_after, py::handle gates_o, py::handle rh_o,
                       py::handle hseq_o) {
  const Seq s("gru_sequence_forward", x_o, k_o, r_o, 3);
  const auto [N, T, F, U] = s.shape;
  (void)F;
  s.activation(act, "activation");
  s.activation(ract, "recurrent_activation");
  const Arr b = reset_after ? s.opt_in(b_o, "bias", {2, s.G}) : s.opt_in(b_o, "bias", {s.G});
  const Arr h0 = s.state(h0_o, "h0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, s.G});
  const Arr gates = s.out(gates_o, "gates", {N, T, s.G});
  const Arr rh = s.out(rh_o, "rh", {N, T, U});
  const Arr hseq = s.out(hseq_o, "h_seq", {N, T, U});
  expect_all_disjoint(s.where, {{gates, "gates"}, {rh, "rh"}, {hseq, "h_seq"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {b, "bias"}, {h0, "h0"}, {m, "mask"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    gru_sequence_forward<V>(s.shape, reset_after, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                            p<V>(b), p<V>(h0), p<V>(m), p<V>(rm), act, ract, p<V>(gates),
                            p<V>(rh), p<V>(hseq));
  });
}

void gru_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                        py::handle m_o, py::handle rm_o, int act, int ract, bool reset_after,
                        py::handle gates_o,
                        py::handle rh_o, py::handle hseq_o, py::handle dhseq_o,
                        py::handle dhlast_o, py::handle dx_o, py::handle dk_o, py::handle dr_o,
                        py::handle db_o, py::handle dh0_o, py::handle dg_o, py::handle ds_o) {
  const Seq s("gru_sequence_backward", x_o, k_o, r_o, 3);
  const auto [N, T, F, U] = s.shape;
  s.activation(act, "activation");
  s.activation(ract, "recurrent_activation");
  const Arr h0 = s.state(h0_o, "h0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, s.G});
  const Arr gates = s.in(gates_o, "gates", {N, T, s.G});
  const Arr rh = s.in(rh_o, "rh", {N, T, U});
  const Arr hseq = s.in(hseq_o, "h_seq", {N, T, U});
  const Arr dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
  const Arr dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
  const Arr dx = s.opt_out(dx_o, "dx", {N, T, F});
  const Arr dk = s.out(dk_o, "dkernel", {F, s.G});
  const Arr dr = s.out(dr_o, "drecurrent_kernel", {U, s.G});
  const Arr db = reset_after ? s.opt_out(db_o, "dbias", {2, s.G}) : s.opt_out(db_o, "dbias", {s.G});
  const Arr dh0 = s.out(dh0_o, "dh0", {N, U});
  const Arr dg = s.out(dg_o, "dgates", {N, T, s.G});
  const Arr ds = reset_after ? s.out(ds_o, "ds", {N, T, s.G}) : Arr{};
  expect_all_disjoint(s.where,
                      {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                       {dh0, "dh0"}, {dg, "dgates"}, {ds, "ds"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {h0, "h0"}, {m, "mask"}, {gates, "gates"}, {rh, "rh"}, {hseq, "h_seq"},
                       {dhseq, "dh_seq"}, {dhlast, "dh_last"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    gru_sequence_backward<V>(s.shape, reset_after, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                             p<V>(h0), p<V>(m), p<V>(rm), act, ract, p<V>(gates), p<V>(rh),
                             p<V>(hseq),
                             p<V>(dhseq), p<V>(dhlast), p<V>(dx), p<V>(dk), p<V>(dr), p<V>(db),
                             p<V>(dh0), p<V>(dg), p<V>(ds));
  });
}

// ---- SimpleRNN -----------------------------------------------------------------------------
void simple_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                          py::handle h0_o, py::handle m_o, py::handle rm_o, int act,
                          py::handle gates_o, py::handle hseq_o) {
  const Seq s("simple_rnn_sequence_forward", x_o, k_o, r_o, 1);
  const auto [N, T, F, U] = s.shape;
  (void)F;
  s.activation(act, "activation");
  const Arr b = s.opt_in(b_o, "bias", {U});
  const Arr h0 = s.state(h0_o, "h0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, U});
  const Arr gates = s.out(gates_o, "gates", {N, T, U});
  const Arr hseq = s.out(hseq_o, "h_seq", {N, T, U});
  expect_all_disjoint(s.where, {{gates, "gates"}, {hseq, "h_seq"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {b, "bias"}, {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    simple_rnn_sequence_forward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec), p<V>(b),
                                   p<V>(h0), p<V>(m), p<V>(rm), act, p<V>(gates), p<V>(hseq));
  });
}

void simple_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                           py::handle m_o, py::handle rm_o, int act, py::handle hseq_o,
                           py::handle dhseq_o,
                           py::handle dhlast_o, py::handle dx_o, py::handle dk_o,
                           py::handle dr_o, py::handle db_o, py::handle dh0_o,
                           py::handle dg_o) {
  const Seq s("simple_rnn_sequence_backward", x_o, k_o, r_o, 1);
  const auto [N, T, F, U] = s.shape;
  s.activation(act, "activation");
  const Arr h0 = s.state(h0_o, "h0");
  const Arr m = s.mask(m_o);
  const Arr rm = s.opt_in(rm_o, "recurrent_mask", {N, U});
  const Arr hseq = s.in(hseq_o, "h_seq", {N, T, U});
  const Arr dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
  const Arr dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
  const Arr dx = s.opt_out(dx_o, "dx", {N, T, F});
  const Arr dk = s.out(dk_o, "dkernel", {F, U});
  const Arr dr = s.out(dr_o, "drecurrent_kernel", {U, U});
  const Arr db = s.opt_out(db_o, "dbias", {U});
  const Arr dh0 = s.out(dh0_o, "dh0", {N, U});
  const Arr dg = s.out(dg_o, "gates", {N, T, U});
  expect_all_disjoint(s.where,
                      {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                       {dh0, "dh0"}, {dg, "gates"}},
                      {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                       {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}, {hseq, "h_seq"},
                       {dhseq, "dh_seq"}, {dhlast, "dh_last"}});
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    simple_rnn_sequence_backward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec), p<V>(h0),
                                    p<V>(m), p<V>(rm), act, p<V>(hseq), p<V>(dhseq),
                                    p<V>(dhlast),
                                    p<V>(dx), p<V>(dk), p<V>(dr), p<V>(db), p<V>(dh0),
                                    p<V>(dg));
  });
}

}  // namespace

void bind_rnn(py::module_& m) {
  using py::arg;
  m.def("lstm_sequence_forward", &lstm_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("c0"), arg("mask"),
        arg("recurrent_mask"), arg("activation"), arg("recurrent_activation"), arg("gates"),
        arg("h_seq"), arg("c_seq"),
        "Whole-sequence LSTM forward (csrc/cpu/rnn.h). Writes gates (N, T, 4U), h_seq and "
        "c_seq (N, T, U).");
  m.def("lstm_sequence_backward", &lstm_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("c0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("recurrent_activation"), arg("gates"), arg("h_seq"),
        arg("c_seq"), arg("dh_seq"),
        arg("dh_last"), arg("dc_last"), arg("dx"), arg("dkernel"), arg("drecurrent_kernel"),
        arg("dbias"), arg("dh0"), arg("dc0"), arg("dgates"),
        "Whole-sequence LSTM backward through time; gradients are assigned.");
  m.def("gru_sequence_forward", &gru_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"),
        arg("recurrent_activation"), arg("reset_after"), arg("gates"), arg("rh"), arg("h_seq"),
        "Whole-sequence GRU forward (Keras gate order z, r, h).");
  m.def("gru_sequence_backward", &gru_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"),
        arg("recurrent_activation"), arg("reset_after"), arg("gates"), arg("rh"), arg("h_seq"),
        arg("dh_seq"), arg("dh_last"), arg("dx"), arg("dkernel"), arg("drecurrent_kernel"),
        arg("dbias"), arg("dh0"), arg("dgates"), arg("ds"),
        "Whole-sequence GRU backward through time; gradients are assigned.");
  m.def("simple_rnn_sequence_forward", &simple_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("gates"), arg("h_seq"), "Whole-sequence SimpleRNN forward.");
  m.def("simple_rnn_sequence_backward", &simple_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("h_seq"), arg("dh_seq"), arg("dh_last"), arg("dx"), arg("dkernel"), arg("drecurrent_kernel"),
        arg("dbias"), arg("dh0"), arg("gates"),
        "Whole-sequence SimpleRNN backward through time; gradients are assigned. `gates` is the "
        "forward's gates buffer: read as the pre-activations, overwritten with their "
        "gradients.");
}

}  // namespace lamina::bind
