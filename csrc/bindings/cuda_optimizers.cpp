// lamina._cuda optimizer entry points: see csrc/cuda/optimizers.h (formulas of
// csrc/cpu/optimizers.h). Same lists and checks as lamina._cpu's: every element of every list
// is checked, with its index in the message, before anything is queued.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/cuda_arrays.h"
#include "bindings/cuda_families.h"
#include "bindings/overlap.h"
#include "cuda/optimizers.h"

namespace lamina::bind {

namespace {

struct StateList {
  const char* name;
  py::handle obj;
  bool required;
};

struct ParamLists {
  std::vector<ParamSlots<float>> f32;
  std::vector<ParamSlots<double>> f64;
};

py::sequence list_arg(py::handle obj, const char* where, const char* name) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
    fail_type(where, name, std::string("expected a list of cupy arrays, got ") +
                               Py_TYPE(obj.ptr())->tp_name);
  }
  return py::reinterpret_borrow<py::sequence>(obj);
}

template <class T>
ParamSlots<T> slots_of(const Arr& w, const Arr& g, const DevArr* states, std::size_t n_states) {
  ParamSlots<T> s{w.ptr<T>(), g.ptr<T>(), {nullptr, nullptr, nullptr}, w.size()};
  for (std::size_t k = 0; k < n_states; ++k) {
    if (states[k].present()) s.state[k] = states[k].ptr<T>();
  }
  return s;
}

ParamLists collect(const char* where, py::handle params_obj, py::handle grads_obj,
                   std::initializer_list<StateList> state_lists) {
  const py::sequence params = list_arg(params_obj, where, "params");
  const py::sequence grads = list_arg(grads_obj, where, "grads");
  const std::size_t n = params.size();
  auto expect_length = [&](const py::sequence& seq, const char* name) {
    if (seq.size() != n) {
      fail_value(where, name, "expected a list of " + std::to_string(n) +
                                  " arrays (one per param), got " + std::to_string(seq.size()));
    }
  };
  expect_length(grads, "grads");
  std::vector<StateList> lists(state_lists);
  std::vector<py::sequence> states(lists.size());
  for (std::size_t k = 0; k < lists.size(); ++k) {
    if (lists[k].obj.is_none()) {
      if (lists[k].required) {
        fail_value(where, lists[k].name, "expected a list of arrays (this configuration "
                                         "updates it), got None");
      }
      continue;
    }
    states[k] = list_arg(lists[k].obj, where, lists[k].name);
    expect_length(states[k], lists[k].name);
  }
  ParamLists out;
  std::vector<TensorBuffers> buffers;
  buffers.reserve(n);
  DevArr st[3];
  for (std::size_t i = 0; i < n; ++i) {
    const std::string idx = "[" + std::to_string(i) + "]";
    const std::string wname = "params" + idx, gname = "grads" + idx;
    const DevArr w = device_array_arg(params[i], where, wname.c_str(), kWrite);
    expect_float(w, where, wname.c_str());
    const DevArr g = device_array_arg(grads[i], where, gname.c_str());
    expect_dtype(g, w.dtype, where, gname.c_str());
    expect_same_shape(g, w, where, gname.c_str(), wname.c_str());
    for (std::size_t k = 0; k < lists.size(); ++k) {
      st[k] = DevArr{};
      if (lists[k].obj.is_none()) continue;
      const std::string sname = lists[k].name + idx;
      st[k] = device_array_arg(states[k][i], where, sname.c_str(), kWrite);
      expect_dtype(st[k], w.dtype, where, sname.c_str());
      expect_same_shape(st[k], w, where, sname.c_str(), wname.c_str());
    }
    std::array<const char*, 5> starts{w.data, g.data, nullptr, nullptr, nullptr};
    for (std::size_t k = 0; k < lists.size(); ++k) starts[2 + k] = st[k].data;
    buffers.push_back({starts, w.size() * item_size(w)});
    if (w.dtype == DType::f64) out.f64.push_back(slots_of<double>(w, g, st, lists.size()));
    else out.f32.push_back(slots_of<float>(w, g, st, lists.size()));
  }
  expect_buffers_disjoint(where, buffers, 2 + lists.size(), [&](std::size_t k, std::size_t i) {
    const char* list = k == 0 ? "params" : k == 1 ? "grads" : lists[k - 2].name;
    return std::string(list) + "[" + std::to_string(i) + "]";
  });
  return out;
}

