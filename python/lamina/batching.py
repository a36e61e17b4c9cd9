"""fit / evaluate / predict data: x, y and sample_weight (each one array, a list or a dict of
arrays) as one flat list of numpy arrays with the same number of samples, sliced per batch.

A structure is matched to the model's inputs or outputs once, before training: a list by
position, a dict by name, with an error listing the expected names where they disagree. The
loop then slices the flat list with one ``take`` per array and rebuilds two forms of a batch:
the model's form (inputs in ``model.inputs`` order, targets aligned with the outputs) for the
built-in step, and the user's own structure for an overridden ``train_step``.
"""
import collections.abc
import operator

import numpy as np

from . import backend
from .autograd import Tensor

__all__ = ["Arrays", "to_array", "apply_class_weight", "pythonify_logs", "map_data",
           "concatenate_batches", "unpack", "build"]


def to_array(x, label, where="fit"):
    """x as a numpy array of numbers (Tensors unwrapped, cupy copied to the host), or a clear
    error naming the argument (`label`, e.g. "x" or "y['priority']") and what it holds."""
    if type(x) is np.ndarray and x.dtype.kind in "biuf":  # the common case, checked at once
        return x
    if isinstance(x, Tensor):
        x = x.data
    if hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    if isinstance(x, (collections.abc.Iterator, collections.abc.Generator)):
        raise TypeError(f"{where}: `{label}` is a {type(x).__name__}: Python generators, "
                        f"iterators and datasets are not supported yet; pass numpy arrays "
                        f"(or a list or dict of them)")
    try:
        a = np.asarray(x)
    except ValueError as e:  # rows of different lengths
        raise ValueError(f"{where}: `{label}` cannot be made into one array ({e}); give every "
                         f"sample the same shape (pad sequences to one length)") from None
    kind = a.dtype.kind
    if kind in "biuf":
        return a
    if kind in "US":
        raise TypeError(f"{where}: `{label}` holds strings (dtype {a.dtype}, shape {a.shape}); "
                        f"expected numbers: encode text as integer ids or numeric features "
                        f"first")
    if kind == "c":
        raise TypeError(f"{where}: `{label}` is complex (dtype {a.dtype}); lamina computes in "
                        f"real numbers: pass the real and imaginary parts as separate features")
    if kind == "O" and a.ndim == 0:
        raise TypeError(f"{where}: `{label}` is a {type(x).__name__}, not an array; expected a "
                        f"numpy array (or a list or dict of them)")
    raise TypeError(f"{where}: `{label}` has dtype {a.dtype} (shape {a.shape}); expected "
                    f"numbers. Mixed types or rows of different lengths make an object array: "
                    f"give every sample the same shape and a numeric type")


def _is_array_list(x):
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        v is None or isinstance(v, (np.ndarray, Tensor)) or hasattr(v, "__cuda_array_interface__")
        or (isinstance(v, (list, tuple)) and not _is_scalar_list(v)) for v in x) and \
        any(isinstance(v, (np.ndarray, Tensor)) for v in x)


def _is_scalar_list(v):
    return all(np.isscalar(e) for e in v)


class _Spec:
    """How to rebuild one structure from the flat columns: kind 'one' | 'list' | 'dict',
    the dict keys, and one column index (or None) per slot."""

    __slots__ = ("kind", "keys", "index", "build")

    def __init__(self, kind, keys, index):
        self.kind, self.keys, self.index = kind, keys, index
        # One array (the common case) is one C-level item lookup per batch.
        self.build = operator.itemgetter(index[0]) if kind == "one" else self._build

    def _build(self, cols):
        if self.kind == "list":
            return [None if i is None else cols[i] for i in self.index]
        return {k: cols[i] for k, i in zip(self.keys, self.index) if i is not None}


def _describe(names):
    return "[" + ", ".join(repr(n) for n in names) + "]"


