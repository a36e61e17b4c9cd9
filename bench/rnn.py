"""Recurrent layers: lamina's whole-sequence LSTM / GRU kernels beside PyTorch eager, in one run.

    PYTHONPATH=python python bench/rnn.py [--threads 2] [--repeats 30] [--runs 1]

Cases (batch 32, 50 timesteps, 64 features, float32):
  train: one training step: recurrent layer (last output) -> Dense 10 -> sparse softmax
         cross-entropy (from logits, batch mean) -> Adam; forward, backward and update.
  infer: the recurrent layer's forward pass alone, no tape.
  model train: the train step through the model API, lamina's
         Sequential([Input, LSTM(128), Dense(10)]).train_on_batch (compiled with Adam and the
         same loss) against the same torch step: what a Keras user's step costs, layer and
         trainer overhead included.
Validates first (same weights: lamina's output against torch's), then times; each figure is the
median over repeats after a warm-up, lamina and torch taking turns of a few calls each so both see
the same machine load (see CALLS_PER_TURN). ratio = torch / lamina (> 1: lamina is faster).
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np

N, T, F, CLASSES = 32, 50, 64, 10


# Calls per turn when the libraries take turns. One call each per turn (a, b, a, b, ...) slows
# BOTH sides by 5-10% on the 2-core dev machine: lamina and torch each run their own OpenMP
# runtime (torch ships its own libgomp), and after a call its worker threads keep spinning for a
# while on the core the other library's next call needs, and evict its caches. A user never
# alternates the two; short turns still expose both to the same drift of machine load.
# Measured (Zen 4, LSTM(128) train step, medians): one call per turn lamina 5.5 / torch 8.8 ms,
# five per turn 5.0 / 8.1 ms.
CALLS_PER_TURN = 5


def median_ms(fns, repeats, warmup=5):
    """Median wall time of each function in ms. The functions take turns of CALLS_PER_TURN
    calls (see above) until each has run `repeats` times, so both see the same machine load."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    while len(times[0]) < repeats:
        for fn, ts in zip(fns, times):
            for _ in range(min(CALLS_PER_TURN, repeats - len(ts))):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) * 1e3 for ts in times]


def make_weights(cell, units, seed=0):
    rng = np.random.default_rng(seed)
    g = 4 if cell == "lstm" else 3
    s = 1.0 / np.sqrt(units)
    w = {"kernel": rng.uniform(-s, s, (F, g * units)),
         "recurrent_kernel": rng.uniform(-s, s, (units, g * units)),
         "bias": rng.uniform(-s, s, (g * units,) if cell == "lstm" else (2, g * units)),
         "dense_kernel": rng.uniform(-s, s, (units, CLASSES)),
         "dense_bias": np.zeros(CLASSES)}
    return {k: v.astype(np.float32) for k, v in w.items()}


def data(seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, F)).astype(np.float32),
            rng.integers(0, CLASSES, N).astype(np.int64))


# ---- lamina --------------------------------------------------------------------------------
def lamina_case(cell, units):
    import lamina as L
    from lamina import ops
    w = make_weights(cell, units)
    vs = [L.Variable(w[k], name=k) for k in ("kernel", "recurrent_kernel", "bias",
                                              "dense_kernel", "dense_bias")]
    x, y = data()
    opt = L.optimizers.Adam(1e-3)
    rec = ops.lstm if cell == "lstm" else ops.gru

    def forward(x):
        return rec(x, vs[0], vs[1], vs[2])[0]

    def train():
        with L.GradientTape() as tape:
            logits = ops.dense(forward(x), vs[3], vs[4])
            loss = ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))
        opt.apply(tape.gradient(loss, vs), vs)

    def infer():
        forward(x)

    return forward, train, infer


