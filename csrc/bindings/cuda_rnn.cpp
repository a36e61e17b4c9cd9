// lamina._cuda recurrent entry points: lstm/gru/simple_rnn _sequence_forward/_backward, the
// twins of bindings/cpu_rnn.cpp: the same names and arguments plus the keyword-only `stream`,
// and the very same checks and messages (bindings/rnn_args.h). Kernels: csrc/cuda/rnn.h.
#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/rnn_args.h"
#include "cuda/rnn.h"

namespace lamina::bind {

namespace {

using LstmForward = LstmForwardArgs<DevArr, device_array_arg>;
using LstmBackward = LstmBackwardArgs<DevArr, device_array_arg>;
using GruForward = GruForwardArgs<DevArr, device_array_arg>;
using GruBackward = GruBackwardArgs<DevArr, device_array_arg>;
using SimpleForward = SimpleRnnForwardArgs<DevArr, device_array_arg>;
using SimpleBackward = SimpleRnnBackwardArgs<DevArr, device_array_arg>;

template <class T>
T* p(const DevArr& a) { return data_or_null<T>(a); }

// ---- LSTM ----------------------------------------------------------------------------------
void lstm_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                        py::handle h0_o, py::handle c0_o, py::handle m_o, py::handle rm_o,
                        int act, int ract, py::handle gates_o, py::handle hseq_o,
                        py::handle cseq_o, std::uintptr_t stream) {
  const LstmForward a(x_o, k_o, r_o, b_o, h0_o, c0_o, m_o, rm_o, act, ract, gates_o, hseq_o,
                      cseq_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::lstm_sequence_forward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec), p<V>(a.b),
                                   p<V>(a.h0), p<V>(a.c0), p<V>(a.m), p<V>(a.rm), act, ract,
                                   p<V>(a.gates), p<V>(a.hseq), p<V>(a.cseq),
                                   stream_arg(stream));
  });
}

void lstm_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                         py::handle c0_o, py::handle m_o, py::handle rm_o, int act, int ract,
                         py::handle gates_o, py::handle hseq_o, py::handle cseq_o,
                         py::handle dhseq_o, py::handle dhlast_o, py::handle dclast_o,
                         py::handle dx_o, py::handle dk_o, py::handle dr_o, py::handle db_o,
                         py::handle dh0_o, py::handle dc0_o, py::handle dg_o,
                         std::uintptr_t stream) {
  const LstmBackward a(x_o, k_o, r_o, h0_o, c0_o, m_o, rm_o, act, ract, gates_o, hseq_o, cseq_o,
                       dhseq_o, dhlast_o, dclast_o, dx_o, dk_o, dr_o, db_o, dh0_o, dc0_o, dg_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::lstm_sequence_backward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                                    p<V>(a.h0), p<V>(a.c0), p<V>(a.m), p<V>(a.rm), act, ract,
                                    p<V>(a.gates), p<V>(a.hseq), p<V>(a.cseq), p<V>(a.dhseq),
                                    p<V>(a.dhlast), p<V>(a.dclast), p<V>(a.dx), p<V>(a.dk),
                                    p<V>(a.dr), p<V>(a.db), p<V>(a.dh0), p<V>(a.dc0),
                                    p<V>(a.dg), stream_arg(stream));
  });
}

// ---- GRU -----------------------------------------------------------------------------------
void gru_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                       py::handle h0_o, py::handle m_o, py::handle rm_o, int act, int ract,
                       bool reset_after, py::handle gates_o, py::handle rh_o, py::handle hseq_o,
                       std::uintptr_t stream) {
  const GruForward a(x_o, k_o, r_o, b_o, h0_o, m_o, rm_o, act, ract, reset_after, gates_o, rh_o,
                     hseq_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::gru_sequence_forward<V>(s.shape, reset_after, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                                  p<V>(a.b), p<V>(a.h0), p<V>(a.m), p<V>(a.rm), act, ract,
                                  p<V>(a.gates), p<V>(a.rh), p<V>(a.hseq), stream_arg(stream));
  });
}

void gru_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                        py::handle m_o, py::handle rm_o, int act, int ract, bool reset_after,
                        py::handle gates_o, py::handle rh_o, py::handle hseq_o,
                        py::handle dhseq_o, py::handle dhlast_o, py::handle dx_o,
                        py::handle dk_o, py::handle dr_o, py::handle db_o, py::handle dh0_o,
                        py::handle dg_o, py::handle ds_o, std::uintptr_t stream) {
  const GruBackward a(x_o, k_o, r_o, h0_o, m_o, rm_o, act, ract, reset_after, gates_o, rh_o,
                      hseq_o, dhseq_o, dhlast_o, dx_o, dk_o, dr_o, db_o, dh0_o, dg_o, ds_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::gru_sequence_backward<V>(s.shape, reset_after, p<V>(s.x), p<V>(s.kernel),
                                   p<V>(s.rec), p<V>(a.h0), p<V>(a.m), p<V>(a.rm), act, ract,
                                   p<V>(a.gates), p<V>(a.rh), p<V>(a.hseq), p<V>(a.dhseq),
                                   p<V>(a.dhlast), p<V>(a.dx), p<V>(a.dk), p<V>(a.dr),
                                   p<V>(a.db), p<V>(a.dh0), p<V>(a.dg), p<V>(a.ds),
                                   stream_arg(stream));
  });
}

