// Arguments shared by lamina._cpu's and lamina._cuda's loss entry points (header-only: the two
// modules do not link each other's bindings).
#pragma once

#include <cstdint>
#include <string>

#include "bindings/arrays.h"

namespace lamina::bind {

// Keras' ignore_class: none, or one label value (any int64: -1 and 255 are typical void
// classes). Kept as a flag plus a value so that no label value doubles as "none".
struct IgnoredClass {
  bool active = false;
  std::int64_t label = 0;
};

// None, or an integer (Python int or numpy integer; bool and float are rejected).
inline IgnoredClass ignored_class_arg(const char* where, py::handle obj) {
  IgnoredClass r;
  if (obj.is_none()) return r;
  if (PyBool_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) || !PyIndex_Check(obj.ptr())) {
    fail_type(where, "ignore_class", std::string("expected None or an integer, got ") +
                                         Py_TYPE(obj.ptr())->tp_name);
  }
  const py::object value = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!value) throw py::error_already_set();
  int overflow = 0;
  r.label = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow != 0) {
    fail_value(where, "ignore_class",
               "expected an integer that fits in int64, got " + py::str(value).cast<std::string>());
  }
  r.active = true;
  return r;
}

}  // namespace lamina::bind
