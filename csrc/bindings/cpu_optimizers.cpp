// lamina._cpu optimizer entry points: see csrc/cpu/optimizers.h for the formulas.
//
// Each entry updates a whole list of parameters in one call: params[i] (updated in place),
// grads[i] and the state lists' [i] must all be C-contiguous arrays of params[i]'s shape and
// dtype (float32 or float64; different tensors may differ in dtype). Every element of every list
// is checked, with its index in the message, before any array is written.
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/arrays.h"
#include "bindings/families.h"
#include "bindings/overlap.h"
#include "cpu/optimizers.h"

namespace lamina::bind {

namespace {

// A state list argument: its name ("momenta") and whether this call needs it.
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
    fail_type(where, name, std::string("expected a list of numpy arrays, got ") +
                               Py_TYPE(obj.ptr())->tp_name);
  }
  return py::reinterpret_borrow<py::sequence>(obj);
}

template <class T>
ParamSlots<T> slots_of(const Arr& w, const Arr& g, const Arr* states, std::size_t n_states) {
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
  Arr st[3];
  for (std::size_t i = 0; i < n; ++i) {
    const std::string idx = "[" + std::to_string(i) + "]";
    const std::string wname = "params" + idx, gname = "grads" + idx;
    const Arr w = array_arg(params[i], where, wname.c_str(), kWrite);
    expect_float(w, where, wname.c_str());
    const Arr g = array_arg(grads[i], where, gname.c_str());
    expect_dtype(g, w.dtype, where, gname.c_str());
    expect_same_shape(g, w, where, gname.c_str(), wname.c_str());
    for (std::size_t k = 0; k < lists.size(); ++k) {
      st[k] = Arr{};
      if (lists[k].obj.is_none()) continue;
      const std::string sname = lists[k].name + idx;
      st[k] = array_arg(states[k][i], where, sname.c_str(), kWrite);
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

template <class Options>
void run(const ParamLists& lists, const Options& o,
         void (*f32)(const ParamSlots<float>*, std::int64_t, const Options&),
         void (*f64)(const ParamSlots<double>*, std::int64_t, const Options&)) {
  std::int64_t elements = 0;
  for (const auto& p : lists.f32) elements += p.n;
  for (const auto& p : lists.f64) elements += p.n;
  GilRelease nogil(elements >= kGilMinElements);
  if (!lists.f32.empty()) f32(lists.f32.data(), static_cast<std::int64_t>(lists.f32.size()), o);
  if (!lists.f64.empty()) f64(lists.f64.data(), static_cast<std::int64_t>(lists.f64.size()), o);
}

void check_step(const char* where, std::int64_t step) {
  if (step < 1) {
    fail_value(where, "step", "expected the 1-based iteration (>= 1), got " + std::to_string(step));
  }
}

void sgd_entry(py::handle params, py::handle grads, py::handle momenta, double lr,
               double momentum, bool nesterov, double weight_decay) {
  constexpr const char* where = "sgd_step";
  const ParamLists lists = collect(where, params, grads, {{"momenta", momenta, momentum != 0.0}});
  run(lists, SgdOptions{lr, momentum, nesterov, weight_decay}, &sgd_step<float>,
      &sgd_step<double>);
}

void rmsprop_entry(py::handle params, py::handle grads, py::handle velocities, py::handle momenta,
                   py::handle average_grads, double lr, double rho, double epsilon,
                   double momentum, bool centered, double weight_decay) {
  constexpr const char* where = "rmsprop_step";
  // Momenta are only read when momentum > 0, average gradients only when centered.
  const ParamLists lists =
      collect(where, params, grads,
              {{"velocities", velocities, true},
               {"momenta", momentum > 0.0 ? momenta : py::none(), momentum > 0.0},
               {"average_grads", centered ? average_grads : py::none(), centered}});
  run(lists, RmspropOptions{lr, rho, epsilon, momentum, centered, weight_decay},
      &rmsprop_step<float>, &rmsprop_step<double>);
}

void adam_entry(py::handle params, py::handle grads, py::handle ms, py::handle vs,
                py::handle vhats, double lr, double beta1, double beta2, double epsilon,
                std::int64_t step, bool amsgrad, double weight_decay) {
  constexpr const char* where = "adam_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads,
                                   {{"ms", ms, true},
                                    {"vs", vs, true},
                                    {"vhats", amsgrad ? vhats : py::none(), amsgrad}});
  run(lists, AdamOptions{lr, beta1, beta2, epsilon, step, amsgrad, weight_decay},
      &adam_step<float>, &adam_step<double>);
}

void adagrad_entry(py::handle params, py::handle grads, py::handle accumulators, double lr,
                   double epsilon, double weight_decay) {
  const ParamLists lists =
      collect("adagrad_step", params, grads, {{"accumulators", accumulators, true}});
  run(lists, AdagradOptions{lr, epsilon, weight_decay}, &adagrad_step<float>,
      &adagrad_step<double>);
}

void adamax_entry(py::handle params, py::handle grads, py::handle ms, py::handle us, double lr,
                  double beta1, double beta2, double epsilon, std::int64_t step,
                  double weight_decay) {
  constexpr const char* where = "adamax_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads, {{"ms", ms, true}, {"us", us, true}});
  run(lists, AdamaxOptions{lr, beta1, beta2, epsilon, step, weight_decay}, &adamax_step<float>,
      &adamax_step<double>);
}

double nadam_entry(py::handle params, py::handle grads, py::handle ms, py::handle vs, double lr,
                   double beta1, double beta2, double epsilon, std::int64_t step,
                   double u_product, double weight_decay) {
  constexpr const char* where = "nadam_step";
  check_step(where, step);
  const ParamLists lists = collect(where, params, grads, {{"ms", ms, true}, {"vs", vs, true}});
  const double u_now = nadam_u_product(u_product, beta1, step);
  run(lists, NadamOptions{lr, beta1, beta2, epsilon, step, u_now, weight_decay},
      &nadam_step<float>, &nadam_step<double>);
  return u_now;
}

void adadelta_entry(py::handle params, py::handle grads, py::handle accumulated_grads,
                    py::handle accumulated_deltas, double lr, double rho, double epsilon,
                    double weight_decay) {
  const ParamLists lists = collect("adadelta_step", params, grads,
                                   {{"accumulated_grads", accumulated_grads, true},
                                    {"accumulated_deltas", accumulated_deltas, true}});
  run(lists, AdadeltaOptions{lr, rho, epsilon, weight_decay}, &adadelta_step<float>,
      &adadelta_step<double>);
}

void lion_entry(py::handle params, py::handle grads, py::handle ms, double lr, double beta1,
                double beta2, double weight_decay) {
  const ParamLists lists = collect("lion_step", params, grads, {{"ms", ms, true}});
  run(lists, LionOptions{lr, beta1, beta2, weight_decay}, &lion_step<float>, &lion_step<double>);
}

}  // namespace

void bind_optimizers(py::module_& m) {
  m.def("sgd_step", &sgd_entry, py::arg("params"), py::arg("grads"), py::arg("momenta"),
        py::arg("lr"), py::arg("momentum"), py::arg("nesterov"), py::arg("weight_decay") = 0.0,
        "Keras SGD over lists of arrays, in place. momenta (or None when momentum == 0): "
        "m = momentum*m - lr*g; w += m (Nesterov: w += momentum*m - lr*g); without momenta "
        "w -= lr*g. weight_decay: w -= w*weight_decay*lr first.");
  m.def("rmsprop_step", &rmsprop_entry, py::arg("params"), py::arg("grads"),
        py::arg("velocities"), py::arg("momenta"), py::arg("average_grads"), py::arg("lr"),
        py::arg("rho"), py::arg("epsilon"), py::arg("momentum"), py::arg("centered"),
        py::arg("weight_decay") = 0.0,
        "Keras RMSprop over lists of arrays, in place (epsilon inside the square root). momenta "
        "are needed when momentum > 0, average_grads when centered; otherwise None.");
  m.def("adam_step", &adam_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("vs"), py::arg("vhats"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
        py::arg("epsilon"), py::arg("step"), py::arg("amsgrad") = false,
        py::arg("weight_decay") = 0.0,
        "Keras Adam (AdamW with weight_decay) over lists of arrays, in place. step is the "
        "1-based iteration; vhats (or None) are needed with amsgrad.");
  m.def("adagrad_step", &adagrad_entry, py::arg("params"), py::arg("grads"),
        py::arg("accumulators"), py::arg("lr"), py::arg("epsilon"),
        py::arg("weight_decay") = 0.0,
        "Keras Adagrad over lists of arrays, in place: acc += g^2; w -= lr*g/sqrt(acc + eps). "
        "Keras starts the accumulators at 0.1.");
  m.def("adamax_step", &adamax_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("us"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"),
        py::arg("step"), py::arg("weight_decay") = 0.0,
        "Keras Adamax over lists of arrays, in place. step is the 1-based iteration.");
  m.def("nadam_step", &nadam_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("vs"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"),
        py::arg("step"), py::arg("u_product"), py::arg("weight_decay") = 0.0,
        "Keras Nadam over lists of arrays, in place. u_product is Keras' running momentum "
        "product before this step (1.0 at step 1); returns the product after it, to pass to "
        "the next call.");
  m.def("adadelta_step", &adadelta_entry, py::arg("params"), py::arg("grads"),
        py::arg("accumulated_grads"), py::arg("accumulated_deltas"), py::arg("lr"),
        py::arg("rho"), py::arg("epsilon"), py::arg("weight_decay") = 0.0,
        "Keras Adadelta over lists of arrays, in place: a = rho*a + (1-rho)*g^2; "
        "delta = -sqrt(d + eps)*g/sqrt(a + eps); d = rho*d + (1-rho)*delta^2; w += lr*delta.");
  m.def("lion_step", &lion_entry, py::arg("params"), py::arg("grads"), py::arg("ms"),
        py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay") = 0.0,
        "Keras Lion over lists of arrays, in place: w -= lr*sign(b1*m + (1-b1)*g); "
        "m = b2*m + (1-b2)*g.");
}

}  // namespace lamina::bind
