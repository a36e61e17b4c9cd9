"""Convolution benchmarks: lamina beside PyTorch (when installed) in one process.

    PYTHONPATH=python python bench/conv.py [--threads 2] [--repeats 30]

1. A full training step (forward, backward, Adam) of the MNIST-shaped network
   28x28x1 -> Conv 32 3x3 relu -> MaxPool 2 -> Conv 64 3x3 relu -> MaxPool 2 -> Flatten ->
   Dense 10, sparse softmax cross-entropy on logits, batch 64: lamina through
   model.train_on_batch, PyTorch eager.
2. One layer, batch 64, 32x32x64 -> 64 channels, 3x3 "same" with bias: forward, and forward +
   backward (dx, dkernel, dbias); PyTorch in both memory formats (channels_last and contiguous).

Validates lamina against PyTorch first (same weights, same batch), then times. The
implementations are timed interleaved (one call of each per round, so a burst of load from
another process hits all of them alike); each figure is given as the median and the best of
`repeats` rounds after a warm-up (the machine is shared: medians and bests, not means).
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH = 64


def interleaved_ms(fns, repeats, warmup=3):
    """{name: (median ms, best ms)}, timing one call of each function per round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (1e3 * statistics.median(t), 1e3 * min(t)) for name, t in times.items()}


def mnist_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    return x, y


def lamina_mnist():
    import lamina as L
    L.utils.set_random_seed(0)
    model = L.Sequential([
        L.Input((28, 28, 1)),
        L.layers.Conv2D(32, 3, activation="relu"), L.layers.MaxPooling2D(2),
        L.layers.Conv2D(64, 3, activation="relu"), L.layers.MaxPooling2D(2),
        L.layers.Flatten(), L.layers.Dense(10)])
    model.compile(optimizer=L.optimizers.Adam(1e-3),
                  loss=L.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def torch_mnist(torch, channels_last):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 5 * 5, 10))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def copy_weights_to_torch(torch, model, tmodel):
    """lamina/Keras layouts -> PyTorch's: conv (kh, kw, in, out) -> (out, in, kh, kw); Dense
    after a channels-last Flatten reads (h, w, c), PyTorch's Flatten reads (c, h, w)."""
    w = [v.numpy() for v in model.weights]
    convs = [m for m in tmodel if isinstance(m, torch.nn.Conv2d)]
    dense = [m for m in tmodel if isinstance(m, torch.nn.Linear)][0]
    with torch.no_grad():
        for conv, k, b in zip(convs, w[0:4:2], w[1:4:2]):
            conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(b))
        k = w[4].reshape(5, 5, 64, 10).transpose(3, 2, 0, 1).reshape(10, -1)
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(k)))
        dense.bias.copy_(torch.from_numpy(w[5]))


def bench_mnist(torch, repeats):
    x, y = mnist_data()
    model = lamina_mnist()
    if torch is not None:  # validate: same weights and batch give the same loss
        tmodel = torch_mnist(torch, False)
        copy_weights_to_torch(torch, model, tmodel)
        logits = tmodel(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).detach().numpy()
        ours = model.predict(x, batch_size=BATCH, verbose=0)
        err = float(np.max(np.abs(ours - logits)))
        assert err < 1e-3, f"lamina and PyTorch disagree on the MNIST net: max error {err}"
    fns = {"lamina train_on_batch": lambda: model.train_on_batch(x, y)}
    if torch is not None:
        for cl in (False, True):
            tmodel = torch_mnist(torch, cl)
            opt = torch.optim.Adam(tmodel.parameters(), 1e-3, eps=1e-7)
            loss_fn = torch.nn.CrossEntropyLoss()
            tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
            if cl:
                tx = tx.contiguous(memory_format=torch.channels_last)
            ty = torch.from_numpy(y)

            def step(tmodel=tmodel, opt=opt, loss_fn=loss_fn, tx=tx, ty=ty):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(tmodel(tx), ty)
                loss.backward()
                opt.step()

            fns[f"torch eager ({'channels_last' if cl else 'contiguous'})"] = step
    rows = list(interleaved_ms(fns, repeats).items())
    return rows


