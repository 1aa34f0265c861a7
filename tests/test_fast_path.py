"""Tests of skrnn._fast: the compiled scan equals the NumPy scan, and its dispatch."""

import hashlib
import pathlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("numba", reason="the compiled fast path needs numba (skrnn[fast])")

from numba import njit  # noqa: E402

import skrnn  # noqa: E402
import skrnn._scan as scan  # noqa: E402
from skrnn import _fast, _parallel  # noqa: E402
from skrnn._cells import CELLS  # noqa: E402
from skrnn._fast import _kernels, _kernels_statal, _primitives  # noqa: E402
from skrnn._recurrent import init_direction, make_cell  # noqa: E402
from skrnn._scan import scan_backward, scan_forward  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def _shard_small_batches(monkeypatch):
    """Two shards from 16 rows, whatever the work (the tests' layers are tiny)."""
    monkeypatch.setattr(_fast, "MIN_FAST_SHARD_WORK", 0)


#: id -> (cell name, cell options): every kernel, the statal cell with one
#: state (no leaking state) and with three (rho < 1 and per-state blocks).
VARIANTS = {
    "rnn-tanh": ("rnn", {}),
    "rnn-relu": ("rnn", {"nonlinearity": "relu"}),
    "lstm": ("lstm", {}),
    "gru": ("gru", {}),
    "statal-1": ("statal", {"n_states": 1}),
    "statal-3": ("statal", {"n_states": 3}),
}


def _tolerance(dtype):
    if dtype == np.float64:
        return {"rtol": 1e-12, "atol": 1e-12}
    return {"rtol": 1e-5, "atol": 1e-5}


def _problem(cell, dtype, B, T=9, F=3, H=5, seed=0):
    """Weights, inputs, ragged lengths, carries, mask and output gradients."""
    rng = np.random.RandomState(seed)
    V = cell.output_size(H)
    params = [
        (p + 0.3 * rng.standard_normal(p.shape)).astype(dtype)
        for p in init_direction(rng, cell, F, H, dtype)
    ]
    X = rng.standard_normal((T, B, F)).astype(dtype)
    lengths = rng.randint(1, T + 1, B)
    lengths[0] = T
    valid = np.arange(T)[:, None] < lengths[None, :]
    carry0 = {"h": rng.standard_normal((B, V)).astype(dtype)}
    carry0.update({n: rng.standard_normal((B, H)).astype(dtype) for n in "c"})
    carry0 = {n: carry0[n] for n in ("h", *cell.hidden_carries)}
    mask = ((rng.uniform(size=(B, V)) > 0.3) / 0.7).astype(dtype)
    dY = (rng.standard_normal((T, B, V)) * valid[..., None]).astype(dtype)
    dT = {n: rng.standard_normal(carry0[n].shape).astype(dtype) for n in carry0}
    return params, X, carry0, valid, mask, dY, dT


def _run(cell, problem, fast):
    """Training forward, backward and a prediction on one path: every output."""
    params, X, carry0, valid, mask, dY, dT = problem
    with skrnn.config_context(fast_path=fast):
        cache = scan_forward(cell, params, X, carry0, valid, mask)
        assert (cache["fast"] is not None) == fast
        if fast:
            assert len(cache["shards"]) == len(_fast.fast_shards(X.shape[1], 1))
        out = [cache["h"].copy()] + [cache[n].copy() for n in cell.hidden_carries]
        dX, d0, grads = scan_backward(cell, params, X, cache, dY, dT)
        pred = scan_forward(cell, params, X, carry0, valid, mask, for_backward=False)
        assert (pred["fast"] is not None) == fast
    carries = [pred[n] for n in ("h", *cell.hidden_carries)]
    return [*out, dX, *(d0[n] for n in sorted(d0)), *grads, *carries]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [5, 20], ids=["one-shard", "two-shards"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_compiled_scan_equals_numpy_scan(variant, batch, dtype):
    name, options = VARIANTS[variant]
    cell = make_cell(name, **options)
    assert len(_fast.fast_shards(batch, 1)) == (2 if batch == 20 else 1)
    problem = _problem(cell, dtype, batch)
    fast, ref = _run(cell, problem, True), _run(cell, problem, False)
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref, strict=True):
        assert a.dtype == dtype
        assert_allclose(a, b, **_tolerance(dtype))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_compiled_elman_scan_in_chunks_of_steps(monkeypatch, nonlinearity):
    # the Elman cell's backward pass runs one call per chunk of steps
    monkeypatch.setattr(scan, "GRAD_CHUNKS", 4)
    monkeypatch.setattr(scan, "MIN_CHUNK_ROWS", 1)
    cell = make_cell("rnn", nonlinearity)
    assert scan.grad_chunk(cell, 9, 20) == 3
    problem = _problem(cell, np.float64, 20, seed=3)
    fast, ref = _run(cell, problem, True), _run(cell, problem, False)
    for a, b in zip(fast, ref, strict=True):
        assert_allclose(a, b, **_tolerance(np.float64))


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn", "statal"])
def test_compiled_scan_without_optional_inputs(name):
    # no carries, no padding, no mask, no output gradient (final state only)
    cell = make_cell(name, n_states=2)
    params, X, _, _, _, _, dT = _problem(cell, np.float64, 20, seed=5)
    results = []
    for fast in (True, False):
        with skrnn.config_context(fast_path=fast):
            cache = scan_forward(cell, params, X)
            h = cache["h"].copy()
            dX, d0, grads = scan_backward(cell, params, X, cache, None, dT)
        results.append([h, dX, d0["h"], *grads])
    for a, b in zip(*results, strict=True):
        assert_allclose(a, b, **_tolerance(np.float64))


