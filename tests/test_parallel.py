"""Threads of the scan: a fixed batch split and BLAS threads that change no number."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from skrnn import _parallel
from skrnn import _scan as scan
from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._cells import CELLS
from skrnn._network import Architecture, draw_masks, init_params
from skrnn._recurrent import init_direction, make_cell
from skrnn._scan import scan_backward, scan_forward


def _run(cell, bidirectional):
    rng = np.random.RandomState(0)
    arch = Architecture(
        cell,
        (5, 4),
        3,
        2,
        bidirectional=bidirectional,
        return_sequences=True,
        dropout=0.2,
        recurrent_dropout=0.2,
    )
    params = init_params(arch, np.random.RandomState(1))
    lengths = np.array([7, 3, 5, 1, 7, 6, 2, 4, 7])
    X = rng.normal(size=(9, 7, 3))
    Y = rng.normal(size=(9, 7, 2))
    w = (np.arange(7)[None, :] < lengths[:, None]).astype(float)
    masks = draw_masks(arch, np.random.RandomState(2), 9, np.float64)
    batch = TrainData(X, lengths, Y, np.ones(9), w)
    return batch_loss_grad(arch, "squared_error", params, batch, 0.0, masks=masks)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sharded_scan_equals_the_unsharded_scan(shard_every_batch, cell, bidirectional):
    whole = _run(cell, bidirectional)
    shard_every_batch()
    assert len(_parallel.batch_shards(9, 4, 4)) == 2
    for threads in (1, 2):
        _parallel.set_max_threads(threads)
        try:
            value, grads = _run(cell, bidirectional)
        finally:
            _parallel.set_max_threads(None)
        assert value == pytest.approx(whole[0], rel=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(g, whole[1][name], rtol=1e-10, atol=1e-12)


def test_split_depends_on_shape_only_and_respects_worker_budget(monkeypatch):
    assert _parallel.batch_shards(64, 512, 128) == [slice(0, 64)]
    assert _parallel.batch_shards(128, 1024, 256) == [slice(0, 64), slice(64, 128)]
    # the Elman cell's elementwise work is too small to share: never sharded
    assert _parallel.batch_shards(512, 256, 256) == [slice(0, 512)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _parallel.max_threads() == 1
    with pytest.raises(ValueError, match="positive int"):
        _parallel.set_max_threads(0)


def _blas_threads():
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def _raises_threads():
    """Whether gemm_threads may raise BLAS threads here (OpenBLAS, 2+ cores)."""
    return _parallel._THREAD_INVARIANT_GEMM and _parallel.max_threads() >= 2


# Without OpenBLAS or a second core gemm_threads never raises the thread count,
# so the tests below would compare one thread with one thread. CI sets
# SKRNN_TEST_BLAS_THREADS=1 to fail instead of skipping if that ever happens.
needs_blas_threads = pytest.mark.skipif(
    not _raises_threads() and os.environ.get("SKRNN_TEST_BLAS_THREADS") != "1",
    reason="needs OpenBLAS and 2+ cores (gemm_threads never raises threads here)",
)


def test_blas_threads_precondition_when_ci_requires_it():
    if os.environ.get("SKRNN_TEST_BLAS_THREADS") != "1":
        pytest.skip("SKRNN_TEST_BLAS_THREADS=1 (set by .ci/run) not set")
    assert _parallel._THREAD_INVARIANT_GEMM, threadpool_info()
    assert _parallel.max_threads() >= 2


@pytest.mark.parametrize(
    "invariant, threads", [(False, 2), (True, 1)], ids=["not-openblas", "one-core"]
)
def test_gemm_threads_keeps_one_thread_without_its_precondition(
    monkeypatch, invariant, threads
):
    monkeypatch.setattr(_parallel, "_THREAD_INVARIANT_GEMM", invariant)
    _parallel.set_max_threads(threads)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            with _parallel.gemm_threads(64, 128, 512):
                assert _blas_threads() == 1
    finally:
        _parallel.set_max_threads(None)


@needs_blas_threads
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_threads_change_no_number(monkeypatch, numpy_scan, cell, dtype):
    # An unsharded batch above the GEMM threshold: with two threads allowed, the
    # loops over time of an OpenBLAS build run their products on two BLAS
    # threads, and every output and gradient is bit for bit the one-thread one,
    # as is a prediction's output (inputs projected a few steps at a time).
    c = make_cell(cell)
    rng = np.random.RandomState(0)
    params = init_direction(rng, c, 5, 96, dtype)
    X = rng.normal(size=(6, 40, 5)).astype(dtype)
    dY = rng.normal(size=(6, 40, 96)).astype(dtype)
    seen = []
    for name in ("forward_rows", "backward_rows"):  # the NumPy loops _scan calls
        loop = getattr(scan, name)

        def spy(*args, loop=loop):
            seen.append(_blas_threads())
            return loop(*args)

        monkeypatch.setattr(scan, name, spy)
    assert len(_parallel.batch_shards(40, c.n_gates * 96, 96)) == 1
    monkeypatch.setattr(scan, "PROJECT_CHUNK_BYTES", 3 * 40 * 4 * 96 * 8)
    results = []
    for threads in (1, 2):
        _parallel.set_max_threads(threads)
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                cache = scan_forward(c, params, X)
                h = cache["h"].copy()
                dX, d0, grads = scan_backward(c, params, X, cache, dY)
                h_pred = scan_forward(c, params, X, for_backward=False)["h"]
        finally:
            _parallel.set_max_threads(None)
        results.append([h, dX, d0["h"], *grads, h_pred])
    assert seen == [1, 1, 1, 2, 2, 2]
    for a, b in zip(*results, strict=True):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


@needs_blas_threads
def test_gemm_threads_only_for_true_products_worth_it():
    with threadpool_limits(limits=1, user_api="blas"):
        with _parallel.gemm_threads(64, 128, 512):
            assert _blas_threads() == 2
        assert _blas_threads() == 1
        with _parallel.gemm_threads(1, 4096, 4096):  # NumPy: a vector product
            assert _blas_threads() == 1
        with _parallel.gemm_threads(8, 8, 8):  # OpenBLAS: one thread anyway
            assert _blas_threads() == 1
