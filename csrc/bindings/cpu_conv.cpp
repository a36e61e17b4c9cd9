#include "bindings/arrays.h"
#include "bindings/families.h"

namespace lamina::bind {

void bind_conv(py::module_& m) { (void)m; }

}  // namespace lamina::bind
