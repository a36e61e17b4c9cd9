"""Float64 central-difference gradient checks for lamina ops and models."""
import numpy as np

import lamina as L


def numeric_gradient(f, x, eps=1e-6):
    """d f(x) / d x by central differences; f maps the array x (modified in place) to a float."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f()
        flat[i] = keep - eps
        down = f()
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_gradients(fn, *arrays, seed=0, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Checks lamina's gradients of sum(fn(*vars) * r), r random, against finite differences
    for every input array (float64). Returns the analytic gradients."""
    rng = np.random.default_rng(seed)
    variables = [L.Variable(np.array(a, dtype=np.float64)) for a in arrays]
    with L.GradientTape() as tape:
        out = fn(*variables)
    r = rng.standard_normal(np.shape(out.data))
    with L.GradientTape() as tape:
        out = fn(*variables)
        total = L.ops.sum(L.ops.multiply(out, r))
    analytic = tape.gradient(total, variables)

    def value():
        return float(np.sum(fn(*variables).data * r))

    for v, g in zip(variables, analytic):
        expected = numeric_gradient(value, v.data, eps)
        got = np.zeros_like(expected) if g is None else g.data
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input with shape {v.shape}")
    return analytic
