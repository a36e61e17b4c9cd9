"""What ``compile`` configured, matched to the model's outputs: one loss, weight and metric
list per output (Keras 3's CompileLoss / CompileMetrics).

`loss` and `loss_weights` are each a single value (every output), a list (by output position)
or a dict (by output name). `metrics` and `weighted_metrics` follow Keras 3's CompileMetrics: for
one output a list of metrics; for several outputs a list with one entry per output (a metric or
a list of metrics; a list of another length is an error) or a dict by output name. The total
loss is the SUM of weight x loss over the outputs, as in Keras 3 (the average is
``loss_weights=[1/n]*n``). With several losses, each output's UNWEIGHTED loss is also tracked as
``<output>_loss``; with several outputs, metric results are named ``<output>_<metric>``.

A mask that a masking layer attached to an output (Embedding(mask_zero=True), Masking, the
recurrent layers after them) weighs the loss and the metrics of that output as Keras 3 does:
masked entries count 0 and a mean runs over the valid entries only.
"""
import numpy as np

from . import losses as losses_module, metrics as metrics_module
from .autograd import Tensor
from .masking import get_mask as _tensor_mask

__all__ = ["CompiledOutputs", "CompileMetrics", "check_metric_identifiers"]


def _describe(names):
    return "[" + ", ".join(repr(n) for n in names) + "]"


def _per_output(value, names, what):
    """One entry per output from a single value, a list (by position) or a dict (by name)."""
    n = len(names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: `{what}` has key(s) {_describe(unknown)} that name no "
                             f"model output; the outputs are {_describe(names)}")
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"compile: `{what}` is a list of {len(value)} entries but the "
                             f"model has {n} output(s) {_describe(names)}")
        return list(value)
    return [value] * n


def _function_like(m):
    return m is None or isinstance(m, str) or callable(m)


def check_metric_identifiers(value, what):
    """Every metric in `metrics` / `weighted_metrics` (any nesting of lists and dicts) is a
    Metric, a function or a name lamina knows: an unknown name fails at compile, as an unknown
    loss does, not at the end of fit's first step (after the weights were updated)."""
    if value is None:
        return
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for entry in value:
            check_metric_identifiers(entry, what)
        return
    if isinstance(value, str) and value.lower() in ("accuracy", "acc"):
        return  # resolved from the shapes at the first batch
    if not _function_like(value) and not isinstance(value, metrics_module.Metric):
        raise ValueError(f"compile: every entry of `{what}` must be a metric (a name, a "
                         f"function or a Metric), got {value!r}")
    if isinstance(value, str):
        try:
            metrics_module.get(value)
        except ValueError as e:
            raise ValueError(f"compile: `{what}`: {e}") from None


def _metric_lists(value, names, what):
    """Keras 3's CompileMetrics rule: the metric identifiers of each output."""
    n = len(names)
    if value is None:
        return [[] for _ in names]
    if not isinstance(value, (list, tuple, dict)):
        raise ValueError(f"compile: expected `{what}` to be a list or a dict, e.g. "
                         f"{what}=[{value!r}]; got {type(value).__name__}")
    if isinstance(value, dict):
        per = _per_output(value, names, what)
    elif n == 1:
        per = [list(value)]
    else:
        if len(value) != n:
            raise ValueError(
                f"compile: `{what}` is a list of {len(value)} entries but the model has {n} "
                f"outputs {_describe(names)}: for several outputs give one entry per output "
                f"(a metric or a list of metrics, e.g. {what}=[{_example(value, n)}]) or a "
                f"dict keyed by output name")
        per = list(value)
    out = []
    for name, entry in zip(names, per):
        entry = [] if entry is None else list(entry) if isinstance(entry, (list, tuple)) \
            else [entry]
        bad = [m for m in entry if not _function_like(m)]
        if bad:
            where = f" for output '{name}'" if n > 1 else ""
            raise ValueError(f"compile: every entry of `{what}`{where} must be a metric (a "
                             f"name, a function or a Metric), got {bad[0]!r}")
        out.append([m for m in entry if m is not None])
    return out


