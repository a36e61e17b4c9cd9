"""Training-step cost of small models: lamina (through model.fit and train_on_batch) beside a
hand-written numpy step and PyTorch eager (when installed), in one run.

    python bench/train_step.py [--threads 2] [--steps 2000]

Each figure is the median over repeats of (wall time / steps) after a warm-up. The model is the
digits MLP: 64 -> Dense 64 relu -> Dense 10 softmax, batch 32, SGD(0.01, momentum 0.9), sparse
categorical cross-entropy.

Graph models (second table): the same MLP as a functional Model; a deep narrow stack (Dense 16
x 24) as Sequential and as a functional Model, whose difference divided by the layer count is
the cost of graph walking per layer; a two-branch model (inputs 64 and 16, Dense 32 relu each,
concatenated, Dense 10 softmax) and a multi-head model (64 -> Dense 64 relu -> a softmax head
of 10 and a regression head of 1, loss scce + 0.5 mse), each beside the same model in torch
eager.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

BATCH, FEATURES, HIDDEN, CLASSES = 32, 64, 64, 10


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def data(steps, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps * BATCH, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, steps * BATCH).astype(np.int64)
    return x, y


def bench_lamina(steps, repeats):
    import lamina as L
    L.utils.set_random_seed(0)
    model = L.Sequential([L.Input((FEATURES,)), L.layers.Dense(HIDDEN, activation="relu"),
                          L.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=L.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    x, y = data(steps)
    model.fit(x[:BATCH * 50], y[:BATCH * 50], batch_size=BATCH, epochs=1, verbose=0)
    fit = median_time(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0,
                                        shuffle=False), repeats) / steps
    xb, yb = x[:BATCH], y[:BATCH]

    def loop():
        for _ in range(steps):
            model.train_on_batch(xb, yb)

    on_batch = median_time(loop, repeats) / steps
    return fit, on_batch


def bench_numpy(steps, repeats):
    """The same step written by hand in numpy: forward, backward, SGD with momentum."""
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((FEATURES, HIDDEN)) * 0.1).astype(np.float32)
    b1 = np.zeros(HIDDEN, np.float32)
    w2 = (rng.standard_normal((HIDDEN, CLASSES)) * 0.1).astype(np.float32)
    b2 = np.zeros(CLASSES, np.float32)
    params = [w1, b1, w2, b2]
    moments = [np.zeros_like(p) for p in params]
    x, y = data(steps)
    rows = np.arange(BATCH)

    def step(xb, yb):
        h = np.maximum(xb @ w1 + b1, 0)
        z = h @ w2 + b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        dz = p
        dz[rows, yb] -= 1
        dz /= BATCH
        dh = (dz @ w2.T) * (h > 0)
        grads = [xb.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
        for prm, m, g in zip(params, moments, grads):
            m *= 0.9
            m -= 0.01 * g
            prm += m

    def loop():
        for i in range(steps):
            step(x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH])

    return median_time(loop, repeats) / steps


def bench_torch(steps, repeats, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data(steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def loop():
        for i in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[i * BATCH:(i + 1) * BATCH]), yt[i * BATCH:(i + 1) * BATCH])
            loss.backward()
            opt.step()

    loop()
    return median_time(loop, repeats) / steps, torch.__version__


DEEP, DEEP_UNITS = 24, 16


def _interleaved_fit_times(cases, steps, repeats):
    """Per-step fit time of each (model, x, y), the models timed in turn within each repeat
    and the best repeat kept: the machine is shared, and a pair compared (Sequential vs
    functional) then sees the same conditions."""
    for model, xs, ys in cases.values():
        model.fit(xs, ys, batch_size=BATCH, epochs=1, verbose=0)
    best = {name: float("inf") for name in cases}
    for _ in range(repeats):
        for name, (model, xs, ys) in cases.items():
            t0 = time.perf_counter()
            model.fit(xs, ys, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
            best[name] = min(best[name], (time.perf_counter() - t0) / steps)
    return best


def bench_lamina_graphs(steps, repeats):
    import lamina as L
    from lamina import layers
    x, y = data(steps)
    rng = np.random.default_rng(1)
    tags = rng.standard_normal((steps * BATCH, 16)).astype(np.float32)
    reg = rng.standard_normal((steps * BATCH, 1)).astype(np.float32)
    sgd = lambda: L.optimizers.SGD(0.01, momentum=0.9)  # noqa: E731
    cases = {}
    L.utils.set_random_seed(0)
    seq_mlp = L.Sequential([L.Input((FEATURES,)), layers.Dense(HIDDEN, activation="relu"),
                            layers.Dense(CLASSES, activation="softmax")])
    seq_mlp.compile(optimizer=sgd(), loss="sparse_categorical_crossentropy")
    cases["Sequential MLP"] = (seq_mlp, x, y)
    inp = L.Input((FEATURES,))
    h = layers.Dense(HIDDEN, activation="relu")(inp)
    mlp = L.Model(inp, layers.Dense(CLASSES, activation="softmax")(h))
    mlp.compile(optimizer=sgd(), loss="sparse_categorical_crossentropy")
    cases["functional MLP"] = (mlp, x, y)

    xd = x[:, :DEEP_UNITS].copy()
    yd = rng.standard_normal((steps * BATCH, DEEP_UNITS)).astype(np.float32)
    seq = L.Sequential([L.Input((DEEP_UNITS,))] + [layers.Dense(DEEP_UNITS, activation="relu")
                                                   for _ in range(DEEP)])
    seq.compile(optimizer=sgd(), loss="mse")
    cases["deep Sequential"] = (seq, xd, yd)
    inp = L.Input((DEEP_UNITS,))
    h = inp
    for _ in range(DEEP):
        h = layers.Dense(DEEP_UNITS, activation="relu")(h)
    deep = L.Model(inp, h)
    deep.compile(optimizer=sgd(), loss="mse")
    cases["deep functional"] = (deep, xd, yd)

    a, b = L.Input((FEATURES,)), L.Input((16,))
    merged = layers.concatenate([layers.Dense(32, activation="relu")(a),
                                 layers.Dense(32, activation="relu")(b)])
    two = L.Model([a, b], layers.Dense(CLASSES, activation="softmax")(merged))
    two.compile(optimizer=sgd(), loss="sparse_categorical_crossentropy")
    cases["two-branch"] = (two, [x, tags], y)

    inp = L.Input((FEATURES,))
    h = layers.Dense(HIDDEN, activation="relu")(inp)
    heads = L.Model(inp, [layers.Dense(CLASSES, activation="softmax")(h), layers.Dense(1)(h)])
    heads.compile(optimizer=sgd(), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    cases["multi-head"] = (heads, x, [y, reg])
    return _interleaved_fit_times(cases, steps, repeats)


def bench_torch_graphs(steps, repeats, threads):
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    x, y = data(steps)
    rng = np.random.default_rng(1)
    tags = torch.from_numpy(rng.standard_normal((steps * BATCH, 16)).astype(np.float32))
    reg = torch.from_numpy(rng.standard_normal((steps * BATCH, 1)).astype(np.float32))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    out = {}

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(FEATURES, 32), nn.Linear(16, 32)
            self.head = nn.Linear(64, CLASSES)

        def forward(self, xa, xb):
            return self.head(torch.cat([torch.relu(self.a(xa)), torch.relu(self.b(xb))], 1))

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.h = nn.Linear(FEATURES, HIDDEN)
            self.cls, self.reg = nn.Linear(HIDDEN, CLASSES), nn.Linear(HIDDEN, 1)

        def forward(self, xa):
            h = torch.relu(self.h(xa))
            return self.cls(h), self.reg(h)

    ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()

    def timed(model, loss_of):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def loop():
            for i in range(steps):
                sl = slice(i * BATCH, (i + 1) * BATCH)
                opt.zero_grad(set_to_none=True)
                loss_of(model, sl).backward()
                opt.step()

        loop()
        return min(median_time(loop, 1) for _ in range(repeats)) / steps

    out["two-branch"] = timed(Two(), lambda m, sl: ce(m(xt[sl], tags[sl]), yt[sl]))

    def heads_loss(m, sl):
        logits, r = m(xt[sl])
        return ce(logits, yt[sl]) + 0.5 * mse(r, reg[sl])

    out["multi-head"] = timed(Heads(), heads_loss)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import lamina as L
    L.set_num_threads(args.threads)
    fit, on_batch = bench_lamina(args.steps, args.repeats)
    npy = bench_numpy(args.steps, args.repeats)
    torch_result = bench_torch(args.steps, args.repeats, args.threads)

    print(f"# training step, digits MLP {FEATURES}-{HIDDEN}-{CLASSES}, batch {BATCH}, "
          f"SGD momentum, {args.threads} threads")
    print(f"# {platform.processor() or platform.machine()}, python {sys.version.split()[0]}, "
          f"numpy {np.__version__}, lamina isa {L.backend.info()['isa']}")
    rows = [("lamina model.fit (per step)", fit), ("lamina train_on_batch", on_batch),
            ("numpy, hand-written step", npy)]
    if torch_result is not None:
        rows.append((f"torch {torch_result[1]} eager", torch_result[0]))
    print(f"{'case':34s} {'us/step':>9s} {'vs lamina fit':>14s}")
    for name, t in rows:
        print(f"{name:34s} {t * 1e6:9.1f} {t / fit:13.2f}x")

    graphs = bench_lamina_graphs(args.steps, args.repeats)
    torch_graphs = bench_torch_graphs(args.steps, args.repeats, args.threads)
    print()
    print("# graph models through model.fit (us/step, best of the repeats, lamina models timed "
          "in turn); torch eager beside where it applies")
    print(f"{'case':34s} {'lamina':>9s} {'torch':>9s} {'torch/lamina':>13s}")
    for name, t in graphs.items():
        peer = torch_graphs.get(name)
        extra = "" if peer is None else f" {peer * 1e6:9.1f} {peer / t:12.2f}x"
        print(f"{name:34s} {t * 1e6:9.1f}{extra}")
    per_layer = (graphs["deep functional"] - graphs["deep Sequential"]) / DEEP
    print(f"graph walking vs Sequential: {per_layer * 1e6:+.2f} us per layer "
          f"({DEEP} Dense({DEEP_UNITS}) layers); functional MLP vs Sequential MLP "
          f"{(graphs['functional MLP'] - graphs['Sequential MLP']) * 1e6:+.1f} us/step")


if __name__ == "__main__":
    main()
