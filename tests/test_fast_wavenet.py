"""Tests of skrnn._fast._wavenet: the compiled dilated stack equals the NumPy one."""

import hashlib
import pathlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("numba", reason="the compiled fast path needs numba (skrnn[fast])")

import skrnn  # noqa: E402
from skrnn import RNNRegressor, _fast  # noqa: E402
from skrnn._fast import _kernels, _wavenet_kernels  # noqa: E402
from skrnn._wavenet import wavenet_backward, wavenet_forward, wavenet_init  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: (steps, batch, layers, ragged, streamed): one tile; ragged lengths; a chunk
#: shorter than most dilations, after a carried state; two shards of several
#: tiles each, with a carried state wider than a tile, all at once.
CASES = {
    "one-tile": (9, 5, 3, False, False),
    "ragged": (9, 6, 4, True, False),
    "short-streamed-chunk": (3, 4, 5, False, True),
    "tiles-shards-ragged-streamed": (120, 20, 8, True, True),
}


@pytest.fixture(autouse=True)
def _shard_small_batches(monkeypatch):
    """Two shards from 16 rows, whatever the work (the tests' stacks are tiny)."""
    monkeypatch.setattr(_fast, "MIN_FAST_SHARD_WORK", 0)


def _tolerance(dtype, want):
    """1e-12 (float64) or 1e-5 (float32), relative to the array's largest entry:
    a weight gradient sums thousands of columns in another order."""
    tol = 1e-12 if dtype == np.float64 else 1e-5
    return {"rtol": tol, "atol": tol * max(1.0, float(np.abs(want).max(initial=0)))}


def _problem(dtype, T, B, n_layers, ragged, streamed, C=4, F=3, seed=0):
    """Weights with non-zero biases, inputs, lengths, a state and output gradients."""
    rng = np.random.RandomState(seed)
    params = wavenet_init(rng, F, n_channels=C, n_layers=n_layers, dtype=dtype)
    params = {
        k: (v + 0.3 * rng.standard_normal(v.shape)).astype(dtype)
        for k, v in params.items()
    }
    X = rng.standard_normal((T, B, F)).astype(dtype)
    lengths = rng.randint(1, T + 1, B) if ragged else None
    if ragged:
        lengths[0] = T
    state = None
    if streamed:
        state = [
            rng.standard_normal((2**k, B, C)).astype(dtype) for k in range(n_layers)
        ]
    dY = rng.standard_normal((T, B, C)).astype(dtype)
    return params, X, lengths, state, dY


def _run(problem, fast):
    """Training forward and backward and a prediction on one path: every output."""
    params, X, lengths, state, dY = problem
    n_layers = len(state) if state else sum(k.endswith("conv.bias") for k in params)
    with skrnn.config_context(fast_path=fast):
        Y, state_out, cache = wavenet_forward(
            params, X, lengths, n_layers=n_layers, state=state
        )
        assert ("fast" in cache) == fast
        dX, grads = wavenet_backward(params, dY, cache)
        kw = {"n_layers": n_layers, "state": state, "for_backward": False}
        pred, pred_state, _ = wavenet_forward(params, X, lengths, **kw)
    return [Y, *state_out, dX, *grads.values(), pred, *pred_state], cache


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_compiled_stack_equals_numpy_stack(case, dtype):
    problem = _problem(dtype, *case)
    numpy_out, _ = _run(problem, False)
    fast_out, cache = _run(problem, True)
    T, B, n_layers = case[:3]
    assert len(cache["shards"]) == (2 if B >= 16 else 1)
    if case == CASES["tiles-shards-ragged-streamed"]:  # per shard of B / 2 rows:
        assert T * B // 2 > _wavenet_kernels.TILE  # several tiles
        assert 2 ** (n_layers - 1) * B // 2 > _wavenet_kernels.TILE  # a wide state
    for want, got in zip(numpy_out, fast_out, strict=True):
        assert got.dtype == dtype
        assert_allclose(got, want, **_tolerance(dtype, want))


def test_outputs_do_not_depend_on_the_shard_split(monkeypatch):
    problem = _problem(np.float64, *CASES["tiles-shards-ragged-streamed"])
    two, cache = _run(problem, True)
    assert len(cache["shards"]) == 2
    monkeypatch.setattr(_fast, "MIN_FAST_SHARD_WORK", 2**62)
    one, cache = _run(problem, True)
    assert len(cache["shards"]) == 1
    n_forward = 1 + 8  # Y and the state of each layer: no sum across columns
    for a, b in zip(two[:n_forward], one[:n_forward], strict=True):
        assert_array_equal(a, b)
    for a, b in zip(two, one, strict=True):  # weight gradients: sums in other order
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_compiled_stack_is_deterministic():
    problem = _problem(np.float32, *CASES["tiles-shards-ragged-streamed"])
    first, _ = _run(problem, True)
    again, _ = _run(problem, True)
    for a, b in zip(first, again, strict=True):
        assert_array_equal(a, b)


def test_dispatch_follows_the_fast_path_setting(monkeypatch):
    params, X, _, _, _ = _problem(np.float64, 5, 2, 2, False, False)
    for mode, compiled in [(False, False), (True, True), ("auto", True)]:
        with skrnn.config_context(fast_path=mode):
            assert ("fast" in wavenet_forward(params, X, n_layers=2)[2]) == compiled
    monkeypatch.setattr(_fast, "_NUMBA", False)  # as if numba were not installed
    with skrnn.config_context(fast_path="auto"):
        assert "fast" not in wavenet_forward(params, X, n_layers=2)[2]
    with (
        skrnn.config_context(fast_path=True),
        pytest.raises(ImportError, match="numba"),
    ):
        wavenet_forward(params, X, n_layers=2)


def test_estimator_trains_the_same_model_on_both_paths():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((40, 30, 2)), rng.standard_normal(40)
    preds = []
    for fast in (False, True):
        with skrnn.config_context(fast_path=fast):
            est = RNNRegressor(
                cell="wavenet", hidden_layer_sizes=(4,) * 5, max_iter=5, random_state=0
            )
            preds.append(est.fit(X, y).predict(X))
    assert_allclose(preds[1], preds[0], rtol=1e-9, atol=1e-9)


def test_kernels_are_keyed_by_the_tanh_they_inline():
    # numba's cache sees only _wavenet_kernels.py: its digest of _kernels.py
    # must follow every change there (update KERNELS_SHA256 to the new value)
    source = pathlib.Path(_kernels.__file__).read_bytes()
    assert _wavenet_kernels.KERNELS_SHA256 == hashlib.sha256(source).hexdigest()