class Arrays:
    """x, y, sample_weight as aligned columns. ``model_x`` etc. build the model's form of a
    batch from a list of columns; ``user_x`` etc. the structure the user passed."""

    def __init__(self, where):
        self.where = where
        self.columns = []
        self.labels = []  # "x['text']", "y[0]", ...: for error messages
        self.specs = {}

    def _add(self, array, label):
        self.columns.append(array)
        self.labels.append(label)
        return len(self.columns) - 1

    def add(self, role, value, names, float_dtypes=None, allow_missing=False):
        """Adds `value` (role 'x', 'y' or 'sample_weight') matched to `names` (the model's
        input or output names; None when the model does not know them: a subclassed model
        takes the structure as given)."""
        where = self.where
        if value is None:
            self.specs[role] = (None, None)
            return
        if isinstance(value, dict):
            keys = list(value)
            if names is not None:
                unknown = [k for k in keys if k not in names]
                if unknown:
                    raise ValueError(
                        f"{where}: `{role}` has key(s) {_describe(unknown)} that name no model "
                        f"{'input' if role == 'x' else 'output'}; expected keys "
                        f"{_describe(names)}")
                missing = [k for k in names if k not in value or value[k] is None]
                if missing and not allow_missing:
                    raise ValueError(f"{where}: `{role}` is missing key(s) "
                                     f"{_describe(missing)}; expected keys {_describe(names)}")
                idx = []
                for k in names:
                    v = value.get(k)
                    label = f"{role}['{k}']"
                    idx.append(None if v is None else self._add(
                        self._convert(v, role, float_dtypes, names.index(k), label), label))
                model = _Spec("one", None, idx) if len(names) == 1 and idx[0] is not None \
                    else _Spec("list", None, idx)
                user_idx = [idx[names.index(k)] for k in keys]
                user = _Spec("dict", keys, user_idx)
            else:
                keys = sorted(keys)
                idx = [self._add(self._convert(value[k], role, None, 0, f"{role}['{k}']"),
                                 f"{role}['{k}']") for k in keys]
                model = user = _Spec("dict", keys, idx)
            self.specs[role] = (model, user)
            return
        if _is_array_list(value) or (names is not None and len(names) > 1 and
                                     isinstance(value, (list, tuple))):
            value = list(value)
            if names is not None and len(value) != len(names):
                raise ValueError(
                    f"{where}: `{role}` is a list of {len(value)} arrays but the model has "
                    f"{len(names)} {'inputs' if role == 'x' else 'outputs'} "
                    f"{_describe(names)}")
            idx = [None if v is None else self._add(
                self._convert(v, role, float_dtypes, i, f"{role}[{i}]"), f"{role}[{i}]")
                for i, v in enumerate(value)]
            if names is not None and len(names) == 1:
                model = _Spec("one", None, idx)
            else:
                model = _Spec("list", None, idx)
            self.specs[role] = (model, _Spec("list", None, idx))
            return
        if names is not None and len(names) > 1 and role != "sample_weight":
            raise ValueError(
                f"{where}: the model has {len(names)} {'inputs' if role == 'x' else 'outputs'} "
                f"{_describe(names)}; pass `{role}` as a list or a dict of arrays keyed by "
                f"these names, not one {type(value).__name__}")
        i = self._add(self._convert(value, role, float_dtypes, 0, role), role)
        spec = _Spec("one", None, [i])  # with several outputs: one sample_weight for all
        self.specs[role] = (spec, spec)

    def _convert(self, v, role, float_dtypes, position, label):
        a = to_array(v, label, self.where)
        if role == "x":
            want = np.dtype(backend.floatx())
            if float_dtypes is not None and position < len(float_dtypes):
                want = float_dtypes[position]
            if a.dtype.kind == "f" and want.kind == "f" and a.dtype != want:
                a = a.astype(want)
            a = np.ascontiguousarray(a)
        return a

    # -- checks ------------------------------------------------------------------------------
    def describe(self, role):
        """"shape (10, 5)" or "x[0] shape (10, 5), x[1] shape (10, 3)" for messages."""
        spec = self.model_form(role)
        idx = [] if spec is None else [i for i in spec.index if i is not None]
        if len(idx) == 1:
            return f"shape {self.columns[idx[0]].shape}"
        return ", ".join(f"{self.labels[i]} shape {self.columns[i].shape}" for i in idx)

    def check_shapes(self, role, shapes, model_name, names):
        """Each array of `role` against the model's shape for it (batch axis not checked, as
        in Keras), so that a mismatch names the user's argument and its whole shape."""
        spec = self.model_form(role)
        if spec is None:
            return
        for k, (i, shape) in enumerate(zip(spec.index, shapes)):
            if i is None or shape is None:
                continue
            a = self.columns[i]
            if a.shape[1:] == shape[1:] and a.ndim == len(shape):
                continue
            if a.ndim != len(shape) or any(
                    d is not None and d != s for d, s in zip(shape[1:], a.shape[1:])):
                which = f" '{names[k]}'" if names and len(names) > 1 else ""
                raise ValueError(
                    f"{self.where}: `{self.labels[i]}` has shape {a.shape}, but model "
                    f"'{model_name}' expects input{which} of shape {tuple(shape)} (the first "
                    f"axis is the batch)")

    def check(self, what):
        """Every column has the same (non-zero) number of samples; returns it."""
        if self.specs.get("x", (None,))[0] is None:
            raise ValueError(f"{self.where}: `x` is required")
        counts = [a.shape[0] if a.ndim else 0 for a in self.columns]
        first = self.specs["x"][0].index[0] if self.specs["x"][0].index else 0
        n = counts[first] if counts else 0
        x0 = self.columns[first]
        if x0.ndim == 0 or n == 0:
            raise ValueError(f"{self.where}: `x` is empty (shape {x0.shape}): there is nothing "
                             f"to {what}")
        bad = [(label, a) for label, a, c in zip(self.labels, self.columns, counts) if c != n]
        if bad:
            if len(self.columns) == 2 or (len(bad) == 1 and self.labels[first] == "x"):
                label, a = bad[0]
                raise ValueError(f"{self.where}: x has {n} samples but {label} has "
                                 f"{a.shape[0] if a.ndim else 0} (x shape {x0.shape}, "
                                 f"{label} shape {a.shape})")
            listing = ", ".join(f"{label} {a.shape}" for label, a in
                                zip(self.labels, self.columns))
            raise ValueError(f"{self.where}: all arrays must have the same number of samples "
                             f"(first axis); got {listing}")
        self.n = n
        return n

    # -- slicing -----------------------------------------------------------------------------
    def slice(self, start, stop):
        return [a[start:stop] for a in self.columns]

    def split(self, at):
        """(first `at` samples, the rest) as two Arrays with the same structure (each with its
        own labels and specs, so that class weights can be added to one of them)."""
        head, tail = Arrays(self.where), Arrays(self.where)
        for part, cols in ((head, self.slice(0, at)), (tail, self.slice(at, self.n))):
            part.columns, part.labels, part.specs = cols, list(self.labels), dict(self.specs)
        head.n, tail.n = at, self.n - at
        return head, tail

    def model_form(self, role):
        return self.specs.get(role, (None, None))[0]

    def user_form(self, role):
        return self.specs.get(role, (None, None))[1]

    def replace(self, role, column, label):
        """Sets (or adds) a single-array `role` (class weights folded into sample_weight)."""
        i = self._add(column, label)
        spec = _Spec("one", None, [i])
        self.specs[role] = (spec, spec)


