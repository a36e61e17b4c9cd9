#include "bindings/arrays.h"

#include <sstream>

namespace lamina::bind {

namespace {

// numpy's flag bits (numpy/ndarraytypes.h), stable across numpy 1.x and 2.x.
constexpr int kNpyCContiguous = 0x0001;
constexpr int kNpyAligned = 0x0100;
constexpr int kNpyWriteable = 0x0400;

// The byte order numpy writes for a non-native dtype ('>f4' on x86): the kernels read native
// values only.
constexpr char kForeignByteOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '>' : '<';

DType dtype_of(const py::dtype& dt) {
  const char kind = dt.kind();
  const py::ssize_t size = dt.itemsize();
  if (kind == 'f') {
    if (size == 4) return DType::f32;
    if (size == 8) return DType::f64;
  } else if (kind == 'i') {
    if (size == 4) return DType::i32;
    if (size == 8) return DType::i64;
  }
  return DType::other;
}

std::string dtype_string(const py::array& a) {
  return py::str(py::handle(reinterpret_cast<PyObject*>(a.dtype().ptr()))).cast<std::string>();
}

}  // namespace

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    default: return "other";
  }
}

std::int64_t Arr::size() const {
  std::int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

std::int64_t Arr::row_stride() const {
  if (ndim < 2) return ndim == 1 ? shape[0] : 1;
  const std::int64_t item = (dtype == DType::f64 || dtype == DType::i64) ? 8 : 4;
  return static_cast<std::int64_t>(strides[ndim - 2]) / item;
}

std::string shape_string(const Arr& a) {
  std::ostringstream s;
  s << '(';
  for (int i = 0; i < a.ndim; ++i) s << (i ? ", " : "") << a.shape[i];
  s << (a.ndim == 1 ? ",)" : ")");
  return s.str();
}

void fail_value(const char* where, const char* name, const std::string& what) {
  throw py::value_error(std::string("[") + where + "] argument '" + name + "': " + what);
}

void fail_type(const char* where, const char* name, const std::string& what) {
  throw py::type_error(std::string("[") + where + "] argument '" + name + "': " + what);
}

std::string unsupported_dtype(const std::string& dtype, Accept accept) {
  const char* expected = accept == kFloatDType   ? "float32 or float64"
                         : accept == kIndexDType ? "int32 or int64"
                                                 : "float32, float64, int32 or int64";
  return "unsupported dtype " + dtype + " (expected " + expected + ")";
}

Arr array_arg(py::handle obj, const char* where, const char* name, Access access, Layout layout,
              Accept accept) {
  if (!py::isinstance<py::array>(obj)) {
    fail_type(where, name,
              std::string("expected a numpy array, got ") + Py_TYPE(obj.ptr())->tp_name);
  }
  const auto a = py::reinterpret_borrow<py::array>(obj);
  Arr r;
  r.obj = obj;
  r.ndim = static_cast<int>(a.ndim());
  r.shape = a.shape();
  r.strides = a.strides();
  const py::dtype dt = a.dtype();
  r.dtype = dtype_of(dt);
  if (dt.byteorder() == kForeignByteOrder) {
    fail_type(where, name, "dtype " + dtype_string(a) + " is not in this machine's byte order "
                           "(a.astype(a.dtype.newbyteorder('=')) converts it)");
  }
  if (r.dtype == DType::other) {
    fail_type(where, name, unsupported_dtype(dtype_string(a), accept));
  }
  const int flags = a.flags();
  if (!(flags & kNpyAligned)) fail_value(where, name, "array is not aligned");
  if (access == kWrite && !(flags & kNpyWriteable)) {
    fail_value(where, name, "array is read-only but the kernel writes into it");
  }
  if (layout == kRowStrided && r.ndim == 2) {
    const py::ssize_t item = a.itemsize();
    const bool unit_cols = r.shape[1] <= 1 || r.strides[1] == item;
    const bool rows_ok = r.shape[0] <= 1 ||
                         (r.strides[0] % item == 0 && r.strides[0] >= r.shape[1] * item);
    if (!unit_cols || !rows_ok) {
      fail_value(where, name,
                 "expected rows with unit stride along the last axis and a row stride of at "
                 "least the row length (a C-contiguous array or a column slice of one), got "
                 "shape " + shape_string(r) + " with strides (" + std::to_string(r.strides[0]) +
                 ", " + std::to_string(r.strides[1]) + ") bytes");
    }
  } else if (!(flags & kNpyCContiguous)) {
    fail_value(where, name, "expected a C-contiguous array, got shape " + shape_string(r) +
                                " that is not (use numpy.ascontiguousarray)");
  }
  r.data = static_cast<char*>(const_cast<void*>(a.data()));
  return r;
}

Arr optional_array_arg(py::handle obj, const char* where, const char* name, Access access,
                       Layout layout, Accept accept) {
  if (obj.is_none()) return Arr{};
  return array_arg(obj, where, name, access, layout, accept);
}

void expect_ndim(const Arr& a, int ndim, const char* where, const char* name) {
  if (a.ndim != ndim) {
    fail_value(where, name, "expected a " + std::to_string(ndim) + "-D array, got shape " +
                                shape_string(a));
  }
}

void expect_shape(const Arr& a, std::initializer_list<std::int64_t> shape, const char* where,
                  const char* name) {
  bool ok = a.ndim == static_cast<int>(shape.size());
  int i = 0;
  for (auto it = shape.begin(); ok && it != shape.end(); ++it, ++i) {
    ok = *it < 0 || *it == a.shape[i];
  }
  if (ok) return;
  std::ostringstream want;
  want << '(';
  i = 0;
  for (auto it = shape.begin(); it != shape.end(); ++it, ++i) {
    want << (i ? ", " : "");
    if (*it < 0) want << '*';
    else want << *it;
  }
  want << (shape.size() == 1 ? ",)" : ")");
  fail_value(where, name, "expected shape " + want.str() + ", got " + shape_string(a));
}

void expect_same_shape(const Arr& a, const Arr& ref, const char* where, const char* name,
                       const char* ref_name) {
  bool ok = a.ndim == ref.ndim;
  for (int i = 0; ok && i < a.ndim; ++i) ok = a.shape[i] == ref.shape[i];
  if (!ok) {
    fail_value(where, name, "expected the shape of '" + std::string(ref_name) + "' " +
                                shape_string(ref) + ", got " + shape_string(a));
  }
}

void expect_dtype(const Arr& a, DType dt, const char* where, const char* name) {
  if (a.dtype != dt) {
    fail_type(where, name, std::string("expected dtype ") + dtype_name(dt) + ", got " +
                               dtype_name(a.dtype));
  }
}

void expect_float(const Arr& a, const char* where, const char* name) {
  if (a.dtype != DType::f32 && a.dtype != DType::f64) {
    fail_type(where, name, std::string("expected dtype float32 or float64, got ") +
                               dtype_name(a.dtype));
  }
}

void expect_index(const Arr& a, const char* where, const char* name) {
  if (a.dtype != DType::i32 && a.dtype != DType::i64) {
    fail_type(where, name, std::string("expected dtype int32 or int64, got ") +
                               dtype_name(a.dtype));
  }
}

}  // namespace lamina::bind
