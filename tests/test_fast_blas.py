"""The compiled kernels' BLAS calls: ``_fast._blas.gemm`` and its column blocks."""

import hashlib
import pathlib

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit  # noqa: E402

from skrnn._fast import _blas, _primitives  # noqa: E402


@njit(cache=False)
def _gemm_views(a, b, c, alpha, beta, rows, inner, cols):
    """``gemm`` on blocks of rows and columns (views with leading dimensions)."""
    r0, r1 = rows
    k0, k1 = inner
    c0, c1 = cols
    _blas.gemm(a[r0:r1, k0:k1], b[k0:k1, c0:c1], c[r0:r1, c0:c1], alpha, beta)


@njit(cache=False)
def _blas_gemm(a, b, c, alpha, beta):
    _blas.gemm(a, b, c, alpha, beta)


@njit(cache=False)
def _gemm_blocks(a, b, c, alpha, beta):
    _primitives.gemm_blocks(a, b, c, alpha, beta)


def _arrays(dtype, m=9, k=7, n=13, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(shape).astype(dtype) for shape in ((m, k), (k, n), (m, n))
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_gemm_on_blocks_accumulates_and_leaves_the_rest(dtype, beta):
    a, b, c = _arrays(dtype)
    rows, inner, cols = (2, 7), (1, 6), (3, 11)
    out = c.copy()
    _gemm_views(
        a, b, out, np.full(1, 2, dtype), np.full(1, beta, dtype), rows, inner, cols
    )
    expected = c.copy()
    block = (slice(*rows), slice(*cols))
    expected[block] = (
        2 * a[slice(*rows), slice(*inner)] @ b[slice(*inner), slice(*cols)]
    )
    expected[block] += beta * c[block]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    outside = np.ones(c.shape, bool)
    outside[block] = False
    np.testing.assert_array_equal(out[outside], c[outside])  # untouched


def test_gemm_with_empty_operands():
    _, _, c = _arrays(np.float64)
    out = c.copy()
    one, half = np.ones(1), np.full(1, 0.5)
    _blas_gemm(np.empty((9, 0)), np.empty((0, 13)), out, one, half)  # no inner sum
    np.testing.assert_array_equal(out, 0.5 * c)
    _blas_gemm(np.empty((0, 4)), np.empty((4, 13)), out[:0], one, half)  # no rows
    _blas_gemm(np.empty((9, 4)), np.empty((4, 0)), out[:, :0], one, half)  # no cols
    np.testing.assert_array_equal(out, 0.5 * c)


def test_gemm_on_rows_of_stride_zero():
    a, b, c = _arrays(np.float64)
    out = c[0].copy()
    _blas_gemm(a[0][None], b, out[None], np.ones(1), np.ones(1))
    np.testing.assert_allclose(out, a[0] @ b + c[0], rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 8, 40), (64, 256, 1024), (3, 5000, 50)])
def test_gemm_blocks_is_the_whole_product(shape):
    m, k, n = shape
    a, b, c = _arrays(np.float64, m, k, n, seed=1)
    out = c.copy()
    _gemm_blocks(a, b, out, np.ones(1), np.ones(1))
    np.testing.assert_allclose(out, a @ b + c, rtol=1e-12, atol=1e-11)


def test_gemm_rejects_mixed_dtypes():
    a, b, c = _arrays(np.float64)
    with pytest.raises(Exception, match="one dtype"):
        _gemm_views(
            a.astype(np.float32), b, c, np.ones(1), np.ones(1), (0, 1), (0, 1), (0, 1)
        )


def test_kernels_are_keyed_by_the_gemm_they_inline():
    # numba's cache sees only the kernels' files: the digest of _blas.py in
    # _primitives.py must follow every change there (update BLAS_SHA256, then
    # the digests that chain from it: see tests/test_fast_path.py)
    source = pathlib.Path(_blas.__file__).read_bytes()
    assert _primitives.BLAS_SHA256 == hashlib.sha256(source).hexdigest()


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn", "statal"])
def test_compiled_scan_with_products_in_column_blocks(name, monkeypatch):
    # shards of 16 rows and H = 192: every recurrent product is cut in blocks
    from test_fast_path import _problem, _run

    from skrnn import _fast
    from skrnn._recurrent import make_cell

    monkeypatch.setattr(_fast, "MIN_FAST_SHARD_WORK", 0)
    cell = make_cell(name)
    H = 192
    width = {"lstm": 4 * H, "gru": 3 * H}.get(name, cell.output_size(H))
    assert 16 * cell.output_size(H) * width > _primitives.SMALL_GEMM
    problem = _problem(cell, np.float64, 32, T=4, H=H)
    fast, ref = _run(cell, problem, True), _run(cell, problem, False)
    for a, b in zip(fast, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
