"""The serialize / get pairs of initializers, regularizers and constraints: what a layer's
get_config writes comes back through from_config."""
import numpy as np
import pytest

import lamina as L
from lamina import constraints, initializers, regularizers


@pytest.mark.parametrize("obj,module", [
    (regularizers.L2(0.3), regularizers), (regularizers.L1L2(0.1, 0.2), regularizers),
    (constraints.NonNeg(), constraints), (constraints.MaxNorm(1.5, axis=1), constraints),
    (constraints.UnitNorm(axis=0), constraints),
    (constraints.MinMaxNorm(0.1, 2.0, 0.5, axis=0), constraints),
    (initializers.get("he_normal"), initializers)], ids=lambda v: type(v).__name__)
def test_serialized_arguments_round_trip(obj, module):
    get = module.get
    config = module.serialize(obj)
    assert config == {"class_name": type(obj).__name__, "config": obj.get_config()}
    back = get(config)
    assert type(back) is type(obj) and back.get_config() == obj.get_config()


def test_other_values_pass_through():
    def mine(w):
        return w
    assert regularizers.serialize(None) is None and constraints.serialize(None) is None
    assert constraints.get(mine) is mine and regularizers.get(mine) is mine
    with pytest.raises(TypeError, match="Could not locate class 'Nope'"):
        constraints.get({"class_name": "Nope", "config": {}})
    w = np.array([[3.0, -4.0]])
    np.testing.assert_allclose(constraints.get(constraints.serialize(constraints.MaxNorm(1.0)))(w),
                               constraints.MaxNorm(1.0)(w))
    assert L.regularizers.serialize(L.regularizers.L1(0.5)) == {"class_name": "L1",
                                                                "config": {"l1": 0.5}}
