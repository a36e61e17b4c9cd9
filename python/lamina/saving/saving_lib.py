"""The ``.keras`` archive: Keras 3's zip layout with the weights in numpy's format.

    metadata.json       {"keras_version": "lamina <version>", "date_saved": ...}
    config.json         serialize_keras_object(model): architecture, build and compile configs
    model.weights.npz   every variable by its path, and the optimizer's state

Keras keeps the weights in ``model.weights.h5`` (h5py); lamina writes a plain numpy ``.npz``
(read back with ``allow_pickle=False``), one array per variable, keyed by its path: the names
of the layers from the model down, then the variable's name (``dense/kernel``,
``encoder/dense_1/bias``). Layers of a Sequential or functional model are named by their
``name`` (part of the config, so the same on reload); the sublayers and variables of other
layers by the attribute that holds them (``hidden/kernel`` for ``self.hidden = Dense(...)``),
since auto-generated names differ from one process to the next. The optimizer's state goes
under ``optimizer/``: ``iterations``, the optimizer's ``class_name``, the paths of the variables
it updates (``variables``), and each slot per variable (``optimizer/momentum/dense/kernel``); a
seeded layer's random stream (``Dropout(seed=...)``) keeps its state as
``dropout/seed_generator_state``, as Keras saves a SeedGenerator's. So training resumes exactly
where it stopped.
"""
import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from .serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["save_model", "load_model", "load_weights", "variable_paths", "legacy_h5_error"]

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
VARS_FILENAME = "model.weights.npz"
_OPT = "optimizer/"


def legacy_h5_error(where, path):
    """The error for a ``.h5`` / ``.hdf5`` path, which Keras 3 reads and writes through h5py."""
    return ValueError(f"{where}: lamina reads and writes Keras 3's native `.keras` archive only; "
                      f"`.h5` / `.hdf5` is Keras' legacy HDF5 format, which needs h5py. Use a "
                      f"filepath ending in `.keras`. Received: filepath={path}")


def save_model(model, filepath, overwrite=True, **kwargs):
    """Writes `model` as a ``.keras`` archive (config, weights, optimizer state) to `filepath`
    (a path ending in ``.keras``, or a writable binary file object)."""
    include_optimizer = kwargs.pop("include_optimizer", True)
    zipped = kwargs.pop("zipped", None)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"save_model: The following argument(s) are not supported: "
                         f"{list(kwargs)}")
    if zipped is False:
        raise NotImplementedError("save_model: zipped=False (an unzipped directory) is not "
                                  "supported by lamina; it writes the zipped `.keras` file")
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not "
                      "contain any weights yet. Consider building the model first by calling "
                      "it on some data.", stacklevel=3)
    if hasattr(filepath, "write"):
        _save_to_fileobj(model, filepath, include_optimizer)
        return
    path = os.fspath(filepath)
    if str(path).endswith((".h5", ".hdf5")):
        raise legacy_h5_error("save_model", path)
    if not str(path).endswith(".keras"):
        raise ValueError(f"save_model: Invalid filepath extension for saving. Please add a "
                         f"`.keras` extension for the native Keras format (the one lamina "
                         f"writes). Received: filepath={path}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_model: {path} exists and overwrite=False")
    buffer = io.BytesIO()
    _save_to_fileobj(model, buffer, include_optimizer)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:  # then renamed: a crash never leaves half an archive
        f.write(buffer.getvalue())
    os.replace(tmp, path)


