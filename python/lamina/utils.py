"""Small user-facing helpers with Keras' names."""
import random as _py_random

import numpy as np

from . import random as _lamina_random

__all__ = ["set_random_seed", "model_to_dot", "plot_model"]


def set_random_seed(seed):
    """Seeds Python's, numpy's and lamina's random generators (keras.utils.set_random_seed):
    the same seed then gives the same training run, bit for bit, on the same machine and number
    of threads."""
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: expected an integer seed, got {type(seed).__name__}")
    _py_random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _lamina_random.seed(int(seed))


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False,
                 show_trainable=False):
    """The model's graph in Graphviz' DOT language, as text (Keras returns a pydot object;
    lamina returns the source, which needs neither pydot nor graphviz to produce)."""
    from .models.functional import Functional
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: `rankdir` must be 'TB' or 'LR', got {rankdir!r}")
    lines = [f'digraph "{model.name}" {{', f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
             '  node [shape=record, fontname="Helvetica"];']

    def label(layer, shapes_in, shapes_out):
        title = f"{layer.name} ({type(layer).__name__})" if show_layer_names else \
            type(layer).__name__
        act = getattr(layer, "activation", None)
        if show_layer_activations and act is not None:
            title += f" | activation: {getattr(act, '__name__', act)}"
        if show_dtype:
            title += f" | dtype: {layer.dtype}"
        if show_trainable:
            title += f" | trainable: {layer.trainable}"
        if show_shapes:
            title += f" | {{input: {shapes_in} | output: {shapes_out}}}"
        return title.replace('"', "'").replace("[", "\\[").replace("]", "\\]").replace(
            "<", "\\<").replace(">", "\\>")

    def fmt(shapes):
        return ", ".join(str(s) for s in shapes) if shapes else "?"

    if isinstance(model, Functional):
        relevant = {id(n) for n in model._nodes}
        for layer in model.layers:
            nodes = [n for n in layer._inbound_nodes if id(n) in relevant]
            ins = [t.shape for n in nodes for t in n.inputs] or \
                [t.shape for n in nodes for t in n.outputs]
            outs = [t.shape for n in nodes for t in n.outputs]
            lines.append(f'  "{id(layer)}" [label="{label(layer, fmt(ins), fmt(outs))}"];')
        declared = {id(layer) for layer in model.layers}
        for layer in model.layers:
            for n in layer._inbound_nodes:
                if id(n) not in relevant:
                    continue
                for t in n.inputs:
                    # A model built from an intermediate tensor starts at a layer whose
                    # producer is outside the model: no edge from an undeclared node.
                    if id(t.layer) in declared:
                        lines.append(f'  "{id(t.layer)}" -> "{id(layer)}";')
    else:
        prev, shape = None, getattr(model, "input_shape", None)
        for layer in model.layers:
            out = getattr(layer, "_output_shape", None)
            lines.append(f'  "{id(layer)}" [label="{label(layer, shape, out)}"];')
            if prev is not None:
                lines.append(f'  "{id(prev)}" -> "{id(layer)}";')
            prev, shape = layer, out
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draws the model's graph to `to_file` with Graphviz (keras.utils.plot_model).

    A ``.dot`` file gets the DOT source and needs nothing else; other formats (png, svg, pdf)
    need the ``dot`` program of Graphviz, reached through the ``graphviz`` or ``pydot`` Python
    package when installed (``pip install "lamina[plot]"``) or else directly on PATH."""
    import os
    import shutil
    import subprocess
    source = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                          show_layer_names=show_layer_names, rankdir=rankdir,
                          expand_nested=expand_nested, dpi=dpi,
                          show_layer_activations=show_layer_activations,
                          show_trainable=show_trainable)
    to_file = str(to_file)
    fmt = os.path.splitext(to_file)[1].lstrip(".").lower() or "png"
    if fmt == "dot":
        with open(to_file, "w") as f:
            f.write(source)
        return to_file
    dot = shutil.which("dot")
    if dot is None:
        raise ImportError(
            "plot_model: rendering needs Graphviz' `dot` program (https://graphviz.org/download/"
            f", and optionally `pip install graphviz` or pydot); to_file='{to_file}' was not "
            "written. Use a .dot file name to get the DOT source without Graphviz.")
    try:
        import graphviz
        graphviz.Source(source).render(outfile=to_file, format=fmt, cleanup=True)
        return to_file
    except ImportError:
        pass
    result = subprocess.run([dot, f"-T{fmt}", "-o", to_file], input=source.encode(),
                            capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"plot_model: dot failed: {result.stderr.decode(errors='replace')}")
    return to_file
