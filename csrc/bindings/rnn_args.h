// Argument checking of the recurrent entry points (lstm / gru / simple_rnn _sequence_forward /
// _backward), shared by lamina._cpu (bindings/cpu_rnn.cpp, numpy arrays) and lamina._cuda
// (bindings/cuda_rnn.cpp, cupy arrays): both run these very constructors, so they check the same
// things in the same order and raise the same messages. Header-only (the two modules do not
// link each other's bindings). Contract of the arrays: csrc/cpu/rnn.h.
//
// A is Arr (read by array_arg) or DevArr (read by device_array_arg, bindings/cuda_arrays.h); an
// *Args object holds every validated array of one call, absent optional ones with data == null.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "bindings/arrays.h"
#include "bindings/overlap.h"
#include "common/lstm_math.h"
#include "common/rnn_shape.h"

namespace lamina::bind {

// The element pointer of a validated array, or null for an absent optional one.
template <class T, class A>
T* data_or_null(const A& a) {
  return a.data ? a.template ptr<T>() : nullptr;
}

// The arrays every entry shares, checked once: x (N, T, F), kernel (F, G), recurrent (U, G),
// G = gates_per_unit * U; plus the helpers that check the others against them.
template <class A, ArrayReader<A> Read>
struct RnnSeq {
  using i64 = std::int64_t;
  const char* where;
  A x, kernel, rec;
  RnnShape shape{};
  DType dt{};
  i64 G = 0;

