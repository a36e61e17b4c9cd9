"""CUDA kernels against the peers on one GPU: SGEMM beside cupy.matmul (cuBLAS), and MLP, MNIST
CNN and LSTM training steps beside PyTorch CUDA eager. Prints one table per part; skips with a
message without a GPU (or without cupy / a CUDA build).

    python bench/gpu.py [--repeats 20] [--steps 200]

SGEMM: C = A @ B, float32, square sizes, timed with CUDA events on cupy's current stream (median
of `repeats` after warm-up); % of the FP32 peak from the SM count, FP32 lanes per SM and the
boost clock cupy reports. MLP: 784-512-512-10, relu, batch 128, Adam (Keras defaults, eps 1e-7),
sparse categorical cross-entropy from logits; lamina runs its ops and optimizer on cupy arrays
(weights created inside `with lamina.device("gpu")`), PyTorch the same model eagerly. lamina's
sparse cross-entropy checks the labels on the device and reads the verdict back, which
synchronises once per step (see csrc/cuda/losses.h): the table says so.
LSTM: LSTM(512) over 100 timesteps of 512 features, batch 64, last output -> Dense 10 -> the same
loss -> Adam; lamina's whole-sequence kernels (csrc/cuda/rnn.cu: one launch pair per timestep
and direction) against torch.nn.LSTM (cuDNN) with the same weights, validated first.
CNN: MNIST's conv32-pool-conv64-pool-dense10 at batch 256 on random 28x28 images, NHWC, the
same loss and Adam (torch: channels_last, cuDNN).
"""
import argparse
import statistics
import sys
import time

import numpy as np

# FP32 lanes per SM by compute capability major.minor (CUDA programming guide, arithmetic
# instructions table).
FP32_LANES = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128,
              (9, 0): 128, (10, 0): 128, (12, 0): 128}


def gpu_or_exit():
    import lamina as L
    reason = L.cuda.unavailable_reason()
    if reason is not None:
        print(f"bench/gpu.py: skipped, {reason}")
        sys.exit(0)
    import cupy
    return L, cupy


def event_time_ms(cupy, fn, repeats, inner=1):
    fn()
    cupy.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(inner):
            fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / inner)
    return statistics.median(times)


def fp32_peak_gflops(cupy):
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    cc = (props["major"], props["minor"])
    lanes = FP32_LANES.get(cc)
    if lanes is None:
        return None, props
    return props["multiProcessorCount"] * lanes * 2 * props["clockRate"] * 1e3 / 1e9, props


def bench_sgemm(L, cupy, repeats):
    K = L.cuda.kernels()
    peak, props = fp32_peak_gflops(cupy)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    print(f"\nSGEMM on {name} (FP32 peak {peak:.0f} GFLOP/s)" if peak else f"\nSGEMM on {name}")
    print(f"{'size':>6} {'lamina ms':>10} {'GFLOP/s':>9} {'% peak':>7} {'cuBLAS ms':>10} "
          f"{'GFLOP/s':>9} {'% peak':>7} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for n in (1024, 4096):
        a = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
        b = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
        c = cupy.empty((n, n), np.float32)
        ours = event_time_ms(cupy, lambda: K.gemm(a, b, c), repeats)
        err = float(cupy.abs(c - a @ b).max() / cupy.abs(a @ b).max())
        if err > 1e-4:
            print(f"{n:>6} lamina's result differs from cupy.matmul: relative error {err:.2e}")
            continue
        theirs = event_time_ms(cupy, lambda: cupy.matmul(a, b, out=c), repeats)
        flops = 2.0 * n ** 3

        def cols(ms):
            g = flops / ms / 1e6
            return f"{ms:>10.3f} {g:>9.0f} {100 * g / peak if peak else float('nan'):>6.1f}%"
        print(f"{n:>6} {cols(ours)} {cols(theirs)} {theirs / ours:>6.2f}")


def mlp_data(cupy, batch, steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, (steps, batch)).astype(np.int64)
    return cupy.asarray(x), cupy.asarray(y)


def bench_lamina_mlp(L, cupy, xs, ys):
    L.utils.set_random_seed(0)
    init = L.initializers.get("glorot_uniform")
    sizes = [(784, 512), (512, 512), (512, 10)]
    with L.device("gpu:0"):
        params = []
        for fan_in, fan_out in sizes:
            params.append(L.Variable(init, shape=(fan_in, fan_out), dtype="float32"))
            params.append(L.Variable(np.zeros(fan_out, np.float32)))
    opt = L.optimizers.Adam(1e-3)

    def step(i):
        with L.GradientTape() as tape:
            h = L.ops.nn.dense(xs[i], params[0], params[1], "relu")
            h = L.ops.nn.dense(h, params[2], params[3], "relu")
            logits = L.ops.nn.dense(h, params[4], params[5], None)
            loss = L.ops.mean(L.ops.losses.sparse_categorical_crossentropy(
                ys[i], logits, from_logits=True))
        grads = tape.gradient(loss, params)
        opt.apply_gradients(zip(grads, params))
        return loss
    return step


def bench_torch_mlp(cupy, xs, ys):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10)).cuda()
    return torch_step(torch, model, torch.from_dlpack(xs), torch.from_dlpack(ys)), torch


