"""fit / evaluate / predict data: x, y and sample_weight (each one array, a list or a dict of
arrays) as one flat list of numpy arrays with the same number of samples, sliced per batch.

A structure is matched to the model's inputs or outputs once, before training: a list by
position, a dict by name, with an error listing the expected names where they disagree. The
loop then slices the flat list with one ``take`` per array and rebuilds two forms of a batch:
the model's form (inputs in ``model.inputs`` order, targets aligned with the outputs) for the
built-in step, and the user's own structure for an overridden ``train_step``.
"""
import operator

import numpy as np

from . import backend
from .autograd import Tensor

__all__ = ["Arrays", "to_array"]


def to_array(x, name):
    """x as a numpy array (Tensors unwrapped, cupy copied to the host)."""
    if isinstance(x, Tensor):
        x = x.data
    if hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    return np.asarray(x)


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


_NONE = _Spec("list", (), ())


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
                    idx.append(None if v is None else self._add(
                        self._convert(v, role, float_dtypes, names.index(k)),
                        f"{role}['{k}']"))
                model = _Spec("one", None, idx) if len(names) == 1 and idx[0] is not None \
                    else _Spec("list", None, idx)
                user_idx = [idx[names.index(k)] for k in keys]
                user = _Spec("dict", keys, user_idx)
            else:
                keys = sorted(keys)
                idx = [self._add(self._convert(value[k], role, None, 0), f"{role}['{k}']")
                       for k in keys]
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
                self._convert(v, role, float_dtypes, i), f"{role}[{i}]")
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
        i = self._add(self._convert(value, role, float_dtypes, 0), role)
        if names is not None and len(names) > 1:  # one sample_weight for every output
            spec = _Spec("one", None, [i])
            self.specs[role] = (spec, spec)
            return
        spec = _Spec("one", None, [i])
        self.specs[role] = (spec, spec)

    @staticmethod
    def _convert(v, role, float_dtypes, position):
        a = to_array(v, role)
        if role == "x":
            want = np.dtype(backend.floatx())
            if float_dtypes is not None and position < len(float_dtypes):
                want = float_dtypes[position]
            if a.dtype.kind == "f" and want.kind == "f" and a.dtype != want:
                a = a.astype(want)
            a = np.ascontiguousarray(a)
        return a

    # -- checks ------------------------------------------------------------------------------
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
    def take(self, idx):
        return [a.take(idx, axis=0) for a in self.columns]

    def slice(self, start, stop):
        return [a[start:stop] for a in self.columns]

    def split(self, at):
        """(first `at` samples, the rest) as two Arrays with the same structure."""
        head, tail = Arrays(self.where), Arrays(self.where)
        for part, cols in ((head, self.slice(0, at)), (tail, self.slice(at, self.n))):
            part.columns, part.labels, part.specs = cols, self.labels, self.specs
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
