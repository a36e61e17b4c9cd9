"""lamina.device: Keras-style placement scopes, their errors, and moving arrays."""
import numpy as np
import pytest

import lamina as L

GPU = L.cuda.is_available()


def test_cpu_scope_creates_numpy_weights_and_is_current():
    assert L.device.explicit() is None
    with L.device("cpu") as scope:
        assert scope.placement == "cpu"
        assert L.device.current() == "cpu" and L.device.explicit() == "cpu"
        v = L.Variable(np.ones((2, 3), np.float32))
        layer = L.layers.Dense(4)
        layer.build((None, 3))
    assert type(v.data) is np.ndarray and type(layer.kernel.data) is np.ndarray
    assert L.device.explicit() is None


def test_scopes_nest_and_restore():
    with L.device("cpu:0"):
        with L.device("CPU"):
            assert L.device.explicit() == "cpu"
        assert L.device.explicit() == "cpu"
    assert L.device.explicit() is None


def test_default_is_cpu_without_a_gpu():
    if GPU:
        assert L.device.default() == "gpu:0"
    else:
        assert L.device.default() == "cpu" == L.device.current()


@pytest.mark.parametrize("name", ["gpu", "gpu:0", "cuda:0", "GPU:1"])
def test_gpu_without_one_says_why(name):
    if GPU:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"cannot use the GPU: .*(built without CUDA|no CUDA "
                                           r"GPU is visible|cupy is not installed)"):
        L.device(name)


def test_gpu_index_beyond_the_visible_ones():
    if not GPU:
        pytest.skip("needs a GPU")
    with pytest.raises(RuntimeError, match="GPU\\(s\\) visible"):
        L.device(f"gpu:{L.cuda.device_count()}")


@pytest.mark.parametrize("name, error, message", [
    ("tpu", ValueError, "unknown device 'tpu'"),
    ("gpu:x", ValueError, "unknown device 'gpu:x'"),
    ("cpu:1", ValueError, "only one CPU device"),
    (0, TypeError, "expected a device name"),
])
def test_bad_device_names(name, error, message):
    with pytest.raises(error, match=message):
        L.device(name)


def test_to_device_cpu_and_place_outside_a_scope():
    a = np.arange(6.0).reshape(2, 3)
    assert L.device.to_device(a, "cpu") is a
    np.testing.assert_array_equal(L.device.to_device([1, 2], "cpu"), [1, 2])
    assert L.device.place(a) is a  # no scope: unchanged


def test_dlpack_round_trip_on_the_cpu():
    t = L.Tensor(np.arange(5, dtype=np.float32))
    assert t.__dlpack_device__()[0] == 1  # kDLCPU
    back = L.device.from_dlpack(t)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, np.arange(5, dtype=np.float32))
    back[0] = 42  # shares memory with the tensor
    assert t.data[0] == 42


def test_gpu_scope_places_weights_on_the_gpu():
    if not GPU:
        pytest.skip("needs a GPU")
    import cupy
    with L.device("gpu:0"):
        v = L.Variable(np.ones((2, 3), np.float32))
        moved = L.device.to_device(np.zeros(4))
    assert isinstance(v.data, cupy.ndarray) and isinstance(moved, cupy.ndarray)
    assert type(L.device.to_device(moved, "cpu")) is np.ndarray
    assert isinstance(L.device.from_dlpack(v), cupy.ndarray)


def test_masks_on_the_gpu_pass_through_merges_and_recurrent_loops():
    # Embedding(mask_zero) on the GPU makes cupy masks: merging layers, a user cell's
    # step-by-step loop and RepeatVector must keep them (and their zeros and ones) on the GPU.
    if not GPU:
        pytest.skip("needs a GPU")

    class Cell(L.layers.Layer):  # not a built-in cell: the generic per-step loop
        state_size = 3

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")

        def call(self, x, states):
            h = L.ops.tanh(L.ops.add(L.ops.matmul(x, self.kernel), states[0]))
            return h, [h]

    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])

    def build():
        inp = L.Input((4,), dtype="int32")
        a = L.layers.Embedding(5, 3, mask_zero=True)(inp)
        b = L.layers.Embedding(5, 3, mask_zero=True)(inp)
        x = L.layers.Concatenate()([L.layers.Add()([a, b]), b])
        x = L.layers.RNN(Cell())(x)
        return L.Model(inp, L.layers.RepeatVector(2)(x))

    cpu = build()
    with L.device("gpu:0"):
        gpu = build()
    gpu.set_weights(cpu.get_weights())
    np.testing.assert_allclose(gpu.predict(ids, verbose=0), cpu.predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-6)
