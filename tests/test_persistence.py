"""Tests for skrnn.persistence (npz + JSON, no pickle) and pickle / joblib / skops."""

import io
import json
import pickle
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn.persistence import FORMAT_VERSION, load, save, skops_trusted_types
from skrnn.preprocessing import SequenceScaler, make_windows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(5,), max_iter=4, random_state=0)


def _data(dtype=np.float64, n=24, T=6, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F)).astype(dtype)
    return X, X[:, :, 0].sum(axis=1)


def _ragged(dtype=np.float64, seed=1):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(n, 2)).astype(dtype) for n in rng.randint(2, 8, 15)]


def _fit(kind, dtype):
    """A fitted model of each kind, plus inputs to predict on."""
    X, y = _data(dtype)
    if kind == "regressor":
        return RNNRegressor(cell="gru", **SMALL).fit(X, y), X
    if kind == "regressor_seq":
        seqs = _ragged(dtype)
        targets = [s.sum(axis=1) for s in seqs]
        est = RNNRegressor(return_sequences=True, **SMALL).fit(seqs, targets)
        return est, seqs
    if kind == "classifier":
        labels = np.array(["low", "mid", "high"])[np.digitize(y, [-1, 1])]
        return RNNClassifier(cell="rnn", bidirectional=True, **SMALL).fit(X, labels), X
    if kind == "seq2seq":
        return Seq2SeqTransformer(n_components=3, cell="statal", **SMALL).fit(X), X
    if kind == "wavenet":
        est = RNNClassifier(**dict(SMALL, cell="wavenet", hidden_layer_sizes=(3, 3)))
        return est.fit(X, y > 0), X
    raise ValueError(kind)


def _outputs(est, X):
    """Every prediction-like output of a fitted model."""
    if isinstance(est, Seq2SeqTransformer):
        Z = est.transform(X)
        return [Z, est.predict(X), est.inverse_transform(Z)]
    out = [est.predict(X)]
    if isinstance(est, RNNClassifier):
        out.append(est.predict_proba(X))
    return out


def _assert_same(a, b):
    """Exact equality of (nested) outputs, including dtypes."""
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_same(u, v)
        return
    assert a.dtype == b.dtype
    assert_array_equal(a, b)


KINDS = ["regressor", "regressor_seq", "classifier", "seq2seq", "wavenet"]


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_predicts_identically(kind, dtype, tmp_path):
    est, X = _fit(kind, dtype)
    path = save(est, tmp_path / "model.npz")
    loaded = load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert all(w.dtype == dtype for w in loaded.state_dict_.values())
    for name, w in est.state_dict_.items():
        assert_array_equal(loaded.state_dict_[name], w)
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_iter_ == est.n_iter_
    _assert_same(_outputs(loaded, X), _outputs(est, X))


@pytest.mark.parametrize(
    "make_labels",
    [
        lambda y: np.where(y > 0, "positive", "negative").astype(object),
        lambda y: pd.Series(np.where(y > 0, "yes", "no"), dtype="string"),
        lambda y: pd.Series(np.where(y > 0, "yes", "no"), dtype="category"),
        lambda y: np.digitize(y, [-1, 1]).astype(np.int16) * 10,
    ],
    ids=["object", "pd-string", "pd-category", "int16"],
)
def test_labels_keep_their_values_and_dtype(make_labels, tmp_path):
    X, y = _data()
    est = RNNClassifier(**SMALL).fit(X, make_labels(y))
    loaded = load(save(est, tmp_path / "clf.npz"))
    _assert_same(loaded.classes_, est.classes_)
    _assert_same(loaded.predict(X), est.predict(X))
    assert set(loaded.predict(X)) <= set(est.classes_)


def test_dataframe_feature_names_survive(tmp_path):
    X, y = _data(n=20, T=5, F=1)
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(5)])
    est = RNNRegressor(**SMALL).fit(frame, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded.feature_names_in_.tolist() == est.feature_names_in_.tolist()
    _assert_same(loaded.predict(frame), est.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"t0": "other"}))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_training_continues_exactly_after_load(solver, tmp_path):
    X, y = _data()
    params = dict(SMALL, solver=solver, dropout=0.2, random_state=3)
    est = RNNRegressor(**params).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)  # same optimizer moments, same random draws
    _assert_same(loaded.predict(X), est.predict(X))
    est.set_params(warm_start=True).fit(X, y)
    loaded.set_params(warm_start=True).fit(X, y)
    _assert_same(loaded.predict(X), est.predict(X))
    assert loaded.loss_curve_ == est.loss_curve_