def _save_to_fileobj(model, fileobj, include_optimizer):
    from .. import __version__
    try:
        config_json = json.dumps(serialize_keras_object(model))
    except TypeError as e:
        raise TypeError(f"save_model: the config of model '{model.name}' cannot be written as "
                        f"JSON: {e}") from None
    metadata_json = json.dumps({
        "keras_version": f"lamina {__version__}",
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    paths = variable_paths(model)
    arrays = {key: _value(v) for key, v in paths.items()}
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None:
        arrays.update(_optimizer_state(optimizer, paths, model.name))
    weights = io.BytesIO()
    np.savez(weights, **arrays)
    with zipfile.ZipFile(fileobj, "w") as zf:
        zf.writestr(METADATA_FILENAME, metadata_json)
        zf.writestr(CONFIG_FILENAME, config_json)
        zf.writestr(VARS_FILENAME, weights.getvalue())


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in a ``.keras`` archive: rebuilt from its config (custom classes from
    the registry or `custom_objects`), its weights and, with ``compile=True``, compiled as it
    was with its optimizer's state. ``safe_mode=False`` allows loading lambdas."""
    if hasattr(filepath, "read"):
        return _load_from_fileobj(filepath, "the file object", custom_objects, compile,
                                  safe_mode)
    path = os.fspath(filepath)
    if str(path).endswith((".h5", ".hdf5")):
        raise legacy_h5_error("load_model", path)
    if not str(path).endswith(".keras"):
        raise ValueError(f"load_model: File format not supported: filepath={path}. lamina "
                         f"loads `.keras` files, as written by `model.save()`.")
    if not os.path.isfile(path):
        raise ValueError(f"load_model: File not found: filepath={path}. Please ensure the "
                         f"file is an accessible `.keras` zip file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load_model: {path} is not a zip archive, so not a `.keras` file "
                         f"(`model.save()` writes one)")
    with open(path, "rb") as f:
        return _load_from_fileobj(f, path, custom_objects, compile, safe_mode)


def _read_archive(zf, where):
    """(config dict, weights dict) of an open archive, with an error naming what is missing."""
    names = zf.namelist()
    if CONFIG_FILENAME not in names:
        raise ValueError(f"load_model: {where} has no {CONFIG_FILENAME}, so it is not a "
                         f"`.keras` model archive (it holds {names})")
    try:
        config = json.loads(zf.read(CONFIG_FILENAME))
    except ValueError as e:
        raise ValueError(f"load_model: {CONFIG_FILENAME} in {where} is not valid JSON: "
                         f"{e}") from None
    return config, _read_weights(zf, where)


def _read_weights(zf, where):
    names = zf.namelist()
    if VARS_FILENAME not in names:
        if "model.weights.h5" in names:
            raise ValueError(f"load_model: {where} keeps its weights in model.weights.h5 "
                             f"(Keras' HDF5 store, which needs h5py); lamina reads "
                             f"{VARS_FILENAME}")
        raise ValueError(f"load_model: {where} has no {VARS_FILENAME} (it holds {names})")
    try:
        with np.load(io.BytesIO(zf.read(VARS_FILENAME)), allow_pickle=False) as store:
            return {key: store[key] for key in store.files}
    except ValueError as e:
        raise ValueError(f"load_model: {VARS_FILENAME} in {where} cannot be read as a numpy "
                         f".npz of arrays: {e}") from None


def _load_from_fileobj(fileobj, where, custom_objects, compile, safe_mode):
    with zipfile.ZipFile(fileobj, "r") as zf:
        config, arrays = _read_archive(zf, where)
    if not compile:
        config["compile_config"] = None
    model = deserialize_keras_object(config, custom_objects=custom_objects,
                                     safe_mode=safe_mode)
    _set_state(model, arrays, where, "load_model")
    return model


def load_weights(model, filepath):
    """The weights (and, when the model is compiled, the optimizer's state) of a ``.keras``
    archive into `model`, which must have the saved architecture."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise ValueError(f"load_weights: File not found: filepath={path}")
    with zipfile.ZipFile(path, "r") as zf:
        arrays = _read_weights(zf, path)
    _set_state(model, arrays, path, "load_weights")


# -- variables by path -----------------------------------------------------------------------

def variable_paths(model):
    """{path: Variable or SeedGenerator} for every variable of `model` and the state of every
    seeded random stream its layers own (``dropout/seed_generator_state``, as Keras saves a
    SeedGenerator's state), in the order of a depth-first walk (each once, under the first path
    that reaches it; see the module docstring)."""
    from ..random import SeedGenerator
    paths, seen_layers, seen_vars = {}, set(), set()

    def add(key, variable):
        if id(variable) in seen_vars:
            return
        seen_vars.add(id(variable))
        unique, n = key, 0
        while unique in paths:
            n += 1
            unique = f"{key}_{n}"
        paths[unique] = variable

    def visit(layer, prefix):
        seen_layers.add(id(layer))
        for variable in layer._own_variables:
            add(prefix + variable.name, variable)
        attr_vars, _ = layer._tracked(paths=True)
        for key, variable in attr_vars:
            add(prefix + key, variable)
        for value in layer.__dict__.values():
            if isinstance(value, SeedGenerator):
                add(prefix + "seed_generator_state", value)
        for key, child in layer._saved_children():
            if id(child) not in seen_layers:
                visit(child, f"{prefix}{key}/")

    visit(model, "")
    return paths


def _value(obj):
    """A variable's array, or a seed generator's state as JSON text (numpy's bit generator
    state holds 128-bit integers, which JSON keeps exactly)."""
    if hasattr(obj, "generator"):
        return np.array(json.dumps(obj.generator.bit_generator.state))
    return obj.numpy()


def _assign(obj, value):
    from .. import backend
    if hasattr(obj, "generator"):
        obj.generator.bit_generator.state = json.loads(str(value))
    else:
        xp = backend.array_module(obj.data)
        obj.assign(xp.asarray(value, dtype=obj.dtype))


def _optimizer_state(optimizer, paths, model_name):
    state = {_OPT + "iterations": np.asarray(optimizer.iterations, dtype=np.int64),
             _OPT + "class_name": np.array(type(optimizer).__name__)}
    for attr in optimizer._SCALAR_STATE:
        state[_OPT + attr] = np.asarray(getattr(optimizer, attr))
    variables = optimizer._vars or []
    path_of = {id(v): key for key, v in paths.items()}
    keys = [path_of.get(id(v)) for v in variables]
    if None in keys:
        warnings.warn(f"save_model: the optimizer updates variables that are not part of model "
                      f"'{model_name}'; its slots are not saved (training resumes with fresh "
                      f"optimizer slots)", stacklevel=4)
        return state
    state[_OPT + "variables"] = np.array(keys, dtype=str)
    for slot, arrays in optimizer._slots.items():
        for key, array in zip(keys, arrays):
            state[f"{_OPT}{slot}/{key}"] = array if type(array) is np.ndarray else array.get()
    return state


def _set_state(model, arrays, where, caller):
    """Assigns the archive's arrays to `model`'s variables (and optimizer), after checking that
    every variable has a value of its shape and every value a variable, and that the optimizer
    state fits: all checks come first, so a refused file leaves the model as it was."""
    paths = variable_paths(model)
    weights = {k: v for k, v in arrays.items() if k in paths or not k.startswith(_OPT)}
    missing = [key for key in paths if key not in weights]
    if missing:
        raise ValueError(f"{caller}: {VARS_FILENAME} in {where} has no value for "
                         f"variable(s) {missing} of model '{model.name}'; it holds "
                         f"{sorted(weights)}")
    unexpected = [key for key in weights if key not in paths]
    if unexpected:
        raise ValueError(f"{caller}: {VARS_FILENAME} in {where} holds value(s) for "
                         f"{unexpected}, which model '{model.name}' does not have; its "
                         f"variables are {list(paths)}")
    for key, variable in paths.items():
        shape = tuple(getattr(variable, "shape", ()))
        if tuple(weights[key].shape) != shape:
            raise ValueError(f"{caller}: variable '{key}' of model '{model.name}' has shape "
                             f"{shape}, but {VARS_FILENAME} in {where} holds one of shape "
                             f"{tuple(weights[key].shape)}")
    set_optimizer = _optimizer_state_setter(model, paths, arrays, where, caller)
    for key, variable in paths.items():
        _assign(variable, weights[key])
    if set_optimizer is not None:
        set_optimizer()


def _optimizer_state_setter(model, paths, arrays, where, caller):
    """Checks the archive's optimizer state against `model`'s optimizer and returns the function
    that loads it, or None when there is nothing to load. State saved by another optimizer class
    is skipped with a warning, as Keras skips an optimizer whose variables do not match: slot
    names alone would let SGD's momentum take Adam's first moment."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or _OPT + "iterations" not in arrays or _OPT + "iterations" in paths:
        return None
    saved_class = str(arrays[_OPT + "class_name"]) if _OPT + "class_name" in arrays else None
    if saved_class is not None and saved_class != type(optimizer).__name__:
        warnings.warn(f"{caller}: the optimizer state in {where} was saved by {saved_class}; "
                      f"model '{model.name}' is compiled with {type(optimizer).__name__}, so "
                      f"that state is not loaded (training resumes with fresh optimizer "
                      f"slots)", stacklevel=4)
        return None
    keys = [str(k) for k in arrays.get(_OPT + "variables", [])]
    unknown = [k for k in keys if k not in paths]
    if unknown:
        raise ValueError(f"{caller}: the optimizer state in {where} is for variable(s) "
                         f"{unknown}, which model '{model.name}' does not have")
    if keys:
        by_id = {id(paths[k]): k for k in keys}
        trainable = list(model.trainable_weights)
        if len(trainable) == len(keys) and all(id(v) in by_id for v in trainable):
            keys = [by_id[id(v)] for v in trainable]  # the order fit passes them in
    slots = optimizer._active_slots()  # what build() will create, from the configuration
    for slot in slots:
        for key in keys:
            name = f"{_OPT}{slot}/{key}"
            if name not in arrays:
                raise ValueError(f"{caller}: {VARS_FILENAME} in {where} has no optimizer slot "
                                 f"'{name}' ({type(optimizer).__name__} keeps {sorted(slots)} "
                                 f"per variable)")
            shape = tuple(paths[key].shape)
            if tuple(arrays[name].shape) != shape:
                raise ValueError(f"{caller}: optimizer slot '{name}' in {where} has shape "
                                 f"{tuple(arrays[name].shape)}, expected {shape}")

    def load():
        from .. import backend
        if keys:
            optimizer.build([paths[k] for k in keys])
            for slot, slot_arrays in optimizer._slots.items():
                for key, array in zip(keys, slot_arrays):
                    array[...] = backend.array_module(array).asarray(
                        arrays[f"{_OPT}{slot}/{key}"], dtype=array.dtype)
        optimizer.iterations = int(arrays[_OPT + "iterations"])
        for attr in optimizer._SCALAR_STATE:
            if _OPT + attr in arrays:
                setattr(optimizer, attr, arrays[_OPT + attr].item())
    return load