def bench_layer(torch, repeats):
    import lamina as L
    from lamina import ops
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, 32, 32, 64), dtype=np.float32)
    k = (rng.standard_normal((3, 3, 64, 64), dtype=np.float32) * 0.05)
    b = rng.standard_normal(64, dtype=np.float32)
    conv_mod = sys.modules["lamina.ops.conv"]
    xv, kv, bv = L.Variable(x), L.Variable(k), L.Variable(b)

    def fwd():
        conv_mod.conv2d(x, k, b, 1, "same")

    def fwd_bwd():
        with L.GradientTape() as tape:
            y = conv_mod.conv2d(xv, kv, bv, 1, "same")
        L.autograd.backward(y, [xv, kv, bv], g)

    g = rng.standard_normal((BATCH, 32, 32, 64), dtype=np.float32)
    fwds, fbs = {"lamina": fwd}, {"lamina": fwd_bwd}
    flops = 2 * BATCH * 32 * 32 * 64 * 64 * 9
    if torch is not None:
        ours = conv_mod.conv2d(x, k, b, 1, "same").data
        for cl in (True, False):
            tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
            conv = torch.nn.Conv2d(64, 64, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
                conv.bias.copy_(torch.from_numpy(b))
            tg = torch.from_numpy(g.transpose(0, 3, 1, 2).copy())
            if cl:
                conv = conv.to(memory_format=torch.channels_last)
                tx = tx.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
                tg = tg.contiguous(memory_format=torch.channels_last)
            theirs = conv(tx).detach().numpy().transpose(0, 2, 3, 1)
            err = float(np.max(np.abs(theirs - ours)))
            assert err < 1e-3, f"conv layer disagrees with PyTorch: max error {err}"

            def tfwd(conv=conv, tx=tx):
                with torch.no_grad():
                    conv(tx)

            def tfwd_bwd(conv=conv, tx=tx, tg=tg):
                tx.grad = None
                conv.zero_grad(set_to_none=True)
                conv(tx).backward(tg)

            name = "torch (channels_last)" if cl else "torch (contiguous)"
            fwds[name], fbs[name] = tfwd, tfwd_bwd
    f, fb = interleaved_ms(fwds, repeats), interleaved_ms(fbs, repeats)
    results = {name: (f[name], fb[name]) for name in fwds}
    return results, flops


def machine():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines()
                    if l.startswith("Model name"))
    except Exception:  # noqa: BLE001 - informational only
        return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    import lamina as L
    L.set_num_threads(args.threads)
    print(f"# {machine()}, {args.threads} threads, lamina ISA {L._cpu.isa()}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))

    rows = bench_mnist(torch, args.repeats)
    base = rows[0][1][0]
    print("\nMNIST convnet training step (batch 64, Adam), ms: median (best)")
    print(f"{'':36s}{'median':>9s}{'best':>9s}{'vs lamina':>11s}")
    for name, (med, best) in rows:
        print(f"{name:36s}{med:9.2f}{best:9.2f}{med / base:10.2f}x")

    results, flops = bench_layer(torch, max(5, args.repeats // 3))
    print("\nConv2D 32x32x64 -> 64, 3x3 same, batch 64, ms: median (best) "
          f"({flops / 1e9:.2f} GFLOP forward; GFLOP/s from the best)")
    print(f"{'':24s}{'forward':>16s}{'GFLOP/s':>9s}{'fwd+bwd':>17s}{'fwd vs us':>10s}"
          f"{'f+b vs us':>10s}")
    (f0, _), (b0, _) = results["lamina"]
    for name, ((f, fbest), (fb, fbbest)) in results.items():
        print(f"{name:24s}{f:8.2f} ({fbest:5.2f}){flops / fbest / 1e6:9.1f}{fb:8.2f} ({fbbest:6.2f})"
              f"{f / f0:9.2f}x{fb / b0:9.2f}x")


if __name__ == "__main__":
    main()
