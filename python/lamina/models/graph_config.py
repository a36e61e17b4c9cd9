"""A functional model's config in Keras 3's layout, and the model rebuilt from one.

``get_config`` lists the layers of the graph, each as ``serialize_keras_object(layer)`` plus
its ``name`` and ``inbound_nodes``: one ``{"args": [...], "kwargs": {...}}`` per call of the
layer inside this model, the symbolic tensors in them written as ``__keras_tensor__`` with
``keras_history`` [producing layer, node index, tensor index]. ``input_layers`` and
``output_layers`` hold such triples in the structure of the model's inputs and outputs (one
triple, a list or a dict). Node indices count only the calls that belong to this model; in
``input_layers`` / ``output_layers`` a nested functional model's indices start at 1, as Keras
writes them (Keras counts the node its construction made). An input given as an intermediate
tensor (``Model(x_mid, y)``) becomes a new InputLayer in the config, as Keras' cloning does.

``functional_from_config`` creates every layer, then replays the calls layer by layer,
deferring one whose input tensors do not exist yet (a layer shared at different depths), as
Keras' functional_from_config; it also reads lamina's and Keras 2's older ``inbound_nodes`` of
[layer, node, tensor] lists.
"""
from ..layers.core import InputLayer
from ..layers.layer import Layer
from ..layers.symbolic import SymbolicTensor
from ..saving.serialization_lib import (TensorRef, deserialize_keras_object,
                                        serialize_keras_object)

__all__ = ["functional_get_config", "functional_from_config", "layers_in_config"]


def _map(struct, fn):
    """`struct` (tensors in lists, tuples and dicts) with `fn` applied to each leaf."""
    if isinstance(struct, (list, tuple)):
        return [_map(v, fn) for v in struct]
    if isinstance(struct, dict):
        return {k: _map(v, fn) for k, v in struct.items()}
    return fn(struct)


def _relevant_nodes(model):
    """Ids of the nodes the config replays: the model's, less those that make an input given
    as an intermediate tensor (Model(x_mid, y)) from outside the model."""
    outside = {id(t.node) for t in model.inputs if t.node.inputs}
    return {id(n) for n in model._nodes} - outside


def layers_in_config(model):
    """The model's layers that its config lists (all but the makers of intermediate inputs),
    in ``layers`` order."""
    relevant = _relevant_nodes(model)
    return [layer for layer in model._graph_layers
            if any(id(n) in relevant for n in layer._inbound_nodes)]


def functional_get_config(model):
    from .functional import Functional
    relevant = _relevant_nodes(model)
    used = {layer.name for layer in layers_in_config(model)}
    replaced = {}  # id(input tensor made outside) -> the InputLayer that stands for it
    for t in model.inputs:
        if t.node.inputs:
            name = t.name if t.index == 0 else f"{t.name}_{t.index}"
            while name in used:
                name += "CLONE"
            used.add(name)
            replaced[id(t)] = InputLayer(batch_shape=t.shape, dtype=t.dtype.name, name=name)

    def node_index(layer, node):
        index = 0
        for n in layer._inbound_nodes:
            if n is node:
                return index
            if id(n) in relevant:
                index += 1
        raise RuntimeError(f"Model '{model.name}': internal error, no node of layer "
                           f"'{layer.name}' makes this tensor")

    def history(t):
        if id(t) in replaced:
            return [replaced[id(t)].name, 0, 0]
        return [t.layer.name, node_index(t.layer, t.node), t.index]

    def tensor_config(x):
        if not isinstance(x, SymbolicTensor):
            return serialize_keras_object(x)
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(x.shape), "dtype": x.dtype.name, "keras_history": history(x)}}

    def io_ref(t):
        ref = history(t)
        if isinstance(t.layer, Functional) and id(t) not in replaced:
            ref[1] += 1
        return ref

    layers = []
    for layer in replaced.values():
        entry = serialize_keras_object(layer)
        entry.update(name=layer.name, inbound_nodes=[])
        layers.append(entry)
    for layer in layers_in_config(model):
        nodes = [n for n in layer._inbound_nodes if id(n) in relevant]
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [{"args": _map(list(n.args), tensor_config),
                                   "kwargs": _map(n.kwargs, tensor_config)}
                                  for n in nodes if n.inputs]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": _map(model._inputs_struct, io_ref),
            "output_layers": _map(model._outputs_struct, io_ref)}


def _tensor(created, layer_name, node_index, tensor_index):
    layer = created.get(layer_name)
    if layer is None:
        raise ValueError(f"Model.from_config: unknown layer '{layer_name}' (the config's layers "
                         f"are {sorted(created)})")
    if len(layer._inbound_nodes) <= node_index:
        raise IndexError(node_index)  # not called yet: the call is replayed later
    return layer._inbound_nodes[node_index].outputs[tensor_index]


def _node_arguments(node_data, created):
    """(args, kwargs) of one recorded call, its tensors those of the layers made so far."""
    if isinstance(node_data, list):  # [[layer, node, tensor(, kwargs)], ...]
        tensors, kwargs = [], {}
        for entry in node_data:
            tensors.append(_tensor(created, *entry[:3]))
            if len(entry) == 4:
                kwargs = entry[3]
        return [tensors[0] if len(tensors) == 1 else tensors], kwargs

    def resolve(x):
        if isinstance(x, TensorRef):
            if x.history is None:
                raise ValueError("Model.from_config: a tensor in the config has no "
                                 "keras_history")
            return _tensor(created, *x.history)
        return x

    args = _map(deserialize_keras_object(node_data.get("args", [])), resolve)
    kwargs = _map(deserialize_keras_object(node_data.get("kwargs", {})), resolve)
    return args, kwargs


def functional_from_config(cls, config, custom_objects=None):
    """An instance of `cls` (Model, Functional or a subclass taking Functional's arguments)
    from a functional config; the remaining keys of `config` go to its constructor."""
    from .functional import Functional
    config = dict(config)
    layers_data = config.pop("layers")
    input_layers = config.pop("input_layers")
    output_layers = config.pop("output_layers")
    created, pending = {}, {}
    for data in layers_data:
        layer = deserialize_keras_object(data, custom_objects=custom_objects)
        if not isinstance(layer, Layer):
            raise ValueError(f"Model.from_config: the config of layer '{data.get('name')}' "
                             f"makes a {type(layer).__name__}, not a layer")
        created[data["name"]] = layer
        if data.get("inbound_nodes"):
            pending[data["name"]] = list(data["inbound_nodes"])
    while pending:
        progress = False
        for data in layers_data:
            calls = pending.get(data["name"])
            while calls:
                try:
                    args, kwargs = _node_arguments(calls[0], created)
                except IndexError:
                    break
                created[data["name"]](*args, **kwargs)
                calls.pop(0)
                progress = True
            if calls is not None and not calls:
                del pending[data["name"]]
        if not progress:
            raise ValueError(f"Model.from_config: the calls of layer(s) {sorted(pending)} take "
                             f"tensors that no call in the config makes")

    def io_tensor(ref):
        name, node_index, tensor_index = ref
        if isinstance(created.get(name), Functional):
            node_index -= 1
        return _tensor(created, name, node_index, tensor_index)

    def io(struct):
        if isinstance(struct, list) and len(struct) == 3 and isinstance(struct[0], str):
            return io_tensor(struct)
        if isinstance(struct, dict):
            return {k: io(v) for k, v in struct.items()}
        return [io(v) for v in struct]

    return cls(inputs=io(input_layers), outputs=io(output_layers), **config)
