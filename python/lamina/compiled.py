"""What ``compile`` configured, matched to the model's outputs: one loss, weight and metric
list per output (Keras 3's CompileLoss / CompileMetrics).

`loss`, `loss_weights`, `metrics` and `weighted_metrics` are each a single value (every
output), a list (by output position) or a dict (by output name). The total loss is the SUM of
weight x loss over the outputs, as in Keras 3 (the average is ``loss_weights=[1/n]*n``). With
several losses, each output's UNWEIGHTED loss is also tracked as ``<output>_loss``; with
several outputs, metrics are named ``<output>_<metric>``.
"""
from . import losses as losses_module, metrics as metrics_module

__all__ = ["CompiledOutputs"]


def _describe(names):
    return "[" + ", ".join(repr(n) for n in names) + "]"


def _per_output(value, names, what, nested_ok=False):
    """One entry per output from a single value, a list (by position) or a dict (by name)."""
    n = len(names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: `{what}` has key(s) {_describe(unknown)} that name no "
                             f"model output; the outputs are {_describe(names)}")
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)):
        if nested_ok and n > 1 and len(value) != n:
            if any(isinstance(v, (list, tuple, dict)) for v in value):
                raise ValueError(f"compile: `{what}` is a list of {len(value)} entries but the "
                                 f"model has {n} outputs {_describe(names)}")
            return [list(value)] * n  # a flat list of metrics: every output gets them
        if nested_ok and n == 1:
            return [list(value)]
        if len(value) != n:
            raise ValueError(f"compile: `{what}` is a list of {len(value)} entries but the "
                             f"model has {n} output(s) {_describe(names)}")
        return list(value)
    return [value] * n


def _metric_list(entry, what):
    if entry is None:
        return []
    if isinstance(entry, (list, tuple)):
        return list(entry)
    return [entry]


class CompiledOutputs:
    """Losses, weights and metrics per output for output `names`.

    ``terms``: (output index, Loss, weight or None, tracker or None) for each output with a
    loss; ``metrics``: (output index, metric identifiers, weighted identifiers); the Metric
    objects are made at the first batch (``build_metrics``), when the shapes are known.
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
        if n == 1 and metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise ValueError(f"compile: expected `metrics` to be a list, e.g. "
                             f"metrics=[{metrics!r}]; got {type(metrics).__name__}")
        m = _per_output(metrics, self.names, "metrics", nested_ok=True) \
            if metrics is not None else [None] * n
        wm = _per_output(weighted_metrics, self.names, "weighted_metrics", nested_ok=True) \
            if weighted_metrics is not None else [None] * n
        self.metric_ids = [(i, _metric_list(m[i], "metrics"),
                            _metric_list(wm[i], "weighted_metrics")) for i in range(n)]
        self.metrics = None  # (output index, [Metric], [weighted Metric]) once built

    @property
    def loss_trackers(self):
        return [t[3] for t in self.terms if t[3] is not None]

    def build_metrics(self, ys, preds):
        """Makes the Metric objects from the first batch's targets and predictions."""
        built = []
        for i, ids, wids in self.metric_ids:
            if not ids and not wids:
                continue
            loss = None
            for term in self.terms:
                if term[0] == i:
                    loss = term[1]
            y, p = ys[i], preds[i]
            plain = [metrics_module.get_compile_metric(m, y, p, loss) for m in ids]
            weighted = []
            for m in wids:
                metric = metrics_module.get_compile_metric(m, y, p, loss)
                if any(metric.name == other.name for other in plain):
                    metric.name = "weighted_" + metric.name
                weighted.append(metric)
            if not self.single:
                for metric in plain + weighted:
                    metric.name = f"{self.names[i]}_{metric.name}"
            built.append((i, plain, weighted))
        self.metrics = built

    def all_metrics(self):
        out = []
        for _, plain, weighted in self.metrics or []:
            out.extend(plain)
        for _, plain, weighted in self.metrics or []:
            out.extend(weighted)
        return out
