#include "bindings/cuda_arrays.h"

#include <string>

namespace lamina::bind {

namespace {

// "<f4" -> float32 and so on; byte order must be little ('<'), native ('=') or none ('|').
DType parse_typestr(const std::string& s, py::ssize_t* itemsize) {
  if (s.size() != 3 || (s[0] != '<' && s[0] != '=' && s[0] != '|')) return DType::other;
  *itemsize = s[2] - '0';
  if (s[1] == 'f' && s[2] == '4') return DType::f32;
  if (s[1] == 'f' && s[2] == '8') return DType::f64;
  if (s[1] == 'i' && s[2] == '4') return DType::i32;
  if (s[1] == 'i' && s[2] == '8') return DType::i64;
  return DType::other;
}

// A borrowed item of the interface dict, or null.
PyObject* item(PyObject* dict, const char* key) { return PyDict_GetItemString(dict, key); }

[[noreturn]] void bad_interface(const char* where, const char* name, const std::string& what) {
  fail_value(where, name, "invalid __cuda_array_interface__: " + what);
}

py::ssize_t int_item(PyObject* v, const char* where, const char* name, const char* what) {
  if (!v || !PyLong_Check(v)) bad_interface(where, name, std::string(what) + " is not an int");
  const py::ssize_t r = PyLong_AsSsize_t(v);
  if (r == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    bad_interface(where, name, std::string(what) + " does not fit in a pointer-sized int");
  }
  return r;
}

}  // namespace

DevArr device_array_arg(py::handle obj, const char* where, const char* name, Access access,
                        Layout layout, Accept accept) {
  PyObject* raw = PyObject_GetAttrString(obj.ptr(), "__cuda_array_interface__");
  if (!raw) {
    PyErr_Clear();
    const std::string type = Py_TYPE(obj.ptr())->tp_name;
    fail_type(where, name,
              "expected a cupy array (an object with __cuda_array_interface__), got " + type +
                  (type == "numpy.ndarray" ? " (a host array: use lamina._cpu, or cupy.asarray)"
                                           : ""));
  }
  const py::object iface = py::reinterpret_steal<py::object>(raw);
  if (!PyDict_Check(iface.ptr())) bad_interface(where, name, "not a dict");
  PyObject* d = iface.ptr();
  if (!item(d, "version")) bad_interface(where, name, "no 'version'");
  if (PyObject* mask = item(d, "mask"); mask && mask != Py_None) {
    fail_value(where, name, "masked arrays are not supported");
  }

  DevArr r;
  r.obj = obj;
  PyObject* typestr = item(d, "typestr");
  if (!typestr || !PyUnicode_Check(typestr)) bad_interface(where, name, "'typestr' is not a str");
  const char* ts_utf8 = PyUnicode_AsUTF8(typestr);
  if (!ts_utf8) {
    PyErr_Clear();
    bad_interface(where, name, "'typestr' is not valid text");
  }
  const std::string ts = ts_utf8;
  py::ssize_t itemsize = 0;
  r.dtype = parse_typestr(ts, &itemsize);
  if (r.dtype == DType::other) {
    fail_type(where, name, unsupported_dtype("'" + ts + "'", accept));
  }

  PyObject* shape = item(d, "shape");
  if (!shape || !PyTuple_Check(shape)) bad_interface(where, name, "'shape' is not a tuple");
  const py::ssize_t nd = PyTuple_GET_SIZE(shape);
  if (nd > DevArr::kMaxDims) {
    fail_value(where, name, "expected at most " + std::to_string(DevArr::kMaxDims) +
                                " dimensions, got " + std::to_string(nd));
  }
  r.ndim = static_cast<int>(nd);
  bool empty = false;
  for (py::ssize_t i = 0; i < nd; ++i) {
    r.dims[i] = int_item(PyTuple_GET_ITEM(shape, i), where, name, "a 'shape' entry");
    if (r.dims[i] < 0) bad_interface(where, name, "negative extent in 'shape'");
    empty = empty || r.dims[i] == 0;
  }
  // C-contiguous strides, in bytes.
  py::ssize_t c_strides[DevArr::kMaxDims];
  py::ssize_t expected = itemsize;
  for (py::ssize_t i = nd - 1; i >= 0; --i) {
    c_strides[i] = expected;
    expected *= r.dims[i];
  }

  PyObject* data = item(d, "data");
  if (!data || !PyTuple_Check(data) || PyTuple_GET_SIZE(data) != 2) {
    bad_interface(where, name, "'data' is not a (pointer, read_only) tuple");
  }
  PyObject* ptr_obj = PyTuple_GET_ITEM(data, 0);
  if (!PyLong_Check(ptr_obj)) bad_interface(where, name, "the data pointer is not an int");
  const unsigned long long ptr = PyLong_AsUnsignedLongLong(ptr_obj);
  if (PyErr_Occurred()) {
    PyErr_Clear();
    bad_interface(where, name, "the data pointer is not a valid address");
  }
  const int read_only = PyObject_IsTrue(PyTuple_GET_ITEM(data, 1));
  if (read_only < 0) {
    PyErr_Clear();
    bad_interface(where, name, "the read_only flag is not a bool");
  }
  if (access == kWrite && read_only) {
    fail_value(where, name, "array is read-only but the kernel writes into it");
  }
  if (ptr % static_cast<unsigned long long>(itemsize) != 0) {
    fail_value(where, name, "array is not aligned");
  }

  // Strides: None means C-contiguous. Given strides must describe the same C layout (extents of
  // 1 may carry any stride), or, where `layout` allows it, 2-D rows with unit column stride.
  PyObject* strides = item(d, "strides");
  bool contiguous = true;
  py::ssize_t given[DevArr::kMaxDims];
  if (strides && strides != Py_None && !empty) {
    if (!PyTuple_Check(strides) || PyTuple_GET_SIZE(strides) != nd) {
      bad_interface(where, name, "'strides' is not a tuple of one int per dimension");
    }
    for (py::ssize_t i = 0; i < nd; ++i) {
      given[i] = int_item(PyTuple_GET_ITEM(strides, i), where, name, "a 'strides' entry");
      if (r.dims[i] > 1 && given[i] != c_strides[i]) contiguous = false;
    }
  }
  for (py::ssize_t i = 0; i < nd; ++i) {
    r.byte_strides[i] = c_strides[i];
  }
  r.shape = r.dims;
  r.strides = r.byte_strides;
  if (!contiguous) {
    const bool two_d = layout == kRowStrided && nd == 2;
    const bool unit_cols = two_d && (r.dims[1] <= 1 || given[1] == itemsize);
    const bool rows_ok = two_d && (r.dims[0] <= 1 || (given[0] % itemsize == 0 &&
                                                      given[0] >= r.dims[1] * itemsize));
    if (!(unit_cols && rows_ok)) {
      if (layout == kRowStrided && nd == 2) {
        fail_value(where, name,
                   "expected rows with unit stride along the last axis and a row stride of at "
                   "least the row length (a C-contiguous array or a column slice of one), got "
                   "shape " + shape_string(r) + " with strides (" + std::to_string(given[0]) +
                   ", " + std::to_string(given[1]) + ") bytes");
      }
      fail_value(where, name, "expected a C-contiguous array, got shape " + shape_string(r) +
                                  " that is not (use cupy.ascontiguousarray)");
    }
    if (r.dims[0] > 1) r.byte_strides[0] = given[0];
  }
  r.data = reinterpret_cast<char*>(static_cast<std::uintptr_t>(ptr));
  return r;
}

DevArr optional_device_array_arg(py::handle obj, const char* where, const char* name,
                                 Access access, Layout layout, Accept accept) {
  if (obj.is_none()) return DevArr{};
  return device_array_arg(obj, where, name, access, layout, accept);
}

}  // namespace lamina::bind