def _example(value, n):
    first = value[0] if value else "accuracy"
    return ", ".join([repr(first)] * n)


class CompiledOutputs:
    """Losses, weights and metrics per output for output `names`.

    ``terms``: (output index, Loss, weight or None, tracker or None) for each output with a
    loss; ``compile_metrics``: the CompileMetrics container (None when compile had neither
    `metrics` nor `weighted_metrics`), whose Metric objects are made once the shapes are known.
    """

    def __init__(self, names, loss, loss_weights, metrics, weighted_metrics):
        self.names = list(names)
        n = len(self.names)
        self.single = n == 1
        fns = _per_output(loss, self.names, "loss")
        if loss_weights is None:
            weights = [None] * n
        elif isinstance(loss_weights, (int, float)) and n > 1:
            weights = [loss_weights] * n
        else:
            weights = _per_output(loss_weights, self.names, "loss_weights")
        self.terms = []
        for i, (fn, w) in enumerate(zip(fns, weights)):
            if fn is None:
                continue
            if w is not None:
                try:
                    w = float(w)
                except (TypeError, ValueError):
                    raise ValueError(f"compile: loss weight for output '{self.names[i]}' must "
                                     f"be a number, got {w!r}") from None
            self.terms.append([i, losses_module.get(fn), None if w == 1.0 else w, None])
        if len(self.terms) > 1:
            for term in self.terms:
                term[3] = metrics_module.Mean(name=f"{self.names[term[0]]}_loss")
        self.compile_metrics = None
        if metrics is not None or weighted_metrics is not None:
            self.compile_metrics = CompileMetrics(
                self, _metric_lists(metrics, self.names, "metrics"),
                _metric_lists(weighted_metrics, self.names, "weighted_metrics"))

    @property
    def loss_trackers(self):
        return [t[3] for t in self.terms if t[3] is not None]

    def loss_of(self, i):
        for term in self.terms:
            if term[0] == i:
                return term[1]
        return None

    # -- structures --------------------------------------------------------------------------
    def flat_outputs(self, y_pred):
        """The model's outputs (one, a list or a dict) as a list in output order."""
        if isinstance(y_pred, dict):
            if set(y_pred) != set(self.names):
                raise ValueError(f"The model returned outputs {sorted(y_pred)} but was "
                                 f"compiled for outputs {self.names}")
            return [y_pred[k] for k in self.names]
        if isinstance(y_pred, (list, tuple)):
            if len(y_pred) != len(self.names):
                raise ValueError(f"The model returned {len(y_pred)} outputs but was compiled "
                                 f"for {len(self.names)}: {self.names}")
            return list(y_pred)
        return [y_pred]

    def flat_targets(self, y, role="y"):
        """Targets (or sample weights) as a list aligned with the outputs; one sample_weight
        array serves every output."""
        names = self.names
        if y is None:
            return [None] * len(names)
        if isinstance(y, dict):
            unknown = [k for k in y if k not in names]
            if unknown:
                raise ValueError(f"`{role}` has key(s) {unknown} that name no model output; "
                                 f"the outputs are {names}")
            return [y.get(k) for k in names]
        if isinstance(y, (list, tuple)) and (len(names) > 1 or (
                len(y) == 1 and not np.isscalar(y[0]) and np.ndim(y[0]) > 0)):
            if len(y) == 1 and len(names) > 1 and role == "sample_weight":
                return [y[0]] * len(names)
            if len(y) != len(names):
                raise ValueError(f"`{role}` is a list of {len(y)} but the model has "
                                 f"{len(names)} outputs {names}")
            return list(y)
        if role == "sample_weight" or len(names) == 1:
            return [y] * len(names)
        raise ValueError(f"The model has {len(names)} outputs {names}: pass `{role}` as a "
                         f"list or a dict keyed by these names")

    # -- the loss ----------------------------------------------------------------------------
    @staticmethod
    def output_loss(fn, y, y_pred, sample_weight):
        """fn(y, y_pred, sample_weight) with the mask of `y_pred` (a Tensor), when it carries
        one, merged into the sample weights as Keras 3's Loss does (losses.loss.apply_mask)."""
        mask = _tensor_mask(y_pred)
        if mask is None:
            return fn(y, y_pred, sample_weight)
        sample_weight = metrics_module.apply_mask(
            sample_weight, mask, getattr(fn, "reduction", "sum_over_batch_size"))
        return fn(y, y_pred, sample_weight.astype(y_pred.dtype, copy=False))