// ---- SimpleRNN -----------------------------------------------------------------------------
void simple_forward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle b_o,
                          py::handle h0_o, py::handle m_o, py::handle rm_o, int act,
                          py::handle gates_o, py::handle hseq_o, std::uintptr_t stream) {
  const SimpleForward a(x_o, k_o, r_o, b_o, h0_o, m_o, rm_o, act, gates_o, hseq_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::simple_rnn_sequence_forward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                                         p<V>(a.b), p<V>(a.h0), p<V>(a.m), p<V>(a.rm), act,
                                         p<V>(a.gates), p<V>(a.hseq), stream_arg(stream));
  });
}

void simple_backward_entry(py::handle x_o, py::handle k_o, py::handle r_o, py::handle h0_o,
                           py::handle m_o, py::handle rm_o, int act, py::handle hseq_o,
                           py::handle dhseq_o, py::handle dhlast_o, py::handle dx_o,
                           py::handle dk_o, py::handle dr_o, py::handle db_o, py::handle dh0_o,
                           py::handle dg_o, std::uintptr_t stream) {
  const SimpleBackward a(x_o, k_o, r_o, h0_o, m_o, rm_o, act, hseq_o, dhseq_o, dhlast_o, dx_o,
                         dk_o, dr_o, db_o, dh0_o, dg_o);
  const auto& s = a.s;
  dispatch_float(s.dt, [&](auto zero) {
    using V = decltype(zero);
    py::gil_scoped_release nogil;
    cuda::simple_rnn_sequence_backward<V>(s.shape, p<V>(s.x), p<V>(s.kernel), p<V>(s.rec),
                                          p<V>(a.h0), p<V>(a.m), p<V>(a.rm), act, p<V>(a.hseq),
                                          p<V>(a.dhseq), p<V>(a.dhlast), p<V>(a.dx), p<V>(a.dk),
                                          p<V>(a.dr), p<V>(a.db), p<V>(a.dh0), p<V>(a.dg),
                                          stream_arg(stream));
  });
}

}  // namespace

// Argument names as lamina._cpu's (tests/test_cuda_rnn.py compares the two signatures).
void bind_cuda_rnn(py::module_& m) {
  using py::arg;
  m.def("lstm_sequence_forward", &lstm_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("c0"), arg("mask"),
        arg("recurrent_mask"), arg("activation"), arg("recurrent_activation"), arg("gates"),
        arg("h_seq"), arg("c_seq"), py::kw_only(), arg("stream"),
        "Whole-sequence LSTM forward on `stream` (csrc/cuda/rnn.h). Writes gates (N, T, 4U), "
        "h_seq and c_seq (N, T, U).");
  m.def("lstm_sequence_backward", &lstm_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("c0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("recurrent_activation"), arg("gates"), arg("h_seq"),
        arg("c_seq"), arg("dh_seq"), arg("dh_last"), arg("dc_last"), arg("dx"), arg("dkernel"),
        arg("drecurrent_kernel"), arg("dbias"), arg("dh0"), arg("dc0"), arg("dgates"),
        py::kw_only(), arg("stream"),
        "Whole-sequence LSTM backward through time on `stream`; gradients are assigned. dgates "
        "may be gates itself (the saved gates are then overwritten with their gradients).");
  m.def("gru_sequence_forward", &gru_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("recurrent_activation"), arg("reset_after"), arg("gates"),
        arg("rh"), arg("h_seq"), py::kw_only(), arg("stream"),
        "Whole-sequence GRU forward on `stream` (Keras gate order z, r, h).");
  m.def("gru_sequence_backward", &gru_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("recurrent_activation"), arg("reset_after"), arg("gates"),
        arg("rh"), arg("h_seq"), arg("dh_seq"), arg("dh_last"), arg("dx"), arg("dkernel"),
        arg("drecurrent_kernel"), arg("dbias"), arg("dh0"), arg("dgates"), arg("ds"),
        py::kw_only(), arg("stream"),
        "Whole-sequence GRU backward through time on `stream`; gradients are assigned.");
  m.def("simple_rnn_sequence_forward", &simple_forward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("gates"), arg("h_seq"), py::kw_only(), arg("stream"),
        "Whole-sequence SimpleRNN forward on `stream`.");
  m.def("simple_rnn_sequence_backward", &simple_backward_entry, arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("h0"), arg("mask"), arg("recurrent_mask"),
        arg("activation"), arg("h_seq"), arg("dh_seq"), arg("dh_last"), arg("dx"),
        arg("dkernel"), arg("drecurrent_kernel"), arg("dbias"), arg("dh0"), arg("gates"),
        py::kw_only(), arg("stream"),
        "Whole-sequence SimpleRNN backward through time on `stream`; gradients are assigned. "
        "`gates` is the forward's gates buffer: read as the pre-activations, overwritten with "
        "their gradients.");
}

}  // namespace lamina::bind
