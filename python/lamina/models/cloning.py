"""clone_model: the same architecture over new layers (new weights), as Keras 3's.

A Sequential or functional model is rebuilt layer by layer: each layer goes through
`clone_function` (default ``layer.__class__.from_config(layer.get_config())``; a layer shared in
the graph is cloned once) and, for a functional model, the recorded calls are replayed on new
Inputs (or `input_tensors`) through `call_function` (default: calling the layer). Any other
model is serialized and deserialized, so it must support get_config / from_config.
"""
from ..layers.core import Input, InputLayer
from ..layers.symbolic import SymbolicTensor, _replace, flatten
from ..saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from .functional import Functional
from .sequential import Sequential

__all__ = ["clone_model"]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A copy of `model` with freshly initialized weights (Keras 3's arguments).

    input_tensors: symbolic tensors (``Input``) to build the copy on, in the structure of
        ``model.input``; new Inputs like the model's by default.
    clone_function: ``fn(layer) -> layer`` for every layer but the Inputs.
    call_function: ``fn(layer, *args, **kwargs) -> outputs`` replaying each call of a
        functional model (to insert layers, say).
    recursive: clone nested Sequential / functional models with clone_model too (with the
        same functions) rather than through clone_function.
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"clone_model: Unexpected keyword argument(s): {tuple(kwargs)}")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("clone_model: `call_function` argument is not supported with "
                             "Sequential models. In a Sequential model, layers aren't called "
                             "at model-construction time (they're merely listed). Use "
                             "`call_function` with Functional models only. Received model of "
                             f"type '{type(model).__name__}', with "
                             f"call_function={call_function}")
        clone = _cloner(clone_function, None, recursive, cache)
        return _clone_sequential(model, clone, input_tensors)
    if isinstance(model, Functional) and (type(model).get_config is Functional.get_config or
                                          clone_function or input_tensors is not None):
        clone = _cloner(clone_function, call_function, recursive, cache)
        return _clone_functional(model, clone, input_tensors, call_function)
    if clone_function or input_tensors is not None:
        raise ValueError(f"clone_model: Arguments `clone_function` and `input_tensors` are only "
                         f"supported for Sequential models or Functional models. Received "
                         f"model of type '{type(model).__name__}', with "
                         f"clone_function={clone_function} and input_tensors={input_tensors}")
    if call_function is not None:
        raise ValueError(f"clone_model: Argument `call_function` is only supported for "
                         f"Functional models. Received model of type "
                         f"'{type(model).__name__}', with call_function={call_function}")
    cls = type(model).__dict__.get("_user_class", type(model))
    return deserialize_keras_object(serialize_keras_object(model),
                                    custom_objects={cls.__name__: cls})


def _cloner(clone_function, call_function, recursive, cache):
    """clone_function with a cache (a shared layer is cloned once) and, with `recursive`,
    nested models cloned by clone_model."""
    if clone_function is None:
        def clone_function(layer):
            return layer.__class__.from_config(layer.get_config())
    if not callable(clone_function):
        raise ValueError(f"clone_model: Expected `clone_function` argument to be a callable. "
                         f"Received: clone_function={clone_function}")
    cache = {} if cache is None else cache

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, recursive=True, cache=cache,
                    call_function=None if isinstance(layer, Sequential) else call_function)
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    return clone


def _clone_sequential(model, clone, input_tensors):
    layers = [clone(layer) for layer in model.layers]
    first = model._stack[0] if model._stack else None
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("clone_model: Argument `input_tensors` must contain a single "
                                 "tensor.")
            input_tensors = input_tensors[0]
        if not (isinstance(input_tensors, SymbolicTensor) and
                isinstance(input_tensors.layer, InputLayer)):
            raise ValueError(f"clone_model: Argument `input_tensors` of a Sequential model must "
                             f"be an Input. Received invalid value: "
                             f"input_tensors={input_tensors}")
        layers = [input_tensors.layer] + layers
    elif isinstance(first, InputLayer):
        layers = [Input(batch_shape=first.batch_shape, dtype=first.dtype, name=first.name)] + \
            layers
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _clone_functional(model, clone, input_tensors, call_function):
    if input_tensors is None:
        input_tensors = _replace(model.input, iter(
            Input(batch_shape=t.shape, dtype=t.dtype.name, name=t.name) for t in model.inputs))
    flat = flatten(input_tensors)
    if not all(isinstance(t, SymbolicTensor) for t in flat):
        raise ValueError(f"clone_model: All entries in `input_tensors` must be symbolic "
                         f"tensors (Input). Received invalid values: "
                         f"input_tensors={input_tensors}")
    if len(flat) != len(model.inputs) or type(input_tensors) is not type(model.input) and \
            not (isinstance(input_tensors, (list, tuple)) and
                 isinstance(model.input, (list, tuple))):
        raise ValueError(f"clone_model: `input_tensors` must have the same structure as "
                         f"model.input\nReference structure: {model.input}\nReceived "
                         f"structure: {input_tensors}")
    values = [None] * model._n_values
    values[:len(flat)] = flat
    for node, ins, outs in model._steps:
        layer = clone(node.layer)
        args, kwargs = node.pack_arguments([values[j] for j in ins])
        result = call_function(layer, *args, **kwargs) if call_function is not None else \
            layer(*args, **kwargs)
        if len(outs) == 1 and isinstance(node.output_struct, SymbolicTensor):
            values[outs[0]] = result
        else:
            for j, r in zip(outs, flatten(result)):
                values[j] = r
    outputs = _replace(model.output, iter(values[i] for i in model._output_index))
    return Functional(input_tensors, outputs, name=model.name)