def torch_step(torch, model, tx, ty):
    """One eager training step of `model` on batch i: Adam (Keras' eps), cross-entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(tx[i]), ty[i])
        loss.backward()
        opt.step()
        return loss
    return step


def time_steps(step, steps, sync):
    for i in range(min(10, steps)):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    return (time.perf_counter() - t0) / steps * 1e3


def bench_mlp(L, cupy, steps):
    batch = 128
    xs, ys = mlp_data(cupy, batch, steps)
    print(f"\nMLP 784-512-512-10 relu, batch {batch}, Adam, sparse CE from logits: ms per step "
          f"(mean of {steps} steps)")
    print(f"{'framework':<34} {'ms/step':>8} {'ratio':>6}")
    sync = cupy.cuda.get_current_stream().synchronize
    ours = time_steps(bench_lamina_mlp(L, cupy, xs, ys), steps, sync)
    torch_step = bench_torch_mlp(cupy, xs, ys)
    print(f"{'lamina (ops + Adam on cupy)':<34} {ours:>8.3f} {1.0:>6.2f}")
    print("  (includes one stream synchronisation per step: the sparse label check)")
    if torch_step is None:
        print("PyTorch with CUDA not installed: no comparison")
        return
    step, torch = torch_step
    theirs = time_steps(step, steps, torch.cuda.synchronize)
    print(f"{'PyTorch eager (CUDA)':<34} {theirs:>8.3f} {theirs / ours:>6.2f}")


LSTM_N, LSTM_T, LSTM_F, LSTM_U, LSTM_CLASSES = 64, 100, 512, 512, 10


def lstm_weights():
    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(LSTM_U)
    shapes = [(LSTM_F, 4 * LSTM_U), (LSTM_U, 4 * LSTM_U), (4 * LSTM_U,),
              (LSTM_U, LSTM_CLASSES), (LSTM_CLASSES,)]
    return [rng.uniform(-s, s, shape).astype(np.float32) for shape in shapes]


def bench_lamina_lstm(L, cupy, x, y):
    with L.device("gpu:0"):
        params = [L.Variable(w) for w in lstm_weights()]
    opt = L.optimizers.Adam(1e-3)

    def forward():  # the last output (N, U)
        return L.ops.lstm(x, params[0], params[1], params[2])[0]

    def step(i):
        with L.GradientTape() as tape:
            logits = L.ops.nn.dense(forward(), params[3], params[4], None)
            loss = L.ops.mean(L.ops.losses.sparse_categorical_crossentropy(
                y, logits, from_logits=True))
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss
    return forward, step


def bench_torch_lstm(cupy, x, y):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    kernel, recurrent, bias, dense_w, dense_b = lstm_weights()
    rnn = torch.nn.LSTM(LSTM_F, LSTM_U, batch_first=True).cuda()
    head = torch.nn.Linear(LSTM_U, LSTM_CLASSES).cuda()
    with torch.no_grad():  # Keras gates i, f, c, o are torch's i, f, g, o
        rnn.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(bias))
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(dense_w.T.copy()))
        head.bias.copy_(torch.from_numpy(dense_b))
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_dlpack(x), torch.from_dlpack(y)

    def forward():
        with torch.no_grad():
            return rnn(tx)[0][:, -1]

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(head(rnn(tx)[0][:, -1]), ty)
        loss.backward()
        opt.step()
        return loss
    return forward, step, torch


def bench_lstm(L, cupy, steps):
    rng = np.random.default_rng(1)
    x = cupy.asarray(rng.standard_normal((LSTM_N, LSTM_T, LSTM_F), dtype=np.float32))
    y = cupy.asarray(rng.integers(0, LSTM_CLASSES, LSTM_N).astype(np.int64))
    print(f"\nLSTM({LSTM_U}) over {LSTM_T} steps of {LSTM_F} features, batch {LSTM_N}, Dense "
          f"{LSTM_CLASSES}, Adam, sparse CE from logits: ms per training step (mean of {steps})")
    sync = cupy.cuda.get_current_stream().synchronize
    forward, step = bench_lamina_lstm(L, cupy, x, y)
    torch_case = bench_torch_lstm(cupy, x, y)
    if torch_case is not None:  # validate first: the same weights give the same last output
        theirs = cupy.from_dlpack(torch_case[0]())
        ours = forward().data
        err = float(cupy.abs(ours - theirs).max())
        print(f"  max |lamina - torch| of the last output: {err:.2e} (torch may use TF32)")
        if err > 1e-2:
            print("  lamina's LSTM differs from torch's: not timed")
            return
    ours_ms = time_steps(step, steps, sync)
    print(f"{'framework':<34} {'ms/step':>8} {'ratio':>6}")
    print(f"{'lamina (ops + Adam on cupy)':<34} {ours_ms:>8.3f} {1.0:>6.2f}")
    if torch_case is None:
        print("PyTorch with CUDA not installed: no comparison")
        return
    _, torch_step, torch = torch_case
    theirs_ms = time_steps(torch_step, steps, torch.cuda.synchronize)
    print(f"{'PyTorch eager (CUDA, cuDNN LSTM)':<34} {theirs_ms:>8.3f} {theirs_ms / ours_ms:>6.2f}")


def bench_lamina_cnn(L, xs, ys):
    """The MNIST CNN as ops on cupy: conv 3x3 32 relu, max pool 2, conv 3x3 64 relu, max pool 2,
    dense 10; Adam."""
    L.utils.set_random_seed(0)
    init = L.initializers.get("glorot_uniform")
    shapes = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (5 * 5 * 64, 10), (10,)]
    with L.device("gpu:0"):
        params = [L.Variable(init, shape=s, dtype="float32") if len(s) > 1 else
                  L.Variable(np.zeros(s, np.float32)) for s in shapes]
    opt = L.optimizers.Adam(1e-3)

    def step(i):
        with L.GradientTape() as tape:
            h = L.ops.conv2d(xs[i], params[0], params[1], activation="relu")
            h = L.ops.max_pool(h, 2)
            h = L.ops.conv2d(h, params[2], params[3], activation="relu")
            h = L.ops.max_pool(h, 2)
            h = L.ops.reshape(h, (h.shape[0], -1))
            logits = L.ops.nn.dense(h, params[4], params[5], None)
            loss = L.ops.mean(L.ops.losses.sparse_categorical_crossentropy(
                ys[i], logits, from_logits=True))
        grads = tape.gradient(loss, params)
        opt.apply_gradients(zip(grads, params))
        return loss
    return step


def bench_torch_cnn(xs, ys):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 5 * 64, 10))
    model = model.cuda().to(memory_format=torch.channels_last)
    tx = torch.from_dlpack(xs).permute(0, 1, 4, 2, 3)  # NHWC memory, NCHW view: channels_last
    return torch_step(torch, model, tx, torch.from_dlpack(ys)), torch


def bench_cnn(L, cupy, steps):
    batch = 256
    rng = np.random.default_rng(0)
    xs = cupy.asarray(rng.standard_normal((steps, batch, 28, 28, 1)).astype(np.float32))
    ys = cupy.asarray(rng.integers(0, 10, (steps, batch)).astype(np.int64))
    print(f"\nMNIST CNN (conv32-pool-conv64-pool-dense10), batch {batch}, Adam: ms per step "
          f"(mean of {steps} steps)")
    print(f"{'framework':<34} {'ms/step':>8} {'ratio':>6}")
    sync = cupy.cuda.get_current_stream().synchronize
    ours = time_steps(bench_lamina_cnn(L, xs, ys), steps, sync)
    print(f"{'lamina (ops + Adam on cupy)':<34} {ours:>8.3f} {1.0:>6.2f}")
    torch_step = bench_torch_cnn(xs, ys)
    if torch_step is None:
        print("PyTorch with CUDA not installed: no comparison")
        return
    step, torch = torch_step
    theirs = time_steps(step, steps, torch.cuda.synchronize)
    print(f"{'PyTorch eager (CUDA, cuDNN)':<34} {theirs:>8.3f} {theirs / ours:>6.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    L, cupy = gpu_or_exit()
    bench_sgemm(L, cupy, args.repeats)
    bench_mlp(L, cupy, args.steps)
    bench_cnn(L, cupy, min(args.steps, 50))
    bench_lstm(L, cupy, max(1, args.steps // 10))


if __name__ == "__main__":
    main()
