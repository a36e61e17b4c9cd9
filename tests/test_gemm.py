"""lamina._cpu.gemm / gemm_batched against the float64 numpy oracle (tests/reference.py).

Shapes straddle every blocking size of every ISA (micro-tiles MR/NR and the direct-path tiles,
cache blocks MC/KC/NC), both paths (direct for small products, packed above ~100^3) and the
single-threaded / threaded split, so each edge-handling branch runs.
"""
import numpy as np
import pytest

import reference
from conftest import tolerance
from lamina import _cpu

RNG = np.random.default_rng(1234)


@pytest.fixture(params=[(np.float32, None), (np.float64, "standard"), (np.float64, "wide")],
                ids=["f32", "f64", "f64-wide"])
def dtype(request):
    """float32, and float64 on each double micro-tile (12 x 16 and 8 x 24 on AVX-512; the CPU
    picks one at load, the tests run both)."""
    dt, tile = request.param
    before = _cpu.gemm_f64_tile()
    if tile is not None:
        _cpu.set_gemm_f64_tile(tile)
    yield dt
    _cpu.set_gemm_f64_tile(before)


def operands(M, N, K, dtype, trans_a=False, trans_b=False):
    a = RNG.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = RNG.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    return a, b


def check(c, expected, dtype, K):
    rtol, atol = tolerance(dtype)
    # Summation error grows with K; scale the absolute tolerance by sqrt(K).
    np.testing.assert_allclose(c, expected, rtol=rtol, atol=atol * 10 * max(1.0, np.sqrt(K)))


TRANS = [(False, False), (True, False), (False, True), (True, True)]
TRANS_IDS = ["nn", "tn", "nt", "tt"]

# (M, N, K): size 1, primes, around MR (4, 6, 8, 12), NR (8, 16, 32) and the direct path's row
# tiles (4, 8, 16: full tiles take a separate addressing path from partial ones), both paths.
SMALL_SHAPES = [
    (1, 1, 1), (1, 7, 3), (5, 1, 9), (3, 5, 1), (2, 3, 2),
    (4, 8, 5), (6, 16, 7), (7, 17, 13), (11, 31, 3), (12, 32, 17), (13, 33, 64),
    (8, 15, 64), (9, 16, 31), (25, 47, 29), (32, 64, 64), (32, 10, 64), (64, 64, 32),
    (128, 10, 64), (16, 10, 33), (17, 16, 9), (15, 9, 20), (48, 40, 24), (24, 24, 12),
]
# Packed path: just below/above MC (128, 192, 384), KC (256), NC (2048, 4096), many NR panels;
# a last row panel of every partial size class (m <= MR/3, <= 2 MR/3, more: each runs its own
# tile body), e.g. the 32 and 64 rows of a dense layer's batch on a 12-row kernel.
LARGE_SHAPES = [
    (97, 101, 103), (130, 70, 257), (200, 33, 255), (385, 97, 129), (191, 193, 300),
    (37, 521, 260), (37, 2100, 20), (20, 4200, 15), (32, 600, 70), (64, 300, 60),
]


@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
@pytest.mark.parametrize("shape", SMALL_SHAPES + LARGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_matches_numpy(isa, dtype, shape, trans):
    M, N, K = shape
    a, b = operands(M, N, K, dtype, *trans)
    c = RNG.standard_normal((M, N)).astype(dtype)
    expected = reference.gemm(a, b, c, *trans, alpha=0.75, beta=-1.5)
    _cpu.gemm(a, b, c, trans[0], trans[1], 0.75, -1.5)
    check(c, expected, dtype, K)


@pytest.mark.parametrize("shape", [(3, 5, 7), (32, 64, 64), (150, 140, 300)], ids=str)
@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
def test_beta_zero_never_reads_c(isa, dtype, shape, trans):
    M, N, K = shape
    a, b = operands(M, N, K, dtype, *trans)
    c = np.full((M, N), np.nan, dtype)
    _cpu.gemm(a, b, c, trans[0], trans[1], 2.0, 0.0)
    assert not np.isnan(c).any()
    check(c, reference.gemm(a, b, c, *trans, alpha=2.0), dtype, K)


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_k_zero_scales_c_by_beta(dtype, beta):
    a = np.empty((4, 0), dtype)
    b = np.empty((0, 5), dtype)
    c0 = np.full((4, 5), np.nan if beta == 0.0 else 3.0, dtype)
    c = c0.copy()
    _cpu.gemm(a, b, c, alpha=1.0, beta=beta)
    np.testing.assert_array_equal(c, np.zeros_like(c) if beta == 0.0 else beta * c0)


def test_alpha_zero_scales_c_by_beta(dtype):
    a, b = operands(20, 30, 40, dtype)
    c0 = RNG.standard_normal((20, 30)).astype(dtype)
    c = c0.copy()
    _cpu.gemm(a, b, c, alpha=0.0, beta=2.0)
    np.testing.assert_array_equal(c, 2 * c0)


@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (0, 0, 0)], ids=str)
def test_empty_outputs(dtype, shape):
    M, N, K = shape
    a, b = operands(M, N, K, dtype)
    c = np.empty((M, N), dtype)
    _cpu.gemm(a, b, c)
    assert c.shape == (M, N)