def test_every_cell_has_kernels_and_other_dtypes_stay_on_numpy():
    with skrnn.config_context(fast_path=True):
        for name in CELLS:
            fast = _fast.kernels_for(make_cell(name), np.float64)
            assert fast.__name__ == f"skrnn._fast._scan_{name}"
        assert _fast.kernels_for(make_cell("lstm"), np.float16) is None
        assert _fast.kernels_for(make_cell("statal"), np.float32) is not None
    with skrnn.config_context(fast_path=False):
        assert _fast.kernels_for(make_cell("gru"), np.float64) is None
        assert _fast.kernels_for(make_cell("statal"), np.float64) is None


def test_every_kernel_caches_its_compiled_code():
    from numba.core.registry import CPUDispatcher

    kernels = {
        name: k
        for module in (_kernels, _kernels_statal)
        for name, k in vars(module).items()
        if isinstance(k, CPUDispatcher) and k.__module__ == module.__name__
    }
    loops = {
        f"{c}_{w}" for c in ("lstm", "gru", "statal") for w in ("forward", "predict")
    }
    loops |= {f"{c}_backward" for c in ("rnn", "lstm", "gru", "statal")}
    loops |= {"rnn_forward"}
    assert loops < set(kernels)
    for kernel in kernels.values():
        assert type(kernel._cache).__name__ == "FunctionCache", kernel


def test_statal_kernels_are_keyed_by_the_helpers_they_inline():
    # numba's cache sees only _kernels_statal.py: its digest of _kernels.py
    # must follow every change there (update KERNELS_SHA256 to the new value)
    source = pathlib.Path(_kernels.__file__).read_bytes()
    assert _kernels_statal.KERNELS_SHA256 == hashlib.sha256(source).hexdigest()


def test_kernels_are_keyed_by_the_primitives_they_inline():
    # numba's cache sees only _kernels.py: its digest of _primitives.py must
    # follow every change there (update PRIMITIVES_SHA256, then the digests of
    # _kernels.py in _kernels_statal.py and _wavenet_kernels.py)
    source = pathlib.Path(_primitives.__file__).read_bytes()
    assert _kernels.PRIMITIVES_SHA256 == hashlib.sha256(source).hexdigest()


def _ragged_data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.standard_normal((rng.randint(3, 12), 2)) for _ in range(n)]
    y = np.array([x[:, 0].sum() - x[-1, 1] for x in X])
    return X, y


def _fit(cell, fast, **extra):
    X, y = _ragged_data()
    model = skrnn.RNNRegressor(
        cell,
        hidden_layer_sizes=(6, 5),
        bidirectional=True,
        recurrent_dropout=0.2,
        dropout=0.1,
        max_iter=4,
        batch_size=20,
        random_state=0,
        **extra,
    )
    with skrnn.config_context(fast_path=fast):
        model.fit(X, y)
        return model, model.predict(X)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "statal"])
