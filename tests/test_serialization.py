"""lamina.serialization.serialize_argument and the serialize / get pairs of regularizers and
constraints: what a layer's get_config writes comes back through from_config."""
import numpy as np
import pytest

import lamina as L
from lamina import constraints, initializers, regularizers
from lamina.serialization import serialize_argument


@pytest.mark.parametrize("obj,get", [
    (regularizers.L2(0.3), regularizers.get), (regularizers.L1L2(0.1, 0.2), regularizers.get),
    (constraints.NonNeg(), constraints.get), (constraints.MaxNorm(1.5, axis=1), constraints.get),
    (constraints.UnitNorm(axis=0), constraints.get),
    (constraints.MinMaxNorm(0.1, 2.0, 0.5, axis=0), constraints.get),
    (initializers.get("he_normal"), initializers.get)], ids=lambda v: type(v).__name__)
def test_serialized_arguments_round_trip(obj, get):
    config = serialize_argument(obj)
    assert config == {"class_name": type(obj).__name__, "config": obj.get_config()}
    back = get(config)
    assert type(back) is type(obj) and back.get_config() == obj.get_config()


def test_other_values_pass_through():
    def mine(w):
        return w
    assert serialize_argument(None) is None
    assert serialize_argument(mine) is mine
    assert constraints.get(mine) is mine and regularizers.get(mine) is mine
    with pytest.raises(ValueError, match="Unknown constraint class_name: 'Nope'"):
        constraints.get({"class_name": "Nope", "config": {}})
    w = np.array([[3.0, -4.0]])
    np.testing.assert_allclose(constraints.get(serialize_argument(constraints.MaxNorm(1.0)))(w),
                               constraints.MaxNorm(1.0)(w))
    assert L.regularizers.serialize(L.regularizers.L1(0.5)) == {"class_name": "L1",
                                                                "config": {"l1": 0.5}}