# Direct path, packed path reading a float B in place (M <= 96), packed path.
@pytest.mark.parametrize("shape", [(5, 6, 7), (33, 40, 50), (60, 75, 300), (140, 150, 290)],
                         ids=str)
@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
def test_leading_dimensions(isa, dtype, shape, trans):
    """Column slices of wider arrays: lda, ldb, ldc larger than the row length."""
    a, _ = check_sliced_product(shape, dtype, trans, alpha=1.25, beta=0.5)
    assert not a.flags.c_contiguous


def check_sliced_product(shape, dtype, trans, alpha, beta):
    """op(a) @ op(b) with a, b and c column slices of wider arrays (lda, ldb, ldc larger than the
    row length): the result, and nothing outside c's slice touched. Returns (a, b)."""
    M, N, K = shape
    a_full, b_full = operands(M + 3, N + 5, K + 7, dtype, *trans)
    a = a_full[: (K if trans[0] else M), : (M if trans[0] else K)]
    b = b_full[: (N if trans[1] else K), : (K if trans[1] else N)]
    big_c = RNG.standard_normal((M + 2, N + 9)).astype(dtype)
    before = big_c.copy()
    c = big_c[:M, :N]
    expected = reference.gemm(a, b, c, *trans, alpha=alpha, beta=beta)
    _cpu.gemm(a, b, c, trans[0], trans[1], alpha, beta)
    check(c, expected, dtype, K)
    np.testing.assert_array_equal(big_c[:M, N:], before[:M, N:])
    np.testing.assert_array_equal(big_c[M:], before[M:])
    return a, b


def check_threads_agree(a, b, trans, alpha, dtype):
    """alpha op(a) @ op(b) into a NaN-filled C with beta = 0, on 1, 2 and 3 threads: right, and
    the same bits each time."""
    M, K = (a.shape[1], a.shape[0]) if trans[0] else a.shape
    N = b.shape[0] if trans[1] else b.shape[1]
    before = _cpu.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _cpu.set_num_threads(threads)
            got = np.full((M, N), np.nan, dtype)
            _cpu.gemm(a, b, got, trans[0], trans[1], alpha, 0.0)
            results.append(got)
    finally:
        _cpu.set_num_threads(before)
    check(results[0], reference.gemm(a, b, results[0], *trans, alpha=alpha), dtype, K)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


# Narrow C (output layers: 1, 2, 10 columns...), where the direct kernel takes a half vector for
# the last columns that fit one and dot tiles for the last one or two (n % 8 float, n % 4 double
# on AVX-512; n % 4 / n % 2 on AVX2), or up to seven at a deep K (in groups of four), vectorised
# along k with a masked tail. Rows cover every dot tile height (16 / n rows for n = 1..4, the
# 4-row tile of one or two columns, partial ones too), K straddles the vector lengths, and the
# large products take the direct path at any size (a narrow C wastes most of a packed tile; up to
# four direct panels, 128 float or 64 double columns, whatever it fills, with the row tiles
# outside: the seven after the deep-K row).
NARROW_SHAPES = [
    (1, 1, 1), (5, 1, 17), (16, 1, 64), (17, 1, 33), (33, 2, 15), (8, 2, 16), (9, 3, 7),
    (5, 3, 40), (21, 4, 9), (16, 5, 100), (7, 6, 31), (19, 9, 65), (128, 10, 64), (13, 10, 8),
    (40, 12, 24), (30, 17, 23), (16, 18, 1), (25, 20, 50), (24, 26, 47), (11, 34, 70),
    (3, 1, 100), (4, 2, 50), (2, 7, 500),
    (37, 3, 300), (33, 6, 260), (21, 7, 700), (19, 12, 1000), (9, 15, 2000), (10, 29, 900),
    (256, 10, 512), (130, 41, 300), (300, 2, 260), (70, 58, 260),
    (700, 64, 40), (530, 33, 90), (1100, 48, 30), (900, 32, 50), (600, 24, 100),
    (300, 100, 70), (250, 128, 41),
]