  RnnSeq(const char* w, py::handle x_obj, py::handle k_obj, py::handle r_obj,
         i64 gates_per_unit)
      : where(w),
        x(Read(x_obj, w, "x", kRead, kContiguous, kAnyDType)),
        kernel(Read(k_obj, w, "kernel", kRead, kContiguous, kAnyDType)),
        rec(Read(r_obj, w, "recurrent_kernel", kRead, kContiguous, kAnyDType)) {
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

  A in(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    A a = Read(obj, where, name, kRead, kContiguous, kAnyDType);
    expect_dtype(a, dt, where, name);
    expect_shape(a, dims, where, name);
    return a;
  }
  A opt_in(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    if (obj.is_none()) return A{};
    return in(obj, name, dims);
  }
  A out(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    A a = Read(obj, where, name, kWrite, kContiguous, kAnyDType);
    expect_dtype(a, dt, where, name);
    expect_shape(a, dims, where, name);
    return a;
  }
  A opt_out(py::handle obj, const char* name, std::initializer_list<i64> dims) const {
    if (obj.is_none()) return A{};
    return out(obj, name, dims);
  }
  A mask(py::handle obj) const { return opt_in(obj, "mask", {shape.N, shape.T}); }
  A state(py::handle obj, const char* name) const { return in(obj, name, {shape.N, shape.U}); }
  // recurrent_mask: (N, G), one keep mask per gate.
  A rmask(py::handle obj) const { return opt_in(obj, "recurrent_mask", {shape.N, G}); }

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

// ---- LSTM ------------------------------------------------------------------------------------
template <class A, ArrayReader<A> Read>
struct LstmForwardArgs {
  RnnSeq<A, Read> s;
  int act, ract;
  A b, h0, c0, m, rm, gates, hseq, cseq;

  LstmForwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                  py::handle h0_o, py::handle c0_o, py::handle m_o, py::handle rm_o, int act_code,
                  int ract_code, py::handle gates_o, py::handle hseq_o, py::handle cseq_o)
      : s("lstm_sequence_forward", x_o, k_o, r_o, 4), act(act_code), ract(ract_code) {
    const auto [N, T, F, U] = s.shape;
    (void)F;
    s.activation(act, "activation");
    s.activation(ract, "recurrent_activation");
    b = s.opt_in(b_o, "bias", {s.G});
    h0 = s.state(h0_o, "h0");
    c0 = s.state(c0_o, "c0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    gates = s.out(gates_o, "gates", {N, T, s.G});
    hseq = s.out(hseq_o, "h_seq", {N, T, U});
    cseq = s.out(cseq_o, "c_seq", {N, T, U});
    expect_all_disjoint(s.where, {{gates, "gates"}, {hseq, "h_seq"}, {cseq, "c_seq"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {b, "bias"}, {h0, "h0"}, {c0, "c0"}, {m, "mask"},
                         {rm, "recurrent_mask"}});
  }
};

template <class A, ArrayReader<A> Read>
struct LstmBackwardArgs {
  RnnSeq<A, Read> s;
  int act, ract;
  A h0, c0, m, rm, gates, hseq, cseq, dhseq, dhlast, dclast, dx, dk, dr, db, dh0, dc0, dg;

  LstmBackwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                   py::handle c0_o, py::handle m_o, py::handle rm_o, int act_code, int ract_code,
                   py::handle gates_o, py::handle hseq_o, py::handle cseq_o, py::handle dhseq_o,
                   py::handle dhlast_o, py::handle dclast_o, py::handle dx_o, py::handle dk_o,
                   py::handle dr_o, py::handle db_o, py::handle dh0_o, py::handle dc0_o,
                   py::handle dg_o)
      : s("lstm_sequence_backward", x_o, k_o, r_o, 4), act(act_code), ract(ract_code) {
    const auto [N, T, F, U] = s.shape;
    s.activation(act, "activation");
    s.activation(ract, "recurrent_activation");
    h0 = s.state(h0_o, "h0");
    c0 = s.state(c0_o, "c0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    gates = s.in(gates_o, "gates", {N, T, s.G});
    hseq = s.in(hseq_o, "h_seq", {N, T, U});
    cseq = s.in(cseq_o, "c_seq", {N, T, U});
    dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
    dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
    dclast = s.opt_in(dclast_o, "dc_last", {N, U});
    dx = s.opt_out(dx_o, "dx", {N, T, F});
    dk = s.out(dk_o, "dkernel", {F, s.G});
    dr = s.out(dr_o, "drecurrent_kernel", {U, s.G});
    db = s.opt_out(db_o, "dbias", {s.G});
    dh0 = s.out(dh0_o, "dh0", {N, U});
    dc0 = s.out(dc0_o, "dc0", {N, U});
    dg = s.out(dg_o, "dgates", {N, T, s.G});
    expect_all_disjoint(s.where,
                        {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                         {dh0, "dh0"}, {dc0, "dc0"}, {dg, "dgates"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {h0, "h0"}, {c0, "c0"}, {m, "mask"}, {rm, "recurrent_mask"},
                         {hseq, "h_seq"}, {cseq, "c_seq"}, {dhseq, "dh_seq"},
                         {dhlast, "dh_last"}, {dclast, "dc_last"}});
    // dgates may be gates itself (the in-place backward); no other output may touch gates.
    expect_same_or_disjoint(dg, gates, s.where, "dgates", "gates");
    expect_all_disjoint(s.where,
                        {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                         {dh0, "dh0"}, {dc0, "dc0"}},
                        {{gates, "gates"}});
  }
};

// ---- GRU -------------------------------------------------------------------------------------
template <class A, ArrayReader<A> Read>
struct GruForwardArgs {
  RnnSeq<A, Read> s;
  int act, ract;
  bool reset_after;
  A b, h0, m, rm, gates, rh, hseq;

  GruForwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                 py::handle h0_o, py::handle m_o, py::handle rm_o, int act_code, int ract_code,
                 bool reset_after_flag, py::handle gates_o, py::handle rh_o, py::handle hseq_o)
      : s("gru_sequence_forward", x_o, k_o, r_o, 3),
        act(act_code),
        ract(ract_code),
        reset_after(reset_after_flag) {
    const auto [N, T, F, U] = s.shape;
    (void)F;
    s.activation(act, "activation");
    s.activation(ract, "recurrent_activation");
    b = reset_after ? s.opt_in(b_o, "bias", {2, s.G}) : s.opt_in(b_o, "bias", {s.G});
    h0 = s.state(h0_o, "h0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    gates = s.out(gates_o, "gates", {N, T, s.G});
    rh = s.out(rh_o, "rh", {N, T, U});
    hseq = s.out(hseq_o, "h_seq", {N, T, U});
    expect_all_disjoint(s.where, {{gates, "gates"}, {rh, "rh"}, {hseq, "h_seq"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {b, "bias"}, {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}});
  }
};

template <class A, ArrayReader<A> Read>
struct GruBackwardArgs {
  RnnSeq<A, Read> s;
  int act, ract;
  bool reset_after;
  A h0, m, rm, gates, rh, hseq, dhseq, dhlast, dx, dk, dr, db, dh0, dg, ds;

  GruBackwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                  py::handle m_o, py::handle rm_o, int act_code, int ract_code,
                  bool reset_after_flag, py::handle gates_o, py::handle rh_o, py::handle hseq_o,
                  py::handle dhseq_o, py::handle dhlast_o, py::handle dx_o, py::handle dk_o,
                  py::handle dr_o, py::handle db_o, py::handle dh0_o, py::handle dg_o,
                  py::handle ds_o)
      : s("gru_sequence_backward", x_o, k_o, r_o, 3),
        act(act_code),
        ract(ract_code),
        reset_after(reset_after_flag) {
    const auto [N, T, F, U] = s.shape;
    s.activation(act, "activation");
    s.activation(ract, "recurrent_activation");
    h0 = s.state(h0_o, "h0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    gates = s.in(gates_o, "gates", {N, T, s.G});
    rh = s.in(rh_o, "rh", {N, T, U});
    hseq = s.in(hseq_o, "h_seq", {N, T, U});
    dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
    dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
    dx = s.opt_out(dx_o, "dx", {N, T, F});
    dk = s.out(dk_o, "dkernel", {F, s.G});
    dr = s.out(dr_o, "drecurrent_kernel", {U, s.G});
    db = reset_after ? s.opt_out(db_o, "dbias", {2, s.G}) : s.opt_out(db_o, "dbias", {s.G});
    dh0 = s.out(dh0_o, "dh0", {N, U});
    dg = s.out(dg_o, "dgates", {N, T, s.G});
    ds = reset_after ? s.out(ds_o, "ds", {N, T, s.G}) : A{};
    expect_all_disjoint(s.where,
                        {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                         {dh0, "dh0"}, {dg, "dgates"}, {ds, "ds"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}, {gates, "gates"},
                         {rh, "rh"}, {hseq, "h_seq"}, {dhseq, "dh_seq"},
                         {dhlast, "dh_last"}});
  }
};

// ---- SimpleRNN -------------------------------------------------------------------------------
template <class A, ArrayReader<A> Read>
struct SimpleRnnForwardArgs {
  RnnSeq<A, Read> s;
  int act;
  A b, h0, m, rm, gates, hseq;

  SimpleRnnForwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                       py::handle h0_o, py::handle m_o, py::handle rm_o, int act_code,
                       py::handle gates_o, py::handle hseq_o)
      : s("simple_rnn_sequence_forward", x_o, k_o, r_o, 1), act(act_code) {
    const auto [N, T, F, U] = s.shape;
    (void)F;
    s.activation(act, "activation");
    b = s.opt_in(b_o, "bias", {U});
    h0 = s.state(h0_o, "h0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    gates = s.out(gates_o, "gates", {N, T, U});
    hseq = s.out(hseq_o, "h_seq", {N, T, U});
    expect_all_disjoint(s.where, {{gates, "gates"}, {hseq, "h_seq"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {b, "bias"}, {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}});
  }
};

// `gates` (named so in the message) is the forward's gates buffer: read as the pre-activations,
// overwritten with their gradients.
template <class A, ArrayReader<A> Read>
struct SimpleRnnBackwardArgs {
  RnnSeq<A, Read> s;
  int act;
  A h0, m, rm, hseq, dhseq, dhlast, dx, dk, dr, db, dh0, dg;

  SimpleRnnBackwardArgs(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                        py::handle m_o, py::handle rm_o, int act_code, py::handle hseq_o,
                        py::handle dhseq_o, py::handle dhlast_o, py::handle dx_o,
                        py::handle dk_o, py::handle dr_o, py::handle db_o, py::handle dh0_o,
                        py::handle dg_o)
      : s("simple_rnn_sequence_backward", x_o, k_o, r_o, 1), act(act_code) {
    const auto [N, T, F, U] = s.shape;
    s.activation(act, "activation");
    h0 = s.state(h0_o, "h0");
    m = s.mask(m_o);
    rm = s.rmask(rm_o);
    hseq = s.in(hseq_o, "h_seq", {N, T, U});
    dhseq = s.opt_in(dhseq_o, "dh_seq", {N, T, U});
    dhlast = s.opt_in(dhlast_o, "dh_last", {N, U});
    dx = s.opt_out(dx_o, "dx", {N, T, F});
    dk = s.out(dk_o, "dkernel", {F, U});
    dr = s.out(dr_o, "drecurrent_kernel", {U, U});
    db = s.opt_out(db_o, "dbias", {U});
    dh0 = s.out(dh0_o, "dh0", {N, U});
    dg = s.out(dg_o, "gates", {N, T, U});
    expect_all_disjoint(s.where,
                        {{dx, "dx"}, {dk, "dkernel"}, {dr, "drecurrent_kernel"}, {db, "dbias"},
                         {dh0, "dh0"}, {dg, "gates"}},
                        {{s.x, "x"}, {s.kernel, "kernel"}, {s.rec, "recurrent_kernel"},
                         {h0, "h0"}, {m, "mask"}, {rm, "recurrent_mask"}, {hseq, "h_seq"},
                         {dhseq, "dh_seq"}, {dhlast, "dh_last"}});
  }
};

}  // namespace lamina::bind
