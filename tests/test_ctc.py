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
    assert decoded.shape == (1, 2, 4)
    np.testing.assert_array_equal(decoded[0], [[1, 1, 2, 3], [3, 2, -1, -1]])
    np.testing.assert_allclose(scores[:, 0], [-7.0, -4.0])
    unmerged, _ = ctc_decode(x, [7, 7], strategy="greedy", merge_repeated=False)
    np.testing.assert_array_equal(unmerged[0][0], [1, 1, 1, 2, 2, 3])


def test_beam_search_finds_the_most_probable_labelings():
    B, T, C = 3, 5, 3
    x = rng.standard_normal((B, T, C)) * 2
    decoded, scores = ctc_decode(x, [5, 5, 4], strategy="beam_search", beam_width=200,
                                 top_paths=3)
    assert decoded.shape[:2] == (3, B) and scores.shape == (B, 3)
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
