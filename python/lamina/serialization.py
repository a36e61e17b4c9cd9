"""What a layer's ``get_config`` writes for its initializers, regularizers and constraints, in
the form ``from_config`` (through initializers.get, regularizers.get, constraints.get) takes
back, so that a layer rebuilt from its config (Bidirectional's copies, a saved model) keeps
them."""
from . import constraints, initializers, regularizers

__all__ = ["serialize_argument"]


def serialize_argument(obj):
    """A layer config's entry for an initializer, regularizer or constraint: a
    {"class_name", "config"} dict for lamina's own classes (what initializers.get,
    regularizers.get and constraints.get take back), None, or else the object itself (a user's
    callable round-trips through from_config within the process)."""
    if isinstance(obj, initializers.Initializer):
        return initializers.serialize(obj)
    if isinstance(obj, regularizers.Regularizer):
        return regularizers.serialize(obj)
    if isinstance(obj, constraints.Constraint):
        return constraints.serialize(obj)
    return obj