def lamina_model_case(cell, units):
    """The train step through Sequential.train_on_batch, the same weights."""
    import lamina as L
    w = make_weights(cell, units)
    layer = L.layers.LSTM(units) if cell == "lstm" else L.layers.GRU(units)
    model = L.Sequential([L.Input((T, F)), layer, L.layers.Dense(CLASSES)])
    model.set_weights([w[k] for k in ("kernel", "recurrent_kernel", "bias", "dense_kernel",
                                      "dense_bias")])
    model.compile(optimizer=L.optimizers.Adam(1e-3),
                  loss=L.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data()

    def train():
        model.train_on_batch(x, y)

    return train


# ---- torch ---------------------------------------------------------------------------------
def torch_case(cell, units, torch):
    w = make_weights(cell, units)
    torch.manual_seed(0)
    if cell == "lstm":
        rnn = torch.nn.LSTM(F, units, batch_first=True)
        order = [0, 1, 2, 3]  # Keras i, f, c, o == torch i, f, g, o
        b_ih, b_hh = w["bias"], np.zeros_like(w["bias"])
    else:
        rnn = torch.nn.GRU(F, units, batch_first=True)
        order = [1, 0, 2]  # torch r, z, n from Keras z, r, h
        b_ih, b_hh = w["bias"][0], w["bias"][1]

    def regate(m):  # (rows, g*U) Keras columns -> torch (g*U, rows) gate rows
        blocks = np.split(m, len(order), axis=-1)
        return np.concatenate([blocks[i] for i in order], axis=-1)

    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(regate(w["kernel"]).T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(regate(w["recurrent_kernel"]).T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(regate(b_ih)))
        rnn.bias_hh_l0.copy_(torch.from_numpy(regate(b_hh)))
    head = torch.nn.Linear(units, CLASSES)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def forward(x):
        with torch.no_grad():
            return rnn(torch.from_numpy(x))[0][:, -1].numpy()

    def train():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(head(rnn(xt)[0][:, -1]), yt)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            rnn(xt)

    return forward, train, infer


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--runs", type=int, default=1,
                    help="measure every case this many times and keep each side's best median "
                         "(a shared machine disturbs some runs)")
    args = ap.parse_args()
    import lamina as L
    L.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None

    cases = [("lstm", 128), ("lstm", 512), ("gru", 128), ("gru", 512)]
    print(f"{cpu_model()}, {args.threads} threads, lamina ISA {L.backend.info()['isa']}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"batch {N} x {T} steps x {F} features, float32; median of {args.repeats}, calls "
          f"in turns of {CALLS_PER_TURN}, best of {args.runs} run(s); load average at start "
          f"{load:.1f}\n")
    print(f"{'case':<22}{'lamina ms':>11}{'torch ms':>11}{'ratio':>8}")
    x, _ = data()
    for cell, units in cases:
        lam = lamina_case(cell, units)
        tor = torch_case(cell, units, torch) if torch else None
        if tor is not None:
            got, want = lam[0](x).data, tor[0](x)
            err = float(np.max(np.abs(got - want)))
            assert err < 1e-4, f"{cell}({units}): lamina and torch differ by {err}"
        for what, idx in (("train", 1), ("infer", 2)):
            repeats = args.repeats if units <= 128 else max(5, args.repeats // 3)
            ours = theirs = float("inf")
            for _ in range(args.runs):
                a, b = median_ms([lam[idx], tor[idx]], repeats) if tor else \
                    (median_ms([lam[idx]], repeats)[0], float("nan"))
                ours, theirs = min(ours, a), min(theirs, b)
            theirs = theirs if tor else float("nan")
            print(f"{cell.upper()}({units}) {what:<10}{ours:>11.2f}{theirs:>11.2f}"
                  f"{theirs / ours:>8.2f}")
        if (cell, units) == ("lstm", 128):
            model_train = lamina_model_case(cell, units)
            ours = theirs = float("inf")
            for _ in range(args.runs):
                a, b = median_ms([model_train, tor[1]], args.repeats) if tor else \
                    (median_ms([model_train], args.repeats)[0], float("nan"))
                ours, theirs = min(ours, a), min(theirs, b)
            theirs = theirs if tor else float("nan")
            print(f"{cell.upper()}({units}) {'model train':<10}{ours:>10.2f}{theirs:>11.2f}"
                  f"{theirs / ours:>8.2f}")


if __name__ == "__main__":
    main()