def build(spec, cols):
    return None if spec is None else spec.build(cols)


# ------------------------------------------------------------------ class weights

def class_weights(y, class_weight, where="fit"):
    """Per-sample weights from a {class: weight} dict and targets (labels, or one-hot rows)."""
    if y.ndim > 2:
        raise ValueError(f"{where}: `class_weight` is only supported for targets of rank <= 2, "
                         f"got y of shape {y.shape}")
    labels = y.argmax(axis=-1) if (y.ndim == 2 and y.shape[1] > 1) else y.reshape(-1)
    labels = np.rint(labels).astype(np.int64)
    if labels.min(initial=0) < 0:
        raise ValueError(f"{where}: `class_weight` needs class labels >= 0, but `y` holds "
                         f"{labels.min()}")
    weights = _class_weight_table(class_weight, where)
    table = np.ones(int(max(labels.max(initial=0), max(weights, default=0))) + 1,
                    dtype=np.float32)
    for k, w in weights.items():
        table[k] = w
    return table[labels]


def _class_weight_table(class_weight, where):
    """{int class: float weight} from the user's dict, or a ValueError naming what is wrong
    (a negative key would silently index the table from its end)."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"{where}: `class_weight` must be a dict {{class index: weight}}, got "
                         f"{type(class_weight).__name__}")
    table = {}
    for k, w in class_weight.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.number)) or \
                not float(k).is_integer() or k < 0:
            raise ValueError(f"{where}: `class_weight` keys must be class indices (integers "
                             f">= 0), got {k!r}")
        try:
            table[int(k)] = float(w)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: `class_weight` for class {k!r} must be a number, got "
                             f"{w!r}") from None
    return table


def apply_class_weight(arrays, outputs, class_weight, where="fit"):
    """Folds `class_weight` into the sample weights of `arrays` (compiled.CompiledOutputs
    `outputs` gives the output names): one {class: weight} dict for a single output, a dict by
    output name of them for several."""
    cols = arrays.columns
    if not isinstance(class_weight, dict):
        raise ValueError(f"{where}: `class_weight` must be a dict {{class index: weight}}, got "
                         f"{type(class_weight).__name__}")
    if arrays.model_form("y") is None:
        raise ValueError(f"{where}: `class_weight` needs `y`")
    if outputs.single:
        y = build(arrays.model_form("y"), cols)
        if isinstance(y, list):
            y = y[0]
        cw = class_weights(y, class_weight, where)
        sw = build(arrays.model_form("sample_weight"), cols)
        arrays.replace("sample_weight", cw if sw is None else sw * cw, "class_weight")
        return
    names = outputs.names
    if not all(isinstance(v, dict) for v in class_weight.values()):
        raise ValueError(f"{where}: the model has {len(names)} outputs {names}: pass "
                         "`class_weight` as a dict keyed by output name, each a dict "
                         "{class: weight}")
    unknown = [k for k in class_weight if k not in names]
    if unknown:
        raise ValueError(f"{where}: `class_weight` has key(s) {unknown} that name no model "
                         f"output; the outputs are {names}")
    ys = build(arrays.model_form("y"), cols)
    sw = build(arrays.model_form("sample_weight"), cols)
    per_output = sw if isinstance(sw, list) else [sw] * len(names)
    new = []
    for i, name in enumerate(names):
        w = per_output[i]
        if name in class_weight:
            cw = class_weights(ys[i], class_weight[name], where)
            w = cw if w is None else w * cw
        new.append(w)
    idx = [None if w is None else arrays._add(w, f"class_weight['{n}']")
           for w, n in zip(new, names)]
    spec = _Spec("list", None, idx)
    arrays.specs["sample_weight"] = (spec, spec)


# ------------------------------------------------------------------ steps' data and logs

def unpack(data):
    """(x,), (x, y) or (x, y, sample_weight) -> (x, y, sample_weight)."""
    if isinstance(data, (tuple, list)):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data[0], data[1], data[2]
    return data, None, None


def map_data(out):
    """Tensors -> arrays inside one output, a list or a dict of outputs."""
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, (list, tuple)):
        return [map_data(o) for o in out]
    if isinstance(out, dict):
        return {k: map_data(v) for k, v in out.items()}
    return out


def concatenate_batches(batches):
    first = batches[0]
    if isinstance(first, list):
        return [np.concatenate([b[i] for b in batches], axis=0) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: np.concatenate([b[k] for b in batches], axis=0) for k in first}
    return np.concatenate(batches, axis=0)


def pythonify_logs(logs):
    """Keras 3's pythonify_logs: a nested dict (a metric container's results) is merged into
    the top level and values become Python floats where they can; keys come sorted."""
    result = {}

    def merge(d):
        for key, value in d.items():
            if isinstance(value, dict):
                merge(value)
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
            result[key] = value

    merge(logs or {})
    return dict(sorted(result.items()))