// One launch per dtype present.
template <class Options>
void run(const ParamLists& lists, const Options& o, std::uintptr_t stream,
         void (*f32)(const ParamSlots<float>*, std::int64_t, const Options&, cudaStream_t),
         void (*f64)(const ParamSlots<double>*, std::int64_t, const Options&, cudaStream_t)) {
  py::gil_scoped_release nogil;
  const cudaStream_t s = stream_arg(stream);
  if (!lists.f32.empty()) f32(lists.f32.data(), static_cast<std::int64_t>(lists.f32.size()), o, s);
  if (!lists.f64.empty()) f64(lists.f64.data(), static_cast<std::int64_t>(lists.f64.size()), o, s);
}

void check_step(const char* where, std::int64_t step) {
  if (step < 1) {
    fail_value(where, "step", "expected the 1-based iteration (>= 1), got " + std::to_string(step));
  }
}

void sgd_entry(py::handle params, py::handle grads, py::handle momenta, double lr,
               double momentum, bool nesterov, double weight_decay, std::uintptr_t stream) {
  constexpr const char* where = "sgd_step";
  const ParamLists lists = collect(where, params, grads, {{"momenta", momenta, momentum != 0.0}});
  run(lists, SgdOptions{lr, momentum, nesterov, weight_decay}, stream, &cuda::sgd_step<float>,
      &cuda::sgd_step<double>);
}

void rmsprop_entry(py::handle params, py::handle grads, py::handle velocities, py::handle momenta,
                   py::handle average_grads, double lr, double rho, double epsilon,
                   double momentum, bool centered, double weight_decay, std::uintptr_t stream) {
  constexpr const char* where = "rmsprop_step";
  const ParamLists lists =
      collect(where, params, grads,
              {{"velocities", velocities, true},
               {"momenta", momentum > 0.0 ? momenta : py::none(), momentum > 0.0},
               {"average_grads", centered ? average_grads : py::none(), centered}});
  run(lists, RmspropOptions{lr, rho, epsilon, momentum, centered, weight_decay}, stream,
      &cuda::rmsprop_step<float>, &cuda::rmsprop_step<double>);
}

void adam_entry(py::handle params, py::handle grads, py::handle ms, py::handle vs,
                py::handle vhats, double lr, double beta1, double beta2, double epsilon,
                std::int64_t step, bool amsgrad, double weight_decay, std::uintptr_t stream) {
  constexpr const char* where = "adam_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads,
                                   {{"ms", ms, true},
                                    {"vs", vs, true},
                                    {"vhats", amsgrad ? vhats : py::none(), amsgrad}});
  run(lists, AdamOptions{lr, beta1, beta2, epsilon, step, amsgrad, weight_decay}, stream,
      &cuda::adam_step<float>, &cuda::adam_step<double>);
}

void adagrad_entry(py::handle params, py::handle grads, py::handle accumulators, double lr,
                   double epsilon, double weight_decay, std::uintptr_t stream) {
  const ParamLists lists =
      collect("adagrad_step", params, grads, {{"accumulators", accumulators, true}});
  run(lists, AdagradOptions{lr, epsilon, weight_decay}, stream, &cuda::adagrad_step<float>,
      &cuda::adagrad_step<double>);
}

void adamax_entry(py::handle params, py::handle grads, py::handle ms, py::handle us, double lr,
                  double beta1, double beta2, double epsilon, std::int64_t step,
                  double weight_decay, std::uintptr_t stream) {
  constexpr const char* where = "adamax_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads, {{"ms", ms, true}, {"us", us, true}});
  run(lists, AdamaxOptions{lr, beta1, beta2, epsilon, step, weight_decay}, stream,
      &cuda::adamax_step<float>, &cuda::adamax_step<double>);
}

// Keras' Nadam running product, as lamina._cpu computes it (cpu/optimizers.cpp's
// nadam_u_product, repeated here because lamina._cuda does not link the CPU kernels).
double nadam_u_product(double previous, double beta1, std::int64_t step) {
  return previous * beta1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(step)));
}

