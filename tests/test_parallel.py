"""Threads of the scan: a fixed batch split and BLAS threads that change no number."""

import os
import select
import signal
import threading

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


def _raises_threads(dtype=np.float64):
    """Whether gemm_threads raises BLAS threads here for ``dtype``: OpenBLAS,
    2+ cores, and GEMMs whose numbers do not change with the thread count."""
    n = _parallel.max_threads()
    return n >= 2 and _parallel.thread_invariant(dtype, n)


# Where gemm_threads never raises the thread count (no OpenBLAS, one core, or
# GEMM kernels that round differently on several threads) this test would
# compare one thread with one thread.
needs_blas_threads = pytest.mark.skipif(
    not _raises_threads(),
    reason="gemm_threads keeps one BLAS thread on this machine",
)


def test_blas_threads_precondition_when_ci_requires_it():
    # CI sets SKRNN_TEST_BLAS_THREADS=1: its machine has OpenBLAS and 2 cores,
    # so the probe, not a missing library, decides whether threads are raised.
    if os.environ.get("SKRNN_TEST_BLAS_THREADS") != "1":
        pytest.skip("SKRNN_TEST_BLAS_THREADS=1 (set by .ci/run) not set")
    assert _parallel._THREAD_INVARIANT_GEMM, threadpool_info()
    assert _parallel.max_threads() >= 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_invariance_probe_measures_this_blas(dtype, monkeypatch):
    # The probe's answer is what threadpoolctl's own limits show on the same
    # products: a probe whose thread switch did nothing would say "invariant"
    # on a machine whose kernels round differently on two threads. The answer
    # the scan reads also needs an OpenBLAS recent enough to be trusted at all
    # (an older one measured invariant here is still kept on one thread).
    rng = np.random.default_rng(0)
    same = True
    for m, k, n in _parallel._PROBE_SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        with threadpool_limits(limits=1, user_api="blas"):
            one = a @ b
        with threadpool_limits(limits=2, user_api="blas"):
            same &= bool(np.array_equal(one, a @ b))
    assert _parallel._probe(np.dtype(dtype), 2) == same
    monkeypatch.setattr(_parallel, "_PROBED", {})  # measure again, not recall
    expected = same and _parallel._THREAD_INVARIANT_GEMM
    assert _parallel.thread_invariant(dtype, 2) == expected


@pytest.mark.parametrize(
    "invariant, threads", [(False, 2), (True, 1)], ids=["not-invariant", "one-core"]
)
def test_gemm_threads_keeps_one_thread_without_its_precondition(
    monkeypatch, invariant, threads
):
    monkeypatch.setattr(_parallel, "_PROBED", {("<f8", threads): invariant})
    _parallel.set_max_threads(threads)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            with _parallel.gemm_threads(64, 128, 512, np.float64):
                assert _blas_threads() == 1
    finally:
        _parallel.set_max_threads(None)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_threads_change_no_number(monkeypatch, numpy_scan, cell, dtype):
    # An unsharded batch above the GEMM threshold: with two threads allowed, the
    # loops over time run their products on two BLAS threads where that changes
    # no number (else on one), and every output and gradient is bit for bit the
    # one-thread one, as is a prediction's output (inputs projected a few steps
    # at a time).
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
    raised = 2 if _parallel.thread_invariant(dtype, 2) else 1
    assert seen == [1, 1, 1, raised, raised, raised]
    for a, b in zip(*results, strict=True):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


@needs_blas_threads
def test_gemm_threads_only_for_true_products_worth_it():
    with threadpool_limits(limits=1, user_api="blas"):
        with _parallel.gemm_threads(64, 128, 512, np.float64):
            assert _blas_threads() == 2
        assert _blas_threads() == 1
        # NumPy: a vector product
        with _parallel.gemm_threads(1, 4096, 4096, np.float64):
            assert _blas_threads() == 1
        with _parallel.gemm_threads(8, 8, 8, np.float64):  # OpenBLAS: one thread anyway
            assert _blas_threads() == 1


def test_run_shards_keeps_order_reraises_and_reuses_its_workers():
    _parallel.set_max_threads(2)
    try:
        names = []

        def where(x):
            names.append(threading.current_thread().name)
            return 10 * x

        assert _parallel.run_shards(where, [1, 2], (1, 1, 1, None)) == [10, 20]
        assert _parallel.run_shards(where, [3, 4], (1, 1, 1, None)) == [30, 40]
        workers = [n for n in names if n != threading.current_thread().name]
        assert len(workers) == 2 and len(set(workers)) == 1  # one kept worker

        def fail_second(x):
            if x == 2:
                raise KeyError("shard 2")
            return x

        with pytest.raises(KeyError, match="shard 2"):
            _parallel.run_shards(fail_second, [1, 2], (1, 1, 1, None))
    finally:
        _parallel.set_max_threads(None)


def test_run_shards_in_a_forked_child_starts_its_own_workers():
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    _parallel.set_max_threads(2)
    try:
        assert _parallel.run_shards(abs, [-1, -2], (1, 1, 1, None)) == [1, 2]
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: the parent's worker thread does not exist here
            ok = _parallel.run_shards(abs, [-3, -4], (1, 1, 1, None)) == [3, 4]
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 60)  # a stale pool would hang
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert ready and os.read(read, 1) == b"1"
    finally:
        _parallel.set_max_threads(None)


def test_probe_waits_while_another_thread_computes_on_one_blas_thread(monkeypatch):
    # Measuring would raise the process-wide BLAS threads under that thread's
    # products, so the probe is put off (one thread meanwhile), not cached.
    monkeypatch.setattr(_parallel, "_PROBED", {})
    monkeypatch.setattr(_parallel, "_THREAD_INVARIANT_GEMM", True)
    inside, release = threading.Event(), threading.Event()

    def compute():
        with _parallel.blas_single_thread():
            inside.set()
            release.wait(30)

    other = threading.Thread(target=compute)
    other.start()
    try:
        assert inside.wait(30)
        assert _parallel.thread_invariant(np.float64, 2) is False
        assert _parallel._PROBED == {}
        assert _blas_threads() == 1  # the other thread's single thread held
    finally:
        release.set()
        other.join()
    _parallel.thread_invariant(np.float64, 2)
    assert ("<f8", 2) in _parallel._PROBED  # measured once the region closed