@pytest.mark.parametrize("cell", ["gru", "wavenet"])
def test_forecast_and_stream_after_load(cell, tmp_path):
    series = np.sin(np.arange(120) * 0.3)
    X, y = make_windows(series, window=10)
    est = RNNRegressor(**dict(SMALL, cell=cell, hidden_layer_sizes=(4, 4))).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    _assert_same(loaded.forecast(X[-2:], n_steps=6), est.forecast(X[-2:], n_steps=6))
    stream, fresh = est.stream(), loaded.stream()
    for chunk in (X[:3, :4], X[:3, 4:]):
        _assert_same(fresh.predict(chunk), stream.predict(chunk))


def test_shared_random_state_instance_stays_shared(tmp_path):
    X, y = _data()
    est = RNNRegressor(**dict(SMALL, random_state=np.random.RandomState(7))).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded._random_state is loaded.random_state
    assert loaded.random_state.randint(10**9) == est.random_state.randint(10**9)


def _json_eq(a, b):
    """Equality for the nested values of the attribute round trip (NaN == NaN)."""
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and (a == b).all()
        )
    if isinstance(a, float) and np.isnan(a):
        return type(b) is type(a) and np.isnan(b)
    if isinstance(a, (list, tuple)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_json_eq(u, v) for u, v in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(_json_eq(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | st.floats(width=32).map(np.float32)
    | st.integers(0, 255).map(np.uint8)
)
_arrays = st.lists(st.floats(width=32, allow_nan=False), max_size=4).map(
    lambda v: np.asarray(v, dtype=np.float32)
) | st.lists(st.text(max_size=3), min_size=1, max_size=3).map(
    lambda v: np.asarray(v, dtype=object)
)
_values = st.recursive(
    _scalars | _arrays,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8) | st.integers(-3, 3), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(value=_values)
def test_any_plain_attribute_round_trips(value, tmp_path_factory):
    # new fitted attributes are stored without registering them anywhere
    path = tmp_path_factory.mktemp("attr") / "m.npz"
    X, y = _data(n=6, T=3, F=1)
    est = RNNRegressor(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    est.fit(X, y)
    est.extra_ = value
    assert _json_eq(value, load(save(est, path)).extra_)


# ------------------------------------------------------------ errors on save
def test_save_refuses_unfitted_and_foreign_objects(tmp_path):
    with pytest.raises(NotFittedError):
        save(RNNRegressor(), tmp_path / "m.npz")
    X, y = _data()
    pipe = make_pipeline(SequenceScaler(), RNNRegressor(**SMALL)).fit(X, y)
    with pytest.raises(TypeError, match="joblib.dump"):
        save(pipe, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="os.PathLike"):
        save(pipe[-1], io.BytesIO())


def test_failed_save_leaves_nothing_behind(tmp_path):
    est, _ = _fit("regressor", np.float64)
    est.strange_ = object()
    with pytest.raises(TypeError, match="strange_ of type object"):
        save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------- tampered / unknown files
def _rewrite(path, meta=None, arrays=None):
    """Copy of a saved file with its JSON and/or some array entries replaced."""
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    if meta is not None:
        entries["skrnn.json"] = json.dumps(meta).encode()
    entries.update(arrays or {})
    out = path.with_name("tampered.npz")
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out


@pytest.fixture
def saved(tmp_path):
    est, _ = _fit("classifier", np.float64)
    path = save(est, tmp_path / "model.npz")
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("skrnn.json"))
    return path, meta


def _npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _weight_entry(meta, name):
    return meta["attributes"]["state_dict_"][name]["__ndarray__"]


def test_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"definitely not a zip archive")
    with pytest.raises(ValueError, match="not a valid skrnn model file: not a zip"):
        load(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(ValueError, match="no skrnn.json entry"):
        load(plain)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_pickled_payload_is_never_executed(saved):
    path, meta = saved

    class Payload:
        def __reduce__(self):
            return exec, ("import sys; sys.skrnn_pwned = True",)

    evil = np.array([Payload()], dtype=object)
    entry = _weight_entry(meta, "head.weight")
    with pytest.raises(ValueError, match="cannot be read"):
        load(_rewrite(path, arrays={entry: _npy(evil, allow_pickle=True)}))
    assert not hasattr(sys, "skrnn_pwned")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update({"class": "Pipeline"}), "unknown estimator class"),
        (lambda m: m.update({"format": "pickle"}), "does not describe"),
        (lambda m: m.update({"format_version": FORMAT_VERSION + 1}), "upgrade"),
        (lambda m: m["params"].update({"shell": "rm"}), "unknown parameters"),
        (lambda m: m["params"].update({"cell": "transformer"}), "invalid param"),
        (lambda m: m["attributes"].update({"predict": 1}), "not allowed"),
        (lambda m: m["attributes"].update({"__class__": 1}), "not allowed"),
        (lambda m: m["attributes"].update({"n_outputs_": 7}), "architecture"),
        (lambda m: m["attributes"].update({"x_": {"__object__": {}}}), "object type"),
        (lambda m: m["attributes"].pop("state_dict_"), "state_dict_"),
        (lambda m: m["attributes"].pop("_label_binarizer"), "inconsistent"),
        (
            lambda m: m["attributes"]["state_dict_"].pop("head.bias"),
            "architecture",
        ),
    ],
)
def test_tampered_metadata_raises(saved, edit, message):
    path, meta = saved
    edit(meta)
    with pytest.raises(ValueError, match=message):
        load(_rewrite(path, meta=meta))


