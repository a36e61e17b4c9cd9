// def_fast: an entry point bound as a CPython METH_FASTCALL function, for the calls a small model
// makes many times per step (gemm, dense_forward, ...), where pybind11's generic dispatcher is a
// large part of the call. Measured on the dev machine (Zen 4, pybind11 3.1, Python 3.11), a call
// with three numpy arrays: m.def dispatch ~56 ns for three py::handle parameters and ~125 ns for
// gemm's seven with defaults (its argument vector moves to the heap past six and the defaults are
// copied in), against ~19 ns for a METH_FASTCALL function that reads Python's argument array in
// place; a whole 1x1x1 gemm call costs ~250 ns.
//
// def_fast<&entry>(m, "name", "doc", py::arg("a"), py::arg("b") = false, ...) keeps m.def's
// declaration, pybind11's conversions (its type casters, conversions allowed, as m.def's second
// pass allows them), Python's rules for positional and keyword arguments with Python's messages,
// and a __text_signature__ for help() and inspect.signature. A C++ exception leaves as the Python
// exception pybind11 raises for it: error_already_set as itself, value_error and the other
// builtin exceptions as their Python types, bad_alloc as MemoryError, any other std::exception as
// RuntimeError. The entry returns void (None) or a value pybind11 can cast.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace lamina::bind {

namespace py = pybind11;

namespace fast_detail {

struct Param {
  const char* name;
  PyObject* value;  // the default (a strong reference, kept for the life of the process); nullptr: required
};

struct Spec {
  std::string name;
  std::vector<Param> params;
  std::string doc;
  PyMethodDef def{};
};

inline Param param_of(const py::arg& a) { return {a.name, nullptr}; }
inline Param param_of(const py::arg_v& a) { return {a.name, a.value.inc_ref().ptr()}; }

// slots[i] = parameter i's argument (borrowed) from the positional and keyword arguments of a
// vectorcall, or its default. False (a TypeError set, in Python's words) when the call does not
// bind.
inline bool bind_arguments(const Spec& s, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames, PyObject** slots) {
  const auto n = static_cast<Py_ssize_t>(s.params.size());
  const char* fname = s.name.c_str();
  if (nargs > n) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments (%zd given)", fname,
                 n, nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < n; ++i) slots[i] = i < nargs ? args[i] : nullptr;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    Py_ssize_t i = 0;
    while (i < n && PyUnicode_CompareWithASCIIString(key, s.params[i].name) != 0) ++i;
    if (i == n) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, key);
      return false;
    }
    if (slots[i]) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                   s.params[i].name);
      return false;
    }
    slots[i] = args[nargs + k];
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (slots[i]) continue;
    if (!s.params[i].value) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)", fname,
                   s.params[i].name, i + 1);
      return false;
    }
    slots[i] = s.params[i].value;
  }
  return true;
}

// Raises the Python exception for the C++ exception being handled (inside a catch block).
inline void raise_current_exception() {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
}

// The Python type a conversion expects, for the message when it fails.
template <class T>
constexpr const char* expected_type() {
  using U = std::decay_t<T>;
  if constexpr (std::is_same_v<U, bool>) return "bool";
  else if constexpr (std::is_floating_point_v<U>) return "float";
  else if constexpr (std::is_integral_v<U>) return "int";
  else if constexpr (std::is_same_v<U, std::string>) return "str";
  else return "object";
}

template <auto Fn>
struct Entry;

template <class R, class... Args, R (*Fn)(Args...)>
struct Entry<Fn> {
  static constexpr std::size_t arity = sizeof...(Args);
  static inline Spec* spec = nullptr;

  template <std::size_t... I>
  static PyObject* convert_and_call(PyObject** slots, std::index_sequence<I...>) {
    std::tuple<py::detail::make_caster<Args>...> casters;
    int bad = -1;
    ((bad < 0 && !std::get<I>(casters).load(py::handle(slots[I]), true)
          ? void(bad = static_cast<int>(I))
          : void()),
     ...);
    if (bad >= 0) {
      static constexpr const char* kTypes[] = {expected_type<Args>()...};
      PyErr_Format(PyExc_TypeError, "[%s] argument '%s': expected %s, got %s", spec->name.c_str(),
                   spec->params[bad].name, kTypes[bad], Py_TYPE(slots[bad])->tp_name);
      return nullptr;
    }
    if constexpr (std::is_void_v<R>) {
      Fn(py::detail::cast_op<Args>(std::move(std::get<I>(casters)))...);
      Py_RETURN_NONE;
    } else {
      return py::detail::make_caster<R>::cast(
                 Fn(py::detail::cast_op<Args>(std::move(std::get<I>(casters)))...),
                 py::return_value_policy::move, py::handle())
          .ptr();
    }
  }

  static PyObject* call(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* slots[sizeof...(Args) > 0 ? sizeof...(Args) : 1];
    if (!bind_arguments(*spec, args, nargs, kwnames, slots)) return nullptr;
    try {
      return convert_and_call(slots, std::index_sequence_for<Args...>{});
    } catch (...) {
      raise_current_exception();
      return nullptr;
    }
  }
};

}  // namespace fast_detail

// Binds `Fn` as m.name with one py::arg / py::arg_v per parameter (see the top of this file).
template <auto Fn, class... Params>
void def_fast(py::module_& m, const char* name, const char* doc, const Params&... params) {
  using E = fast_detail::Entry<Fn>;
  static_assert(sizeof...(Params) == E::arity, "one py::arg per parameter");
  auto* s = new fast_detail::Spec;  // lives as long as the function object: the process
  s->name = name;
  s->params = {fast_detail::param_of(params)...};
  std::string signature = std::string(name) + "($module, /";
  for (const auto& p : s->params) {
    signature += std::string(", ") + p.name;
    if (p.value) signature += "=" + py::repr(p.value).cast<std::string>();
  }
  s->doc = signature + ")\n--\n\n" + doc;
  s->def = {s->name.c_str(),
            reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&E::call)),
            METH_FASTCALL | METH_KEYWORDS, s->doc.c_str()};
  E::spec = s;
  py::object f = py::reinterpret_steal<py::object>(
      PyCFunction_NewEx(&s->def, m.ptr(), m.attr("__name__").ptr()));
  if (!f) throw py::error_already_set();
  m.attr(name) = f;
}

}  // namespace lamina::bind
