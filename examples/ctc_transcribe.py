"""A CTC model learns to transcribe synthetic "speech": each digit 1-9 is spoken as 2-4 noisy
frames of its own 16-dimensional sound, with silence (the blank class 0) scattered in between
(always between two equal digits);
the model sees only the frames and the digit sequence, never where each digit is.

    PYTHONPATH=python python examples/ctc_transcribe.py [--epochs 12]

Bidirectional(GRU(48, return_sequences=True)) -> Dense(10) logits per frame, trained with
lamina.ops.ctc_loss in a GradientTape loop (Keras conventions: logits (batch, frames, classes),
0-padded integer targets, 0 = blank); decoded with ctc_decode, greedy and beam search.
"""
import argparse
import time

import numpy as np

import lamina as L
from lamina import ops

FRAMES, FEATURES, CLASSES, MAX_LABELS = 40, 16, 10, 6


def synthesize(n, rng, sounds):
    x = np.zeros((n, FRAMES, FEATURES), np.float32)
    y = np.zeros((n, MAX_LABELS), np.int64)
    y_len = np.zeros(n, np.int64)
    for i in range(n):
        digits = rng.integers(1, CLASSES, size=rng.integers(3, MAX_LABELS + 1))
        frames, prev = [], 0
        for d in digits:
            # A repeated digit needs silence between its two renditions, or it is one digit.
            gap = int(rng.integers(1 if d == prev else 0, 3))
            frames += [0] * gap + [int(d)] * int(rng.integers(2, 5))
            prev = d
        frames += [0] * (FRAMES - len(frames))
        x[i] = sounds[frames[:FRAMES]] + 0.6 * rng.standard_normal((FRAMES, FEATURES))
        y[i, :len(digits)] = digits
        y_len[i] = len(digits)
    return x, y, y_len


def transcript(seq):
    return "".join(str(int(d)) for d in seq if d > 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    L.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    sounds = rng.standard_normal((CLASSES, FEATURES)).astype(np.float32)
    x, y, y_len = synthesize(2400, rng, sounds)
    (x_val, y_val, len_val), (x, y, y_len) = (x[:200], y[:200], y_len[:200]), \
        (x[200:], y[200:], y_len[200:])

    model = L.Sequential([
        L.Input((FRAMES, FEATURES)),
        L.layers.Bidirectional(L.layers.GRU(48, return_sequences=True)),
        L.layers.Dense(CLASSES),
    ])
    opt = L.optimizers.Adam(3e-3)
    frames = np.full(32, FRAMES)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(x))
        losses = []
        for s in range(0, len(x) - 31, 32):
            b = order[s:s + 32]
            with L.GradientTape() as tape:
                logits = model(x[b], training=True)
                loss = ops.mean(ops.ctc_loss(y[b], logits, y_len[b], frames))
            weights = model.trainable_weights
            opt.apply(tape.gradient(loss, weights), weights)
            losses.append(float(loss.data))
        decoded, _ = ops.ctc_decode(model.predict_on_batch(x_val), np.full(len(x_val), FRAMES))
        exact = np.mean([transcript(d) == transcript(t) for d, t in zip(decoded[0], y_val)])
        print(f"epoch {epoch + 1:2d}  ctc loss {np.mean(losses):7.3f}  "
              f"validation transcripts exact: {exact:.0%}")
    print(f"trained in {time.perf_counter() - t0:.1f} s\n")

    logits = model.predict_on_batch(x_val[:8])
    greedy, _ = ops.ctc_decode(logits, np.full(8, FRAMES), strategy="greedy")
    beam, scores = ops.ctc_decode(logits, np.full(8, FRAMES), strategy="beam_search",
                                  beam_width=16, top_paths=2)
    print(f"{'truth':<10}{'greedy':<10}{'beam #1':<10}{'beam #2':<10}log p #1")
    for i in range(8):
        print(f"{transcript(y_val[i]):<10}{transcript(greedy[0][i]):<10}"
              f"{transcript(beam[0][i]):<10}{transcript(beam[1][i]):<10}{scores[i, 0]:8.3f}")


if __name__ == "__main__":
    main()
