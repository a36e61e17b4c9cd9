"""lamina.ops.ctc_loss / ctc_decode (csrc/cpu/ctc.cpp): the loss against brute-force
enumeration of every alignment (repeated labels, blanks, padding, short outputs), float64
finite-difference gradients, impossible alignments, and decoding against brute force."""
import numpy as np
import pytest

import lamina as L
from lamina import ops
from lamina.ops.ctc import ctc_decode, ctc_loss
import reference as ref
from gradcheck import check_gradients

rng = np.random.default_rng(5)

# (labels (max_len 3, 0-padded), target_length, output_length) for logits of 5 steps.
CASES = [([1, 2, 0], 2, 5), ([1, 1, 0], 2, 5), ([2, 2, 2], 3, 5), ([3, 0, 0], 1, 4),
         ([0, 0, 0], 0, 5), ([1, 2, 3], 3, 3), ([2, 1, 2], 3, 5), ([1, 1, 0], 2, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_loss_matches_brute_force(dtype):
    B, T, C = len(CASES), 5, 4
    logits = rng.standard_normal((B, T, C)) * 1.5
    target = np.array([c[0] for c in CASES])
    tlen = np.array([c[1] for c in CASES])
    olen = np.array([c[2] for c in CASES])
    got = ctc_loss(target, logits.astype(dtype), tlen, olen).data
    want = [ref.ctc_loss(logits[b, :olen[b]], target[b, :tlen[b]]) for b in range(B)]
    assert got.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=rtol)


def test_gradient_check():
    logits = rng.standard_normal((3, 5, 4))
    target = np.array([[1, 2, 2], [3, 0, 0], [1, 1, 0]])
    tlen, olen = np.array([3, 1, 2]), np.array([5, 3, 4])
    check_gradients(lambda o: ctc_loss(target, o, tlen, olen), logits, rtol=1e-5, atol=1e-8)


def test_padding_labels_are_skipped_like_keras_losses_ctc():
    logits = rng.standard_normal((2, 6, 5))
    padded = np.array([[2, 3, 0, 0], [4, 0, 0, 0]])
    full = ctc_loss(padded, logits, [4, 4], [6, 6]).data
    exact = ctc_loss(padded, logits, [2, 1], [6, 6]).data
    np.testing.assert_allclose(full, exact, rtol=1e-12)


def test_impossible_alignment_is_inf_with_zero_gradient():
    logits = L.Variable(rng.standard_normal((2, 3, 3)))
    target = np.array([[1, 1], [1, 2]])
    with L.GradientTape() as tape:
        loss = ctc_loss(target, logits, [2, 2], [2, 3])  # "1 1" needs 3 steps, gets 2
        total = ops.sum(loss[1:])  # the finite sample only: inf * 0 would be NaN
    assert np.isinf(loss.data[0]) and loss.data[0] > 0 and np.isfinite(loss.data[1])
    (g,) = tape.gradient(total, [logits])
    assert np.all(np.isfinite(g.data))
    zero = ctc_loss(target, logits, [2, 2], [2, 3], zero_infinity=True).data
    assert zero[0] == 0.0 and zero[1] == loss.data[1]


def test_bad_labels_and_lengths_raise():
    logits = np.zeros((1, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\[ctc_loss\] argument 'targets': label 3 at \[0, 1\] "
                                         r"is outside \[0, 3\)"):
        ctc_loss(np.array([[1, 3]]), logits, [2], [4])
    with pytest.raises(ValueError, match=r"argument 'output_length': value 5 at 0 is outside"):
        ctc_loss(np.array([[1, 2]]), logits, [2], [5])
    with pytest.raises(ValueError, match=r"argument 'target_length': value 3 at 0"):
        ctc_loss(np.array([[1, 2]]), logits, [3], [4])


def test_greedy_decode():
    C = 4
    steps = [[1, 1, 0, 1, 2, 2, 3], [3, 0, 0, 2, 2, 1, 1]]
    x = np.full((2, 7, C), -5.0)
    for b, s in enumerate(steps):
        x[b, np.arange(7), s] = 1.0
    decoded, scores = ctc_decode(x, [7, 4], strategy="greedy")
    # Keras: (1, batch, timesteps) int32, labels first, -1 to the full length
    assert decoded.shape == (1, 2, 7) and decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded[0], [[1, 1, 2, 3, -1, -1, -1],
                                               [3, 2, -1, -1, -1, -1, -1]])
    assert scores.shape == (2, 1) and scores.dtype == np.float64
    np.testing.assert_allclose(scores[:, 0], [-7.0, -4.0])
    unmerged, _ = ctc_decode(x, [7, 7], strategy="greedy", merge_repeated=False)
    np.testing.assert_array_equal(unmerged[0][0], [1, 1, 1, 2, 2, 3, -1])
    _, scores32 = ctc_decode(x.astype(np.float32), [7, 4])
    assert scores32.dtype == np.float32
    empty, _ = ctc_decode(np.zeros((2, 3, 4)) + np.eye(4)[0], [3, 0])  # blanks only
    np.testing.assert_array_equal(empty, np.full((1, 2, 3), -1))


def test_beam_search_finds_the_most_probable_labelings():
    B, T, C = 3, 5, 3
    x = rng.standard_normal((B, T, C)) * 2
    decoded, scores = ctc_decode(x, [5, 5, 4], strategy="beam_search", beam_width=200,
                                 top_paths=3)
    assert decoded.shape == (3, B, T) and decoded.dtype == np.int32 and scores.shape == (B, 3)
    for b, length in enumerate([5, 5, 4]):
        probs = ref.ctc_labelings(x[b, :length])
        best = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
        for p, (lab, prob) in enumerate(best):
            got = tuple(int(v) for v in decoded[p, b] if v >= 0)
            assert got == lab
            np.testing.assert_allclose(scores[b, p], np.log(prob), rtol=1e-9)


def test_decode_errors():
    with pytest.raises(ValueError, match="invalid strategy 'best'"):
        ctc_decode(np.zeros((1, 2, 3)), [2], strategy="best")
    with pytest.raises(ValueError, match=r"top_paths.*expected 1 <= top_paths <= beam_width"):
        ctc_decode(np.zeros((1, 2, 3)), [2], strategy="beam_search", beam_width=2, top_paths=3)


@pytest.mark.parametrize("strategy", ["greedy", "beam_search"])
def test_decode_input_checks(strategy):
    x = np.zeros((2, 3, 5))
    with pytest.raises(ValueError, match=r"\[ctc_decode\] mask_index must be a class in "
                                         r"\[0, 5\) \(the blank\), got 7"):
        ctc_decode(x, [3, 2], strategy=strategy, mask_index=7)
    with pytest.raises(ValueError, match=r"\[ctc_decode\] sequence_lengths must be a scalar or "
                                         r"have one entry per batch row: expected shape \(2,\), "
                                         r"got \(3,\)"):
        ctc_decode(x, [3, 2, 1], strategy=strategy)
    with pytest.raises(ValueError, match=r"\[ctc_decode\] sequence_lengths must hold integers, "
                                         r"got 2\.5 at 1"):
        ctc_decode(x, [3.0, 2.5], strategy=strategy)
    decoded, _ = ctc_decode(x, 3, strategy=strategy, mask_index=None)  # None: the last class
    assert decoded.shape[1:] == (2, 3)


def test_loss_input_checks():
    logits = np.zeros((1, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\[ctc_loss\] target must hold integers, got 1\.7 at "
                                         r"\[0, 0\]"):
        ctc_loss(np.array([[1.7, 2.0]]), logits, [2], [4])
    with pytest.raises(ValueError, match=r"\[ctc_loss\] target_length must be a scalar or have "
                                         r"one entry per batch row: expected shape \(1,\), got "
                                         r"\(2,\)"):
        ctc_loss(np.array([[1, 2]]), logits, [2, 2], [4])
    integral = ctc_loss(np.array([[1.0, 2.0]]), logits, [2.0], 4).data
    np.testing.assert_array_equal(integral, ctc_loss(np.array([[1, 2]]), logits, [2], [4]).data)
