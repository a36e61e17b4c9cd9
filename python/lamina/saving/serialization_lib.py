"""Keras 3's object configs: ``serialize_keras_object`` / ``deserialize_keras_object``.

An object is written as ``{"module", "class_name", "config", "registered_name"}`` (plus
``build_config`` and ``compile_config`` for layers and models), as Keras 3 writes it: a lamina
class by its public module (``lamina.layers``, ``lamina.losses``...; Keras' own ``keras.*``
module names are read as lamina's), anything else by its Python module and its registered name
(``"package>name"`` from ``register_keras_serializable``, else its class name). Functions are
``class_name: "function"``; tensors, numpy arrays, slices, bytes have Keras' special forms.

Reading looks a name up in the active custom-object scope and ``custom_objects``, then the
registry, then lamina's public modules, then (only with ``safe_mode=False``, since importing
runs the module's code) the named module, and only accepts from there a class of lamina's own
kinds (Layer, Loss, Metric, Optimizer, Initializer, Regularizer, Constraint) or a function.
Nothing is ever unpickled. A ``lambda`` is written as Keras writes it (marshalled code) and read
back only with ``safe_mode=False``, with Keras' error otherwise.
"""
import base64
import builtins
import importlib
import marshal
import types
import warnings

import numpy as np

from . import object_registration
from .object_registration import CustomObjectScope, get_registered_name, get_registered_object

__all__ = ["serialize_keras_object", "deserialize_keras_object", "SafeModeScope",
           "enable_unsafe_deserialization", "in_safe_mode", "TensorRef", "is_builtin_config",
           "custom_object", "deserialization_error"]

PLAIN_TYPES = (str, int, float, bool)

# lamina's public modules, in the order a name is looked up (and an object's module chosen).
PUBLIC_MODULES = ("lamina", "lamina.layers", "lamina.models", "lamina.losses", "lamina.metrics",
                  "lamina.optimizers", "lamina.initializers", "lamina.regularizers",
                  "lamina.constraints", "lamina.activations")
# Where a built-in function named in a "builtins" function config may come from (Keras').
FUNCTION_MODULES = ("lamina.activations", "lamina.losses", "lamina.metrics",
                    "lamina.initializers", "lamina.regularizers", "lamina.constraints",
                    "lamina.optimizers")


class _State:
    safe_mode = None  # set by SafeModeScope / enable_unsafe_deserialization
    public_index = None  # object -> public module name, built on first use