double nadam_entry(py::handle params, py::handle grads, py::handle ms, py::handle vs, double lr,
                   double beta1, double beta2, double epsilon, std::int64_t step,
                   double u_product, double weight_decay, std::uintptr_t stream) {
  constexpr const char* where = "nadam_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads, {{"ms", ms, true}, {"vs", vs, true}});
  const double u_now = nadam_u_product(u_product, beta1, step);
  run(lists, NadamOptions{lr, beta1, beta2, epsilon, step, u_now, weight_decay}, stream,
      &cuda::nadam_step<float>, &cuda::nadam_step<double>);
  return u_now;
}

void adadelta_entry(py::handle params, py::handle grads, py::handle accumulated_grads,
                    py::handle accumulated_deltas, double lr, double rho, double epsilon,
                    double weight_decay, std::uintptr_t stream) {
  const ParamLists lists = collect("adadelta_step", params, grads,
                                   {{"accumulated_grads", accumulated_grads, true},
                                    {"accumulated_deltas", accumulated_deltas, true}});
  run(lists, AdadeltaOptions{lr, rho, epsilon, weight_decay}, stream,
      &cuda::adadelta_step<float>, &cuda::adadelta_step<double>);
}

void lion_entry(py::handle params, py::handle grads, py::handle ms, double lr, double beta1,
                double beta2, double weight_decay, std::uintptr_t stream) {
  const ParamLists lists = collect("lion_step", params, grads, {{"ms", ms, true}});
  run(lists, LionOptions{lr, beta1, beta2, weight_decay}, stream, &cuda::lion_step<float>,
      &cuda::lion_step<double>);
}

}  // namespace

void bind_cuda_optimizers(py::module_& m) {
  m.def("sgd_step", &sgd_entry, py::arg("params"), py::arg("grads"), py::arg("momenta"),
        py::arg("lr"), py::arg("momentum"), py::arg("nesterov"), py::arg("weight_decay") = 0.0,
        py::kw_only(), py::arg("stream"),
        "Keras SGD over lists of cupy arrays, in place, one launch per dtype on `stream`.");
  m.def("rmsprop_step", &rmsprop_entry, py::arg("params"), py::arg("grads"),
        py::arg("velocities"), py::arg("momenta"), py::arg("average_grads"), py::arg("lr"),
        py::arg("rho"), py::arg("epsilon"), py::arg("momentum"), py::arg("centered"),
        py::arg("weight_decay") = 0.0, py::kw_only(), py::arg("stream"),
        "Keras RMSprop over lists of cupy arrays, in place (epsilon inside the square root).");
  m.def("adam_step", &adam_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("vs"), py::arg("vhats"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
        py::arg("epsilon"), py::arg("step"), py::arg("amsgrad") = false,
        py::arg("weight_decay") = 0.0, py::kw_only(), py::arg("stream"),
        "Keras Adam (AdamW with weight_decay) over lists of cupy arrays, in place.");
  m.def("adagrad_step", &adagrad_entry, py::arg("params"), py::arg("grads"),
        py::arg("accumulators"), py::arg("lr"), py::arg("epsilon"),
        py::arg("weight_decay") = 0.0, py::kw_only(), py::arg("stream"),
        "Keras Adagrad over lists of cupy arrays, in place.");
  m.def("adamax_step", &adamax_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("us"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"),
        py::arg("step"), py::arg("weight_decay") = 0.0, py::kw_only(), py::arg("stream"),
        "Keras Adamax over lists of cupy arrays, in place.");
  m.def("nadam_step", &nadam_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("vs"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"),
        py::arg("step"), py::arg("u_product"), py::arg("weight_decay") = 0.0, py::kw_only(),
        py::arg("stream"),
        "Keras Nadam over lists of cupy arrays, in place; returns the running momentum product "
        "after this step, to pass to the next call.");
  m.def("adadelta_step", &adadelta_entry, py::arg("params"), py::arg("grads"),
        py::arg("accumulated_grads"), py::arg("accumulated_deltas"), py::arg("lr"),
        py::arg("rho"), py::arg("epsilon"), py::arg("weight_decay") = 0.0, py::kw_only(),
        py::arg("stream"), "Keras Adadelta over lists of cupy arrays, in place.");
  m.def("lion_step", &lion_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay") = 0.0,
        py::kw_only(), py::arg("stream"), "Keras Lion over lists of cupy arrays, in place.");
}

}  // namespace lamina::bind