def test_estimator_fit_on_the_fast_path_equals_the_numpy_fit(monkeypatch, cell):
    calls = []
    real = _fast.forward_shards

    def spy(*args):
        calls.append(args[0].__name__)
        return real(*args)

    monkeypatch.setattr(scan, "forward_shards", spy)
    ref, ref_pred = _fit(cell, False)
    assert calls == []
    fast, fast_pred = _fit(cell, True)
    assert calls and set(calls) == {f"skrnn._fast._scan_{cell}"}
    for name, value in ref.state_dict_.items():
        assert_allclose(fast.state_dict_[name], value, rtol=1e-10, atol=1e-10)
    assert_allclose(fast_pred, ref_pred, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell", ["lstm", "statal"])
def test_fast_fit_is_bit_identical_across_refits_and_thread_counts(monkeypatch, cell):
    monkeypatch.setattr(_parallel, "MIN_SHARD_ROWS", 4)  # batches of 20: 2 shards
    assert len(_fast.fast_shards(20, 1)) == 2
    results = []
    for threads in (2, 1, 2):
        _parallel.set_max_threads(threads)
        try:
            results.append(_fit(cell, True))
        finally:
            _parallel.set_max_threads(None)
    (first, first_pred), *others = results
    for model, pred in others:
        assert model.loss_curve_ == first.loss_curve_
        for name, value in first.state_dict_.items():
            assert_array_equal(model.state_dict_[name], value)
        assert_array_equal(pred, first_pred)


@pytest.mark.parametrize("cell", ["gru", "statal"])
def test_float32_fit_on_the_fast_path_stays_float32_and_near_numpy(cell):
    X, y = _ragged_data(seed=1)
    X = [x.astype(np.float32) for x in X]
    preds = []
    for fast in (True, False):
        with skrnn.config_context(fast_path=fast):
            model = skrnn.RNNRegressor(
                cell, hidden_layer_sizes=(6,), max_iter=2, random_state=0
            ).fit(X, y)
            assert model.state_dict_["weight_hh_l0"].dtype == np.float32
            preds.append(model.predict(X))
    assert preds[0].dtype == np.float32
    assert_allclose(preds[0], preds[1], rtol=1e-5, atol=1e-5)


def test_statal_stream_on_the_fast_path_equals_the_numpy_stream():
    # prediction with carried states, chunk after chunk, with 2 shards
    X = np.random.RandomState(2).standard_normal((20, 12, 2))
    y = X[:, :, 0].cumsum(axis=1)
    outputs = []
    for fast in (True, False):
        with skrnn.config_context(fast_path=fast):
            model = skrnn.RNNRegressor(
                "statal",
                hidden_layer_sizes=(4,),
                n_states=2,
                return_sequences=True,
                max_iter=2,
                random_state=0,
            ).fit(X, y)
            stream = model.stream()
            parts = [stream.predict(X[:, a:b]) for a, b in ((0, 5), (5, 6), (6, 12))]
            outputs.append(np.concatenate(parts, axis=1))
            assert_allclose(outputs[-1], model.predict(X), rtol=1e-12, atol=1e-12)
    assert_allclose(outputs[0], outputs[1], rtol=1e-10, atol=1e-10)


@njit(error_model="numpy")
def _tanh_kernel(x, out):
    for i in range(x.size):
        out[i] = _kernels.tanh(x[i])


def test_kernel_tanh_float32_accuracy():
    # every 31st float32 from 2^-30 to 12 (past the clamp), both signs
    lo, hi = np.float32(2**-30).view(np.int32), np.float32(12).view(np.int32)
    x = np.arange(lo, hi, 31, dtype=np.int32).view(np.float32)
    x = np.concatenate([x, -x, np.array([0.0, np.inf, -np.inf], np.float32)])
    out = np.empty_like(x)
    _tanh_kernel(x, out)
    ref = np.tanh(x.astype(np.float64))
    err = np.abs(out.astype(np.float64) - ref)
    assert err.max() <= 3.5e-7
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert (err / ulp).max() <= 6
    assert np.all(np.abs(out) <= 1)
    _tanh_kernel(np.array([np.nan], np.float32), out[:1])
    assert np.isnan(out[0])


def test_kernel_tanh_float64_accuracy():
    # every 97th float32 from 2^-30 to 25 (past the clamp) and a neighbour of
    # each, both signs, against the 80-bit tanh
    lo, hi = np.float32(2**-30).view(np.int32), np.float32(25).view(np.int32)
    x = np.arange(lo, hi, 97, dtype=np.int32).view(np.float32).astype(np.float64)
    x = np.concatenate([x, x * (1 + 2**-30), [0.0, np.inf]])
    x = np.concatenate([x, -x])
    out = np.empty_like(x)
    _tanh_kernel(x, out)
    ref = np.tanh(x.astype(np.longdouble))
    ulp = np.spacing(np.abs(ref).astype(np.float64)).astype(np.longdouble)
    assert float((np.abs(out - ref) / ulp).max()) <= 2.6
    assert_array_equal(out[np.abs(x) > 22], np.sign(x[np.abs(x) > 22]))
    _tanh_kernel(np.array([np.nan]), out[:1])
    assert np.isnan(out[0])