@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
@pytest.mark.parametrize("shape", NARROW_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_narrow_outputs(isa, dtype, shape, trans):
    """Strided operands and C (the dot tiles store element by element: nothing beside C may
    change), alpha / beta, and beta = 0 over a NaN-filled C."""
    M, N, K = shape
    a, b = check_sliced_product(shape, dtype, trans, alpha=-0.5, beta=1.5)
    c = np.full((M, N), np.nan, dtype)
    _cpu.gemm(a, b, c, trans[0], trans[1], 1.0, 0.0)
    check(c, reference.gemm(a, b, c, *trans, alpha=1.0), dtype, K)


# Rows of A a multiple of 4 KiB apart (1024 floats, 512 doubles) alias in the L1 cache: the direct
# tiles then take 8 rows and the dot tiles 4, in place, and the packed path (130x100x1024) packs A
# in a pass of its own where its tiles would pack it on the way (the same sums, in the same order,
# as the full tiles of the same product from rows that do not alias).
@pytest.mark.parametrize("shape", [(40, 10, 1024), (33, 26, 100), (70, 8, 64), (17, 3, 512),
                                   (50, 16, 1024), (20, 7, 1024), (12, 40, 2048), (45, 1, 1024),
                                   (300, 40, 1000), (130, 100, 1024)], ids=str)
@pytest.mark.parametrize("trans_b", [False, True], ids=["n", "t"])
def test_rows_of_a_4k_apart(isa, dtype, shape, trans_b):
    M, N, K = shape
    row = 4096 // np.dtype(dtype).itemsize
    a_full = RNG.standard_normal((M, -(-K // row) * row)).astype(dtype)
    a = a_full[:, :K]
    assert a.strides[0] % 4096 == 0
    b = RNG.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    c = RNG.standard_normal((M, N)).astype(dtype)
    expected = reference.gemm(a, b, c, False, trans_b, alpha=0.5, beta=2.0)
    _cpu.gemm(a, b, c, False, trans_b, 0.5, 2.0)
    check(c, expected, dtype, K)
    # Not a single bit changes: the same product from rows that do not alias.
    c1, c2 = np.empty((M, N), dtype), np.empty((M, N), dtype)
    _cpu.gemm(a, b, c1, False, trans_b)
    a_padded = np.empty((M, K + 8), dtype)[:, :K]
    a_padded[...] = a
    _cpu.gemm(a_padded, b, c2, False, trans_b)
    np.testing.assert_array_equal(c1, c2)


# A transposed with a C of 1-4 columns (a Dense(1-4) weight gradient x^T dy), the rows of the stored
# A 4 KiB apart: streamed a few rows of A at a time (col_stream), as from rows that do not alias,
# so the same bits, on one thread and split by rows on two. K % 4 tails, masked last vectors,
# K < 64, C strided and beta = 0 over NaN.
@pytest.mark.parametrize("shape", [(512, 1, 256), (300, 2, 130), (1000, 3, 67), (77, 4, 64),
                                   (512, 1, 40), (1024, 2, 201), (2048, 2, 600)], ids=str)
@pytest.mark.parametrize("trans_b", [False, True], ids=["n", "t"])
def test_transposed_a_rows_4k_apart(isa, dtype, shape, trans_b):
    M, N, K = shape
    row = 4096 // np.dtype(dtype).itemsize
    a = RNG.standard_normal((K, -(-M // row) * row)).astype(dtype)[:, :M]
    assert a.strides[0] % 4096 == 0
    b = RNG.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    c0 = RNG.standard_normal((M, N + 3)).astype(dtype)
    c = c0.copy()
    _cpu.gemm(a, b, c[:, 1:N + 1], True, trans_b, 0.5, 2.0)
    check(c[:, 1:N + 1], reference.gemm(a, b, c0[:, 1:N + 1], True, trans_b, alpha=0.5, beta=2.0),
          dtype, K)
    np.testing.assert_array_equal(c[:, [0, N + 1, N + 2]], c0[:, [0, N + 1, N + 2]])
    a_padded = np.empty((K, M + 8), dtype)[:, :M]
    a_padded[...] = a
    want = np.empty((M, N), dtype)
    _cpu.gemm(a_padded, b, want, True, trans_b, 1.5)
    before = _cpu.get_num_threads()
    try:
        for threads in (1, 2):
            _cpu.set_num_threads(threads)
            got = np.full((M, N), np.nan, dtype)
            _cpu.gemm(a, b, got, True, trans_b, 1.5)
            np.testing.assert_array_equal(got, want)
    finally:
        _cpu.set_num_threads(before)


# A transposed with a C of 5 to 16 columns (the weight gradient x^T dy of an output layer) takes
# the column tiles where the direct kernel's vectors would run part-empty (use_col_tiles in
# gemm.cpp; which of these shapes do, per ISA, is test_wide_column_shapes_reach_both_paths).
# Tiles of 1 or 2 vectors of rows, a last partial tile (masked rows, never stored), C^T
# transposed into a strided C with nothing beside it touched, B read in place either way
# (columns of a transposed B in groups of four), alpha / beta, beta = 0 over NaN, and the same
# bits on 1, 2 and 3 threads (rows split).
WIDE_COLUMN_SHAPES = [(64, 5, 300), (64, 6, 128), (64, 7, 2000), (300, 9, 200), (100, 10, 128),
                      (784, 10, 128), (37, 10, 33), (130, 11, 64), (64, 12, 128), (64, 13, 300),
                      (64, 14, 300), (64, 15, 512), (50, 16, 700)]


@pytest.mark.parametrize("shape", WIDE_COLUMN_SHAPES, ids=str)
@pytest.mark.parametrize("trans_b", [False, True], ids=["tn", "tt"])
def test_wide_column_tiles(isa, dtype, shape, trans_b):
    M, N, K = shape
    check_sliced_product(shape, dtype, (True, trans_b), alpha=-0.5, beta=1.5)
    a, b = operands(M, N, K, dtype, True, trans_b)
    check_threads_agree(a, b, (True, trans_b), 1.0, dtype)
    check_threads_agree(a, b, (True, trans_b), 0.5, dtype)


# A transposed, a C of more than 16 rows whose last 1-4 columns would fill part of a half vector
# (17-20 or 33-36 float columns, 17-19 or 49-51 double): those columns are a column product
# (col_stream) beside the direct tiles (direct_col_tail in gemm.cpp). Strided operands and C,
# alpha / beta, beta = 0 over NaN, both transposes of B, and the same bits on 1, 2 and 3 threads
# (columns split by panels, the tail with the last; rows split for the tall ones). On AVX-512
# every shape here takes the direct path with A^T B.
@pytest.mark.parametrize("shape", [(64, 17, 128), (100, 18, 128), (33, 20, 70), (17, 35, 40),
                                   (530, 33, 90), (40, 50, 300), (300, 36, 100), (2000, 17, 300),
                                   (70, 49, 64)], ids=str)
@pytest.mark.parametrize("trans_b", [False, True], ids=["tn", "tt"])
def test_transposed_a_tail_columns(isa, dtype, shape, trans_b):
    M, N, K = shape
    if isa == "avx512" and not trans_b:  # (A^T B^T takes the transposed product for some)
        assert gemm_path(M, N, K, True, trans_b, dtype) == "direct"
    check_sliced_product(shape, dtype, (True, trans_b), alpha=0.75, beta=-1.5)
    a, b = operands(M, N, K, dtype, True, trans_b)
    check_threads_agree(a, b, (True, trans_b), 1.0, dtype)
    check_threads_agree(a, b, (True, trans_b), -2.0, dtype)


def gemm_path(M, N, K, trans_a, trans_b, dtype):
    a = np.zeros((K, M) if trans_a else (M, K), dtype)
    b = np.zeros((N, K) if trans_b else (K, N), dtype)
    return _cpu.gemm_path(a, b, trans_a, trans_b)


def test_wide_column_shapes_reach_both_paths(isa):
    """WIDE_COLUMN_SHAPES run both sides of the column-tile rule: on AVX-512 (col_max_n 16) every
    width from 5 to 15 reaches the column tiles in float and the 10-column K = 33 and the
    16-column product stay direct; AVX2 (col_max_n 12) takes some of them; the portable kernels
    (col_max_n 4) none."""
    for dtype in (np.float32, np.float64):
        paths = {s: gemm_path(*s, True, False, dtype) for s in WIDE_COLUMN_SHAPES}
        assert set(paths.values()) <= {"column tiles", "direct"}, paths
        tiled = {s[1] for s, p in paths.items() if p == "column tiles"}
        if isa == "generic":
            assert not tiled, paths
            continue
        assert tiled and "direct" in paths.values(), paths
        if isa == "avx512" and dtype == np.float32:
            assert tiled == set(range(5, 16)) - {8}, paths
            assert paths[(37, 10, 33)] == paths[(50, 16, 700)] == "direct"


# The path (csrc/cpu/gemm.cpp, choose_path) of the rows of bench/gemm.py that stand for each kind
# of product, on AVX-512 in both precisions: a rule change that moves one, so that the bench's
# figure would measure another algorithm, shows here.
DISPATCH = [
    ((32, 784, 512, False, True), "transposed"),
    ((512, 1, 256, True, False), "column stream"),
    ((64, 10, 128, True, False), "column tiles"),
    ((784, 10, 128, True, True), "column tiles"),
    ((1024, 1024, 1024, False, False), "packed"),
    ((128, 784, 10, False, True), "packed"),
    ((32, 64, 64, False, False), "direct"),
    ((128, 10, 64, False, False), "direct"),
    ((6272, 64, 576, False, False), "direct"),
    ((16, 64, 21632, True, False), "direct"),
    ((0, 5, 5, False, False), "scale"),
    ((5, 5, 0, True, True), "scale"),
]


@pytest.mark.skipif("avx512" not in _cpu.supported_isas(), reason="the rules read AVX-512 tiles")
@pytest.mark.parametrize("case", DISPATCH, ids=lambda c: "x".join(map(str, c[0][:3])) + c[1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_dispatch(case, dtype):
    (M, N, K, trans_a, trans_b), path = case
    before = _cpu.isa()
    try:
        _cpu.set_isa("avx512")
        assert gemm_path(M, N, K, trans_a, trans_b, dtype) == path
    finally:
        _cpu.set_isa(before)


def test_gemm_path_checks_its_operands():
    with pytest.raises(ValueError, match=r"gemm_path.*'b'.*needs 4 rows.*\(5, 6\)"):
        _cpu.gemm_path(np.zeros((3, 4), np.float32), np.zeros((5, 6), np.float32))
    with pytest.raises(TypeError, match=r"gemm_path.*'b'"):
        _cpu.gemm_path(np.zeros((3, 4), np.float32), np.zeros((4, 6), np.float64))


# A transposed B with a C of few rows and many columns (dx = dy W^T of a wide layer) runs as its
# transpose, C^T = op(B)^T op(A)^T, into a scratch C^T transposed into C at the end (in-register
# blocks, scalar edges). Shapes the rule sends there: one row to the four-panel limit (64 double,
# 128 float rows), rows and columns off the transpose blocks, B's rows 4 KiB apart (K = 512
# double), both transposes of A; strided operands and C, alpha / beta, beta = 0 over NaN, and the
# same bits on 1, 2 and 3 threads (each thread transposes its own columns of C).
@pytest.mark.parametrize("shape", [(32, 784, 512), (16, 64, 64), (8, 512, 64), (1, 50, 40),
                                   (5, 300, 70), (13, 37, 300), (33, 200, 90), (64, 1024, 256),
                                   (128, 2048, 256)], ids=str)
@pytest.mark.parametrize("trans_a", [False, True], ids=["nt", "tt"])
def test_transposed_products(isa, dtype, shape, trans_a):
    M, N, K = shape
    if M > 64 and dtype == np.float64:
        M = 64
    check_sliced_product((M, N, K), dtype, (trans_a, True), alpha=-0.5, beta=1.5)
    a, b = operands(M, N, K, dtype, trans_a, True)
    check_threads_agree(a, b, (trans_a, True), 2.0, dtype)


# A direct product of a few rows whose B overflows the 1 MiB L2 (a convolution's kernel gradient
# over a large batch) runs in slices of k, each reading its slice of B once for all row tiles:
# slices with a tail, direct and dot columns, 5 rows (sliced) to two row tiles, all transposes;
# strided C, alpha / beta, beta = 0 over NaN, the same bits on 1, 2 and 3 threads.
@pytest.mark.parametrize("shape", [(12, 61, 2300), (9, 127, 2100), (30, 64, 4500), (5, 33, 9000),
                                   (6, 3, 90000)], ids=str)
@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
def test_direct_k_slices(isa, dtype, shape, trans):
    M, N, K = shape
    check_sliced_product(shape, dtype, trans, alpha=0.75, beta=-1.25)
    a, b = operands(M, N, K, dtype, *trans)
    check_threads_agree(a, b, trans, 1.5, dtype)


# Packed path (column split, row split), the direct path on one thread (64^3) and threaded (from
# ~1 MFLOP: split by column panels, or by row tiles when N is one panel wide or C is tall); a C
# of two direct panels whose B overflows the 1 MiB L2 stays on the packed path (40x64x4200)
# unless it has at most two row tiles (20x64x1500); four panels, tall (1000x120x40), B of 0.3-0.6
# MiB (200x64x1100: direct unless A is transposed).
@pytest.mark.parametrize("shape", [(300, 290, 270), (64, 700, 300), (700, 40, 260), (64, 64, 64),
                                   (80, 100, 70), (200, 20, 140), (500, 10, 300), (300, 1, 900),
                                   (100, 42, 500), (1200, 64, 50), (900, 24, 80), (40, 64, 4200),
                                   (20, 64, 1500), (1000, 120, 40), (200, 64, 1100)], ids=str)
@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
def test_one_and_two_threads_give_identical_bits(isa, dtype, shape, trans):
    M, N, K = shape
    a, b = operands(M, N, K, dtype, *trans)
    c0 = RNG.standard_normal((M, N)).astype(dtype)
    before = _cpu.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _cpu.set_num_threads(threads)
            c = c0.copy()
            _cpu.gemm(a, b, c, trans[0], trans[1], 1.5, 0.25)
            results.append(c)
    finally:
        _cpu.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    check(results[0], reference.gemm(a, b, c0, *trans, alpha=1.5, beta=0.25), dtype, K)


# The prepacked path (gemm_pack_b + gemm_prepacked, what the recurrent kernels run per step):
# partial panels and row tiles of every ISA, K from 1 to a backward's 4 U, strided A and C.
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 7, 5), (8, 33, 17), (16, 512, 128),
                                   (16, 128, 512), (17, 65, 40), (40, 100, 3), (5, 40, 600)],
                         ids=str)
@pytest.mark.parametrize("trans_b", [False, True], ids=["n", "t"])
def test_prepacked_matches_numpy(isa, dtype, shape, trans_b):
    M, N, K = shape
    a_full, b = operands(M, N, K + 3, dtype, False, trans_b)
    a = a_full[:, :K]  # rows lda = K + 3 apart, like the steps of a sequence buffer
    b = b[:, :K] if trans_b else b[:K]
    big_c = RNG.standard_normal((M, N + 4)).astype(dtype)
    c = big_c[:, :N]
    expected = reference.gemm(a, b, c, False, trans_b, alpha=1.25, beta=-0.5)
    _cpu.gemm_prepacked(a, b, c, trans_b, 1.25, -0.5)
    check(c, expected, dtype, K)
    c = np.full((M, N), np.nan, dtype)
    _cpu.gemm_prepacked(a, b, c, trans_b, 1.0, 0.0)  # beta = 0 never reads c
    check(c, reference.gemm(a, b, c, False, trans_b, alpha=1.0), dtype, K)


# Threaded over column panels from 0.5 MFLOP, when not inside a parallel region.
@pytest.mark.parametrize("shape", [(32, 2048, 512), (4, 512, 128), (3, 100, 900)], ids=str)
def test_prepacked_threads_give_identical_bits(dtype, shape):
    M, N, K = shape
    a, b = operands(M, N, K, dtype)
    before = _cpu.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _cpu.set_num_threads(threads)
            c = np.empty((M, N), dtype)
            _cpu.gemm_prepacked(a, b, c)
            results.append(c)
    finally:
        _cpu.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    check(results[0], reference.gemm(a, b, results[0], alpha=1.0), dtype, K)


def test_prepacked_checks_shapes():
    a, b = np.zeros((3, 4), np.float32), np.zeros((5, 6), np.float32)
    with pytest.raises(ValueError, match=r"\[gemm_prepacked\] argument 'b': op\(a\) has shape "
                                         r"\(3, 4\) so op\(b\) needs 4 rows, got b of shape "
                                         r"\(5, 6\)"):
        _cpu.gemm_prepacked(a, b, np.zeros((3, 6), np.float32))


def batched_reference(a, b, c, trans_a, trans_b, alpha, beta):
    batch = c.shape[0]
    return np.stack([
        reference.gemm(a[i % a.shape[0]], b[i % b.shape[0]], c[i], trans_a, trans_b, alpha, beta)
        for i in range(batch)
    ])


@pytest.mark.parametrize("batch_a, batch_b", [(6, 6), (1, 6), (6, 1)], ids=["full", "a1", "b1"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 10, 13), (32, 64, 64), (120, 130, 140)],
                         ids=str)
@pytest.mark.parametrize("trans", TRANS, ids=TRANS_IDS)
def test_gemm_batched(isa, dtype, shape, trans, batch_a, batch_b):
    M, N, K = shape
    ta, tb = trans
    a = RNG.standard_normal((batch_a,) + ((K, M) if ta else (M, K))).astype(dtype)
    b = RNG.standard_normal((batch_b,) + ((N, K) if tb else (K, N))).astype(dtype)
    c = RNG.standard_normal((6, M, N)).astype(dtype)
    expected = batched_reference(a, b, c, ta, tb, 0.5, 2.0)
    _cpu.gemm_batched(a, b, c, ta, tb, 0.5, 2.0)
    check(c, expected, dtype, K)


def test_gemm_batched_beta_zero_and_threads(dtype):
    a = RNG.standard_normal((9, 20, 30)).astype(dtype)
    b = RNG.standard_normal((9, 30, 25)).astype(dtype)
    before = _cpu.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            _cpu.set_num_threads(threads)
            c = np.full((9, 20, 25), np.nan, dtype)
            _cpu.gemm_batched(a, b, c)
            out.append(c)
    finally:
        _cpu.set_num_threads(before)
    np.testing.assert_array_equal(out[0], out[1])
    check(out[0], np.einsum("bmk,bkn->bmn", a.astype(np.float64), b), dtype, 30)


def test_gemm_batched_empty_batch(dtype):
    c = np.empty((0, 3, 4), dtype)
    assert _cpu.gemm_batched(np.empty((0, 3, 5), dtype), np.empty((0, 5, 4), dtype), c) is None
    # an empty batch is still checked: op(b) must have op(a)'s K rows
    with pytest.raises(ValueError, match="'b'"):
        _cpu.gemm_batched(np.empty((0, 3, 5), dtype), np.empty((0, 6, 4), dtype), c)


# ---- argument checking: a bad call raises with a message naming the argument -------------------

def test_f64_tile_switch_names_its_choices():
    assert _cpu.gemm_f64_tile() in ("wide", "standard")
    with pytest.raises(ValueError, match=r"\[set_gemm_f64_tile\] argument 'name': expected "
                                         r"'wide' or 'standard', got 'huge'"):
        _cpu.set_gemm_f64_tile("huge")


def test_rejects_wrong_dtype():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"\[gemm\] argument 'b'.*float32.*float64"):
        _cpu.gemm(a, np.ones((4, 5), np.float64), np.ones((3, 5), np.float32))
    with pytest.raises(TypeError, match=r"\[gemm\] argument 'a'"):
        _cpu.gemm(np.ones((3, 4), np.int32), np.ones((4, 5), np.int32), np.ones((3, 5), np.int32))


def test_rejects_inner_dimension_mismatch():
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'b'.*needs 4 rows.*\(5, 5\)"):
        _cpu.gemm(np.ones((3, 4)), np.ones((5, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'b'.*\(transposed\)"):
        _cpu.gemm(np.ones((3, 4)), np.ones((5, 5)), np.ones((3, 5)), trans_b=True)


def test_rejects_wrong_output_shape():
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'c'.*\(3, 5\).*\(3, 6\)"):
        _cpu.gemm(np.ones((3, 4)), np.ones((4, 5)), np.ones((3, 6)))


def test_rejects_non_unit_column_stride():
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'a'"):
        _cpu.gemm(np.ones((3, 8))[:, ::2], np.ones((4, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\[gemm_batched\] argument 'a'"):
        _cpu.gemm_batched(np.ones((2, 3, 8))[:, :, :4], np.ones((2, 4, 5)), np.ones((2, 3, 5)))


def test_rejects_read_only_output():
    c = np.ones((3, 5))
    c.flags.writeable = False
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'c'"):
        _cpu.gemm(np.ones((3, 4)), np.ones((4, 5)), c)


def test_rejects_wrong_rank_and_batch():
    with pytest.raises(ValueError, match=r"\[gemm\] argument 'a'"):
        _cpu.gemm(np.ones((3, 4, 1)), np.ones((4, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\[gemm_batched\] argument 'a'.*batch of 4 \(or 1\)"):
        _cpu.gemm_batched(np.ones((2, 3, 4)), np.ones((4, 4, 5)), np.ones((4, 3, 5)))
    with pytest.raises(ValueError, match=r"\[gemm_batched\] argument 'b'.*has 5 rows"):
        _cpu.gemm_batched(np.ones((4, 3, 4)), np.ones((4, 5, 5)), np.ones((4, 3, 5)))



@pytest.mark.parametrize("make, message", [
    (lambda x: (x, x, x), "argument 'c': must not share memory with 'a'"),
    (lambda x: (x[:, :64], x[:64, 64:128], x[:, 30:94]),
     "argument 'c': must not share memory with 'a'"),
    (lambda x: (x[:, :64], x[:64, 64:128], x[:, 120:184]),
     "argument 'c': must not share memory with 'b'"),
    (lambda x: (x[:100, :64], x[:64, 64:128], x[99:199, :64]),  # c's first row is a's last
     "argument 'c': must not share memory with 'a'"),
])
def test_gemm_rejects_an_output_sharing_memory_with_an_input(make, message):
    # Aliasing used to give a silently wrong product (the kernel packs a and b while writing c).
    x = RNG.standard_normal((200, 200)).astype(np.float32)
    before = x.copy()
    with pytest.raises(ValueError, match=r"\[gemm\] " + message):
        _cpu.gemm(*make(x))
    np.testing.assert_array_equal(x, before)


def test_gemm_accepts_disjoint_column_slices_of_one_buffer():
    # The leading-dimension layout: c may be a column slice of the matrix a and b are sliced
    # from, as long as no element is shared.
    x = RNG.standard_normal((64, 200)).astype(np.float64)
    a, b = x[:, :64], x[:, 64:96]
    expected = a @ b
    _cpu.gemm(a, b, x[:, 100:132])
    np.testing.assert_allclose(x[:, 100:132], expected, rtol=1e-12, atol=1e-12)
    # c in the rows after a's and b's last element.
    y = np.zeros((10, 8))
    y[:4, :6] = RNG.standard_normal((4, 6))
    _cpu.gemm(y[:4, :3], y[:3, 3:6], y[5:9, 2:5])
    np.testing.assert_allclose(y[5:9, 2:5], y[:4, :3] @ y[:3, 3:6], rtol=1e-12)


def test_gemm_batched_rejects_an_output_sharing_memory_with_an_input():
    x = RNG.standard_normal((3, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"\[gemm_batched\] argument 'c': must not share memory "
                                         r"with 'a'"):
        _cpu.gemm_batched(x, x.copy(), x)
    with pytest.raises(ValueError, match=r"\[gemm_batched\] argument 'c': must not share memory "
                                         r"with 'b'"):
        _cpu.gemm_batched(x.copy(), x[:1], x)


def test_gemm_overlap_check_is_exact_for_slices_of_one_buffer():
    # Random row-strided views of one buffer: gemm refuses exactly when numpy says c shares
    # memory with a or b (a conservative check would refuse disjoint column slices).
    rng = np.random.default_rng(7)
    buf = np.zeros((12, 10), np.float32)
    refused = accepted = 0
    for _ in range(400):
        M, N, K = rng.integers(1, 5, 3)

        def view(rows, cols):
            r0 = rng.integers(0, 12 - rows + 1)
            c0 = rng.integers(0, 10 - cols + 1)
            return buf[r0:r0 + rows, c0:c0 + cols]

        a, b, c = view(M, K), view(K, N), view(M, N)
        shared = np.shares_memory(c, a) or np.shares_memory(c, b)
        try:
            _cpu.gemm(a, b, c)
            accepted += 1
            assert not shared
        except ValueError as e:
            refused += 1
            assert shared and "must not share memory" in str(e)
    assert refused > 50 and accepted > 50


def test_arrays_in_the_other_byte_order_are_refused():
    # '>f4' is float32 by kind and size; read as native floats it would give garbage
    a = np.ones((2, 3), dtype=np.dtype(np.float32).newbyteorder(">"))
    b, c = np.ones((3, 2), np.float32), np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"\[gemm\] argument 'a': dtype >f4 is not in this "
                                        r"machine's byte order"):
        _cpu.gemm(a, b, c)
    np.testing.assert_array_equal(c, 0.0)