def _data(p):
    return p.data if isinstance(p, Tensor) else p


class CompileMetrics(metrics_module.Metric):
    """Keras 3's container of the compiled metrics: one Metric in ``model.metrics`` whose
    ``update_state(y, y_pred, sample_weight=None)`` updates every compiled metric (y and y_pred
    as the model takes and returns them: one array, a list or a dict) and whose ``result()`` is
    a dict by metric name. ``metrics`` lists the Metric objects inside it."""

    def __init__(self, outputs, metric_ids, weighted_ids):
        super().__init__(name="compile_metrics")
        self._outputs = outputs
        self._metric_ids = metric_ids
        self._weighted_ids = weighted_ids
        self._per_output = []  # (output index, [Metric], [weighted Metric]) once built
        self.built = False

    @property
    def metrics(self):
        return [m for _, plain, _ in self._per_output for m in plain] + \
            [m for _, _, weighted in self._per_output for m in weighted]

    def build(self, ys, preds):
        """Makes the Metric objects for targets and outputs like `ys` and `preds` (lists in
        output order; arrays, Tensors or anything with a ``shape``)."""
        per_output = []
        outs = self._outputs
        for i, (ids, wids) in enumerate(zip(self._metric_ids, self._weighted_ids)):
            if not ids and not wids:
                continue
            loss = outs.loss_of(i)
            y, p = ys[i], preds[i]
            plain = [metrics_module.get_compile_metric(m, y, p, loss) for m in ids]
            weighted = [metrics_module.get_compile_metric(m, y, p, loss) for m in wids]
            per_output.append((i, plain, weighted))
        self._per_output = per_output
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        outs = self._outputs
        preds = outs.flat_outputs(y_pred)
        ys = outs.flat_targets(y_true)
        sws = outs.flat_targets(sample_weight, "sample_weight")
        self.update_flat(ys, preds, sws)

    def update_single(self, y, p, sw):
        """update_flat for a single output without the lists (the training step's case)."""
        if not self.built:
            self.build([y], [p])
        if not self._per_output:
            return
        _, plain, weighted = self._per_output[0]
        if _tensor_mask(p) is None:
            p = p.data
        for m in plain:
            m.update_state(y, p)
        for m in weighted:
            m.update_state(y, p, sample_weight=sw)

    def update_flat(self, ys, preds, sws):
        """update_state on lists aligned with the outputs (the training loop's form); an
        output that carries a mask is passed on as the Tensor, so that each metric reads it."""
        if not self.built:
            self.build(ys, preds)
        for i, plain, weighted in self._per_output:
            y, p = ys[i], preds[i]
            if metrics_module.get_mask(p) is None:
                p = _data(p)
            for m in plain:
                m.update_state(y, p)
            sw = sws[i]
            for m in weighted:
                m.update_state(y, p, sample_weight=sw)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        """Keras 3's names: ``<output>_<metric>`` with several outputs, a weighted metric whose
        name is taken becomes ``weighted_<metric>``, later duplicates get ``_1``, ``_2``."""
        results = {}
        counters = {}
        several = not self._outputs.single
        names = self._outputs.names

        def prefixed(i, name):
            return f"{names[i]}_{name}" if several else name

        def unique(name):
            index = counters.get(name)
            counters[name] = (index or 0) + 1
            return name if index is None else f"{name}_{index}"

        for i, plain, _ in self._per_output:
            for m in plain:
                results[unique(prefixed(i, m.name))] = m.result()
        for i, _, weighted in self._per_output:
            for m in weighted:
                name = prefixed(i, m.name)
                if name in counters:
                    name = prefixed(i, "weighted_" + m.name)
                results[unique(name)] = m.result()
        return results