class SafeModeScope:
    """Propagates `safe_mode` to the nested deserializations of one load."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self.original = _State.safe_mode
        _State.safe_mode = self.safe_mode

    def __exit__(self, *exc):
        _State.safe_mode = self.original


def enable_unsafe_deserialization():
    """Disables safe mode for the whole process: lambdas load (keras.config's function)."""
    _State.safe_mode = False


def in_safe_mode():
    return _State.safe_mode


def _public_index():
    if _State.public_index is None:
        index = {}
        for name in PUBLIC_MODULES:
            module = importlib.import_module(name)
            for attr in getattr(module, "__all__", None) or dir(module):
                obj = getattr(module, attr, None)
                if isinstance(obj, (type, types.FunctionType)):
                    index.setdefault(obj, name)
        _State.public_index = index
    return _State.public_index


def _public_module(obj):
    try:
        return _public_index().get(obj)
    except TypeError:  # unhashable
        return None


def is_builtin_config(config):
    """Whether a {"class_name", "config"} dict names a lamina (or Keras) built-in: no registered
    name, and no module or a lamina / keras one."""
    module = config.get("module")
    return config.get("registered_name") is None and (
        module is None or module.split(".")[0] in ("lamina", "keras"))


def deserialization_error(message):
    """A TypeError saying which class failed to deserialize from which config; the outer levels
    of a nested load re-raise it as it is instead of wrapping it again."""
    error = TypeError(message)
    error.lamina_deserialization = True
    return error


def custom_object(name):
    """The object registered or in scope under `name`, or None."""
    return get_registered_object(name)


class TensorRef:
    """A symbolic tensor read from a config (``__keras_tensor__``): its shape, dtype and
    ``keras_history`` [layer name, node index, tensor index], for the functional model being
    rebuilt to resolve."""

    __slots__ = ("shape", "dtype", "history")

    def __init__(self, shape, dtype, history):
        self.shape, self.dtype, self.history = shape, dtype, history

    def __repr__(self):
        return f"<TensorRef shape={self.shape} history={self.history}>"


# -- writing ---------------------------------------------------------------------------------

def serialize_keras_object(obj):
    """The JSON-ready config of `obj` (see the module docstring)."""
    from ..autograd import Tensor
    from ..layers.symbolic import SymbolicTensor

    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, SymbolicTensor):
        history = None
        if obj.node is not None:
            history = [obj.layer.name, obj.layer._inbound_nodes.index(obj.node), obj.index]
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(obj.shape), "dtype": obj.dtype.name, "keras_history": history}}
    if isinstance(obj, Tensor):
        value = obj.numpy()
        return {"class_name": "__tensor__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(obj, np.dtype):
        return obj.name
    if type(obj).__module__ == np.__name__:
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__",
                    "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
        return obj.item()
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        warnings.warn("The object being serialized includes a `lambda`. This is unsafe. In "
                      "order to reload the object, you will have to pass `safe_mode=False` to "
                      "the loading function. Please avoid using `lambda` in the future, and "
                      "use named Python functions instead.", stacklevel=2)
        return {"class_name": "__lambda__", "config": {"value": _func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        public = _public_module(obj)
        return {"module": public or obj.__module__, "class_name": "function",
                "config": obj.__name__,
                "registered_name": None if public else get_registered_name(obj)}
    if isinstance(obj, type) or not hasattr(obj, "get_config"):
        raise TypeError(f"serialize_keras_object: cannot serialize object {obj!r} of type "
                        f"{type(obj)}. To be serializable, a class must implement the "
                        f"`get_config()` method.")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"serialize_keras_object: the `get_config()` method of {obj!r} should "
                        f"return a dict. It returned: {config!r}")
    cls = type(obj)
    cls = cls.__dict__.get("_user_class", cls)  # a Model subclass made functional by __init__
    public = _public_module(cls)
    out = {"module": public or cls.__module__, "class_name": cls.__name__,
           "config": serialize_dict(config),
           "registered_name": None if public else get_registered_name(cls)}
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is not None:
            out["build_config"] = serialize_dict(build_config)
    if hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config is not None:
            out["compile_config"] = serialize_dict(compile_config)
    return out


def serialize_dict(obj):
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def _func_dump(fn):
    """Keras' python_utils.func_dump: base64 of the marshalled code, defaults, closure."""
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = None if fn.__closure__ is None else \
        [serialize_keras_object(c.cell_contents) for c in fn.__closure__]
    return [code, serialize_keras_object(fn.__defaults__), closure]


def _func_load(value):
    code, defaults, closure = (list(value) + [None, None])[:3] if isinstance(
        value, (list, tuple)) else (value, None, None)
    code = marshal.loads(base64.b64decode(code.encode("ascii")))
    cells = None if closure is None else tuple(types.CellType(c) for c in closure)
    import lamina
    # The code's globals: builtins and the names lamina's examples import (lamina as L).
    scope = {"__builtins__": builtins, "lamina": lamina, "L": lamina, "ops": lamina.ops,
             "np": np, "numpy": np}
    return types.FunctionType(code, scope, code.co_name,
                              None if defaults is None else tuple(defaults), cells)


# -- reading ---------------------------------------------------------------------------------

def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a config describes (the inverse of serialize_keras_object). Plain values,
    lists and dicts without "class_name"/"config" come back with their contents read."""
    if _State.safe_mode is not None:
        safe_mode = _State.safe_mode
    custom_objects = {**(custom_objects or {}), **object_registration.scope_objects()}
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects, safe_mode)
                for key, value in config.items()}
    class_name = config["class_name"]
    inner = config["config"]
    special = _special(class_name, inner, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)
    if class_name == "function":
        return _retrieve(inner, registered_name, module, "function", config, custom_objects,
                         safe_mode)
    cls = _retrieve(class_name, registered_name, module, "class", config, custom_objects,
                    safe_mode)
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(f"deserialize_keras_object: unable to reconstruct an instance of "
                        f"'{class_name}' because the class is missing a `from_config()` "
                        f"method. Full object config: {config}")
    with CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        inner = dict(inner or {})
        try:
            instance = cls.from_config(inner)
        except TypeError as e:
            if getattr(e, "lamina_deserialization", False):
                raise
            raise deserialization_error(
                f"{cls} could not be deserialized properly. Please ensure that components "
                f"that are Python object instances (layers, models, etc.) returned by "
                f"`get_config()` are explicitly deserialized in the model's `from_config()` "
                f"method.\n\nconfig={config}.\n\nException encountered: {e}") from e
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            instance.build_from_config(build_config)
        compile_config = config.get("compile_config")
        if compile_config:
            instance.compile_from_config(compile_config)
    return instance


_NOT_SPECIAL = object()


def _special(class_name, inner, custom_objects, safe_mode):
    """Keras' special forms (tensors, numpy arrays, bytes, slices, lambdas)."""
    if class_name == "__keras_tensor__":
        return TensorRef(inner["shape"], inner["dtype"], inner.get("keras_history"))
    if class_name == "__tensor__":
        from ..autograd import convert_to_tensor
        return convert_to_tensor(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner[k], custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError(
                "Requested the deserialization of a `lambda` object. This carries a potential "
                "risk of arbitrary code execution and thus it is disallowed by default. If you "
                "trust the source of the saved model, you can pass `safe_mode=False` to the "
                "loading function in order to allow `lambda` loading, or call "
                "`lamina.saving.enable_unsafe_deserialization()`.")
        return _func_load(inner["value"])
    return _NOT_SPECIAL


def _serializable_bases():
    from .. import constraints, initializers, losses, metrics, optimizers, regularizers
    from ..layers.layer import Layer
    return (Layer, losses.Loss, metrics.Metric, optimizers.Optimizer, initializers.Initializer,
            regularizers.Regularizer, constraints.Constraint)


def _from_public(name, module, obj_type):
    """`name` from lamina's public modules: `module` itself when it is one (a Keras module
    name maps to lamina's), else every one in order."""
    if module is not None and module.split(".")[0] == "keras":
        module = "lamina" + module[len("keras"):]
    if module in PUBLIC_MODULES:
        candidates = [module]
    elif module is None or module == "builtins" or module.split(".")[0] == "lamina":
        # lamina's short form (no module), Keras' "builtins" for functions, a private module
        candidates = FUNCTION_MODULES if obj_type == "function" else PUBLIC_MODULES
    else:
        return None
    for candidate in candidates:
        obj = getattr(importlib.import_module(candidate), name, None)
        if obj is not None and not isinstance(obj, types.ModuleType):
            return obj
    if obj_type == "class" and name == "Functional":  # Keras writes its private module
        from ..models.functional import Functional
        return Functional
    return None


def _retrieve(name, registered_name, module, obj_type, full_config, custom_objects, safe_mode):
    """Keras' _retrieve_class_or_fn, with lamina's public modules and safe-mode rules."""
    found = get_registered_object(registered_name, custom_objects) \
        if registered_name not in (None, "function") else None
    if found is None:
        found = get_registered_object(name, custom_objects)
    if found is None and obj_type == "function" and module == "builtins":
        # A registered function written with Keras' "builtins" module: its "package>name".
        found = next((v for k, v in custom_objects.items() if k.endswith(">" + str(name))),
                     None)
    if found is not None:
        return found
    found = _from_public(name, module, obj_type)
    if found is not None:
        return found
    # Importing the module a file names runs that module's code: only with safe_mode=False
    # (Keras 3 likewise imports by module name only for its own packages).
    if module and module.split(".")[0] not in ("keras", "builtins") and not safe_mode:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            raise TypeError(f"Could not deserialize {obj_type} '{name}' because its parent "
                            f"module {module} cannot be imported. Full object config: "
                            f"{full_config}") from None
        obj = vars(mod).get(name)
        if obj is None and registered_name is not None:
            obj = vars(mod).get(registered_name)
        if obj_type == "function" and isinstance(obj, types.FunctionType):
            return obj
        if isinstance(obj, type) and issubclass(obj, _serializable_bases()):
            return obj
    what = "classes" if obj_type == "class" else "functions"
    raise TypeError(f"Could not locate {obj_type} '{name}'. Make sure custom {what} are "
                    f"decorated with `@lamina.saving.register_keras_serializable()` or passed "
                    f"in `custom_objects`. Full object config: {full_config}")