def test_tampered_weights_raise(saved):
    path, meta = saved
    entry = _weight_entry(meta, "head.weight")
    with pytest.raises(ValueError, match="architecture"):
        load(_rewrite(path, arrays={entry: _npy(np.ones((2, 2)))}))
    shape = load(path).state_dict_["head.weight"].shape
    with pytest.raises(ValueError, match="NaN or infinity"):
        load(_rewrite(path, arrays={entry: _npy(np.full(shape, np.nan))}))
    with pytest.raises(ValueError, match="float32 or all float64"):
        load(_rewrite(path, arrays={entry: _npy(np.ones(shape, np.int64))}))
    meta["attributes"]["state_dict_"]["head.weight"]["__ndarray__"] = "nope.npy"
    with pytest.raises(ValueError, match="'nope.npy' for state_dict_.* is missing"):
        load(_rewrite(path, meta=meta))


def test_other_skrnn_version_warns(saved):
    path, meta = saved
    meta["skrnn_version"] = "0.0.1"
    with pytest.warns(UserWarning, match="saved with skrnn 0.0.1"):
        load(_rewrite(path, meta=meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path)


# ------------------------------------------------------- pickle, joblib, skops
@pytest.mark.parametrize("kind", KINDS)
def test_pickle_and_joblib_round_trips_are_exact(kind, tmp_path):
    est, X = _fit(kind, np.float32)
    via_pickle = pickle.loads(pickle.dumps(est))
    joblib.dump(est, tmp_path / "m.joblib")
    via_joblib = joblib.load(tmp_path / "m.joblib")
    for copy in (via_pickle, via_joblib):
        _assert_same(_outputs(copy, X), _outputs(est, X))
        for name, w in est.state_dict_.items():
            assert copy.state_dict_[name].dtype == w.dtype
            assert_array_equal(copy.state_dict_[name], w)


@pytest.fixture(scope="module")
def sio():
    import skops.io  # slow to import (it scans scikit-learn); only these tests pay

    return skops.io


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", KINDS)
def test_skops_with_trusted_types(kind, solver, tmp_path, sio):
    est, X = _fit(kind, np.float64)
    if solver != "adam":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.set_params(solver=solver).fit(*_refit_data(kind, est, X))
    path = tmp_path / "m.skops"
    sio.dump(est, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(skops_trusted_types())
    loaded = sio.load(path, trusted=skops_trusted_types())
    _assert_same(_outputs(loaded, X), _outputs(est, X))


def test_skops_loads_a_pipeline_of_skrnn_transformers(tmp_path, sio):
    X, y = _data()
    pipe = make_pipeline(
        SequenceScaler(),
        RNNRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
    )
    pipe.fit(X, y)
    path = tmp_path / "p.skops"
    sio.dump(pipe, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(skops_trusted_types())
    loaded = sio.load(path, trusted=skops_trusted_types())
    assert_array_equal(loaded.predict(X), pipe.predict(X))


def _refit_data(kind, est, X):
    if kind == "seq2seq":
        return (X,)
    if kind == "regressor_seq":
        return X, [s.sum(axis=1) for s in X]
    _, y = _data()
    if kind in ("classifier", "wavenet"):
        return X, est.classes_[(y > 0).astype(int)]
    return X, y
