"""The tape: recording, accumulation where a tensor is used twice, multi-output nodes,
GradientTape semantics."""
import numpy as np
import pytest

import lamina as L
from lamina import ops
from lamina.autograd import backward, make_outputs


def test_no_graph_outside_a_tape():
    v = L.Variable(np.ones((2, 2)))
    y = ops.multiply(v, 3.0)
    assert y._node is None and not y.requires_grad


def test_gradient_accumulates_over_uses():
    x = L.Variable(np.array([1.0, 2.0, 3.0]))
    with L.GradientTape() as tape:
        y = ops.sum(x * x + x)          # x used three times
    (g,) = tape.gradient(y, [x])
    np.testing.assert_allclose(g.data, 2 * x.data + 1)


def test_diamond_graph_consumer_order():
    # r = a + b where b depends on a: a must collect both paths before flowing further.
    x = L.Variable(np.array([0.5, -1.5]))
    with L.GradientTape() as tape:
        a = ops.exp(x)
        b = ops.square(a)
        r = ops.sum(ops.add(b, a))
    (g,) = tape.gradient(r, [x])
    e = np.exp(x.data)
    np.testing.assert_allclose(g.data, 2 * e * e + e)


def test_unconnected_source_gets_none_and_constant_gets_no_node():
    x = L.Variable(np.ones(3))
    z = L.Variable(np.ones(3))
    c = L.Tensor(np.ones(3))
    with L.GradientTape() as tape:
        y = ops.sum(x * c)
    gx, gz = tape.gradient(y, [x, z])
    assert gz is None
    np.testing.assert_allclose(gx.data, np.ones(3))


def test_non_trainable_variable_gets_no_gradient():
    w = L.Variable(np.ones(3), trainable=False)
    with L.GradientTape() as tape:
        y = ops.sum(w * 2.0)
    assert tape.gradient(y, [w]) == [None]
    w.trainable = True
    with L.GradientTape() as tape:
        y = ops.sum(w * 2.0)
    np.testing.assert_allclose(tape.gradient(y, w).data, 2.0)


def test_watch_constant_and_single_source():
    c = L.Tensor(np.array([1.0, 2.0]))
    with L.GradientTape() as tape:
        tape.watch(c)
        y = ops.sum(ops.square(c))
    np.testing.assert_allclose(tape.gradient(y, c).data, [2.0, 4.0])


def test_gradient_comes_in_the_structure_of_sources():
    a, b = L.Variable(np.ones(3)), L.Variable(np.ones(2))
    c = L.Variable(np.ones(1))  # not used: its gradient is None wherever it sits
    with L.GradientTape() as tape:
        y = ops.sum(a * 2.0) + ops.sum(b * 3.0)
    grads = tape.gradient(y, {"a": a, "rest": [b, (a, c)]})
    assert isinstance(grads, dict) and list(grads) == ["a", "rest"]
    assert isinstance(grads["rest"], list) and isinstance(grads["rest"][1], tuple)
    np.testing.assert_allclose(grads["a"].data, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(grads["rest"][0].data, [3.0, 3.0])
    np.testing.assert_allclose(grads["rest"][1][0].data, [2.0, 2.0, 2.0])
    assert grads["rest"][1][1] is None


def test_non_persistent_tape_refuses_second_gradient():
    x = L.Variable(np.ones(2))
    with L.GradientTape() as tape:
        y = ops.sum(x)
    tape.gradient(y, [x])
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, [x])
    with L.GradientTape(persistent=True) as tape:
        y = ops.sum(x)
    tape.gradient(y, [x])
    assert tape.gradient(y, [x])[0] is not None


def test_multi_output_node_receives_gradient_list():
    x = L.Variable(np.array([1.0, 2.0]))
    seen = []

    def two_outputs(t):
        def bwd(grads):
            seen.append([g is not None for g in grads])
            g0 = grads[0] if grads[0] is not None else 0
            g1 = grads[1] if grads[1] is not None else 0
            return (g0 * 2 + g1 * 3,)
        return make_outputs([t.data * 2, t.data * 3], (t,), bwd)

    with L.GradientTape() as tape:
        a, b = two_outputs(x)
        y = ops.sum(a) + ops.sum(ops.multiply(b, 2.0))
    np.testing.assert_allclose(tape.gradient(y, x).data, [8.0, 8.0])
    with L.GradientTape() as tape:
        a, _ = two_outputs(x)
        y = ops.sum(a)
    np.testing.assert_allclose(tape.gradient(y, x).data, [2.0, 2.0])
    assert seen[-1] == [True, False]


def test_backward_rejects_non_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        backward(np.ones(2), [])


def test_variable_assign_keeps_array_and_checks_shape():
    v = L.Variable(np.zeros((2, 3), dtype=np.float32), name="kernel")
    data = v.data
    v.assign(np.ones((2, 3)))
    assert v.data is data and v.data.sum() == 6
    with pytest.raises(ValueError, match=r"kernel.*\(3, 2\).*\(2, 3\)"):
        v.assign(np.ones((3, 2)))


def test_variable_from_initializer_callable():
    v = L.Variable(lambda shape, dtype: np.full(shape, 2.0, dtype=dtype), shape=(2,))
    assert v.dtype == np.float32 and v.data.tolist() == [2.0, 2.0]


def test_variable_owns_its_array():
    # Keras copies a Variable's initial value: updating the Variable in place (as optimizers do)
    # must not write into the caller's array, nor into another Tensor's.
    w = np.ones((2, 2), np.float32)
    v = L.Variable(w)
    v.assign(np.full((2, 2), 5.0, np.float32))
    assert w[0, 0] == 1.0
    t = L.Tensor(np.zeros(3))
    u = L.Variable(t)
    u.assign(np.ones(3))
    assert t.data[0] == 0.0
    view = np.arange(6.0).reshape(2, 3)[:, :2].copy()[0:1]  # a contiguous view of another array
    x = L.Variable(view)
    x.assign(np.full((1, 2), 9.0))
    assert view[0, 0] == 0.0
