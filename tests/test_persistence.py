"""Tests for skrnn.persistence (npz + JSON, no pickle) and pickle / joblib / skops."""

import io
import json
import os
import pickle
import stat
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
from _model_files import (
    allow_listed,
    assert_models_equal,
    assert_same,
    declare,
    meta_of,
    npy,
    read_entries,
    write_entries,
)
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._network import Architecture, init_params, param_shapes
from skrnn._optim import AdamOptimizer
from skrnn._persistence_training import OPTIMIZER_SCRATCH, OPTIMIZERS, TRAIN_FIELDS
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
    assert_same(_outputs(loaded, X), _outputs(est, X))


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
    assert_same(loaded.classes_, est.classes_)
    assert_same(loaded.predict(X), est.predict(X))
    assert set(loaded.predict(X)) <= set(est.classes_)


def test_dataframe_feature_names_survive(tmp_path):
    X, y = _data(n=20, T=5, F=1)
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(5)])
    est = RNNRegressor(**SMALL).fit(frame, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded.feature_names_in_.tolist() == est.feature_names_in_.tolist()
    assert_same(loaded.predict(frame), est.predict(frame))
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
    assert_same(loaded.predict(X), est.predict(X))
    est.set_params(warm_start=True).fit(X, y)
    loaded.set_params(warm_start=True).fit(X, y)
    assert_same(loaded.predict(X), est.predict(X))
    assert loaded.loss_curve_ == est.loss_curve_


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["classifier", "seq2seq", "regressor_seq", "wavenet"])
def test_partial_fit_after_load_continues_as_without_it(kind, solver, tmp_path):
    est, X = _fit(kind, np.float32)
    data = _refit_data(kind, est, X)
    est.set_params(solver=solver, dropout=0.1, warm_start=True).fit(*data)
    loaded = load(save(est, tmp_path / "m.npz"))
    for _ in range(3):  # optimizer moments, learning rate and random draws go on
        est.partial_fit(*data)
        loaded.partial_fit(*data)
    assert_models_equal(loaded, est)
    assert_same(_outputs(loaded, X), _outputs(est, X))


@pytest.mark.parametrize("cell", ["gru", "wavenet"])
def test_forecast_and_stream_after_load(cell, tmp_path):
    series = np.sin(np.arange(120) * 0.3)
    X, y = make_windows(series, window=10)
    est = RNNRegressor(**dict(SMALL, cell=cell, hidden_layer_sizes=(4, 4))).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert_same(loaded.forecast(X[-2:], n_steps=6), est.forecast(X[-2:], n_steps=6))
    stream, fresh = est.stream(), loaded.stream()
    for chunk in (X[:3, :4], X[:3, 4:]):
        assert_same(fresh.predict(chunk), stream.predict(chunk))


def test_shared_random_state_instance_stays_shared(tmp_path):
    X, y = _data()
    est = RNNRegressor(**dict(SMALL, random_state=np.random.RandomState(7))).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded._random_state is loaded.random_state
    assert loaded.random_state.randint(10**9) == est.random_state.randint(10**9)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_restores_every_stored_attribute(kind, tmp_path):
    est, _ = _fit(kind, np.float32)
    assert_models_equal(load(save(est, tmp_path / "m.npz")), est)


def _configurations():
    X, y = _data()
    labels = np.array(["a", "b", "c"])[np.digitize(y, [-1, 1])]
    table = pd.DataFrame(X[:, :, 0], columns=[f"c{i}" for i in range(6)])
    multilabel = np.stack([y > 0, y > 1], axis=1).astype(int)
    yield RNNRegressor(**dict(SMALL, early_stopping=True)), (X, y)
    yield RNNRegressor(**dict(SMALL, solver="lbfgs")), (table, np.stack([y, y], 1))
    yield RNNRegressor(**dict(SMALL, solver="sgd", cell="wavenet")), (X, y)
    yield RNNClassifier(**dict(SMALL, solver="sgd", early_stopping=True)), (X, labels)
    yield RNNClassifier(**dict(SMALL, cell="statal", n_states=2)), (X, multilabel)
    yield Seq2SeqTransformer(**dict(SMALL, n_components=2)), (X, X[:, ::-1, :1])
    yield Seq2SeqTransformer(**dict(SMALL, cell="wavenet", n_components=2)), (table,)


def test_every_fitted_attribute_is_on_the_allow_list(tmp_path):
    # A new fitted attribute must be added to the allow-list of
    # skrnn._persistence_schema (or of _persistence_training) to be stored.
    for est, data in _configurations():
        est.fit(*data)
        params = est.get_params(deep=False)
        fitted = set(vars(est)) - set(params)
        assert fitted <= set(allow_listed(est)), type(est).__name__
        assert set(vars(est._train_state)) == set(TRAIN_FIELDS)
        opt = est._train_state.optimizer
        if opt is not None:
            kind = "adam" if isinstance(opt, AdamOptimizer) else "sgd"
            _, args, state, slots = OPTIMIZERS[kind]
            assert set(vars(opt)) <= {*args, *state, *slots, *OPTIMIZER_SCRATCH}
        loaded = load(save(est, tmp_path / "m.npz"))
        assert_models_equal(loaded, est)
        assert_same(_outputs(loaded, data[0]), _outputs(est, data[0]))


def test_attributes_set_by_hand_are_not_stored(tmp_path):
    est, _ = _fit("regressor", np.float64)
    est.note_ = "mine"
    est._cache = np.ones(3)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert not hasattr(loaded, "note_") and not hasattr(loaded, "_cache")


def test_file_holds_weights_and_optimizer_moments_only(tmp_path):
    X, y = _data()
    est = RNNRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
    path = save(est, tmp_path / "m.npz", compress=False)
    meta = meta_of(read_entries(path))
    weights = {f"weights/{k}.npy" for k in est.state_dict_}
    moments = {e.replace("weights/", f"training/{s}/") for e in weights for s in "mv"}
    moments = {e.replace("/m/", "/ms/").replace("/v/", "/vs/") for e in moments}
    curves = {f"fitted/{n}.npy" for n in ("loss_curve_", "grad_norm_curve_")}
    targets = {"fitted/target_mean_.npy", "fitted/target_scale_.npy"}
    scores = {"training/validation_scores.npy"}
    assert set(meta["arrays"]) == weights | moments | curves | targets | scores
    declared = sum(
        np.dtype(v["dtype"]).itemsize * int(np.prod(v["shape"]))
        for v in meta["arrays"].values()
    )
    n_weights = sum(w.nbytes for w in est.state_dict_.values())
    n_curves = len(est.loss_curve_) + len(est.grad_norm_curve_)
    # weights and Adam's two moments, nothing of the optimizer's scratch (was 5x)
    assert declared == 3 * n_weights + 8 * n_curves + 2 * 8


@given(
    sizes=st.one_of(
        st.integers(1, 3),
        st.lists(st.integers(1, 3), min_size=1, max_size=2),
        st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    ),
    class_weight=st.one_of(
        st.none(),
        st.just("balanced"),
        st.fixed_dictionaries({0: st.floats(0.1, 5), 1: st.floats(0.1, 5)}),
    ),
    seed=st.one_of(
        st.none(), st.integers(0, 2**31), st.integers(0, 9).map(np.random.RandomState)
    ),
    clip_norm=st.one_of(st.none(), st.floats(0.1, 1e300)),
)
def test_any_valid_hyperparameters_round_trip(
    sizes, class_weight, seed, clip_norm, tmp_path_factory
):
    X, y = _data(n=8, T=3, F=1)
    est = RNNClassifier(
        hidden_layer_sizes=sizes,
        class_weight=class_weight,
        random_state=seed,
        clip_norm=clip_norm,
        max_iter=1,
    ).fit(X, (y > 0).astype(int))
    loaded = load(save(est, tmp_path_factory.mktemp("p") / "m.npz"))
    assert_models_equal(loaded, est)
    assert_same(_outputs(loaded, X), _outputs(est, X))


def test_param_shapes_are_those_of_init_params():
    for cell in ["rnn", "lstm", "gru", "statal", "wavenet"]:
        for bidirectional in [False, True][: 1 + (cell != "wavenet")]:
            arch = Architecture(
                cell=cell,
                hidden_sizes=(3, 3) if cell == "wavenet" else (3, 4),
                n_inputs=2,
                n_outputs=5,
                bidirectional=bidirectional,
                n_states=2,
            )
            params = init_params(arch, np.random.RandomState(0))
            assert param_shapes(arch) == {k: v.shape for k, v in params.items()}
            assert list(param_shapes(arch)) == list(params)


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


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(cell="lstm"), "architecture needs"),
        (dict(bidirectional=True), "architecture needs it"),
        (dict(cell="wavenet"), "is missing .the architecture needs it"),
        (dict(hidden_layer_sizes=-1), "invalid parameters"),
    ],
)
def test_save_refuses_a_model_its_parameters_no_longer_describe(
    change, message, tmp_path
):
    # e.g. set_params(...) after fit with warm_start=True, before the next fit
    est, _ = _fit("regressor", np.float64)
    est.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match=f"cannot save this RNNRegressor.*{message}"):
        save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_inconsistent_fitted_attributes(tmp_path):
    est, _ = _fit("classifier", np.float64)
    classes = est.classes_
    est.classes_ = classes[:2]
    with pytest.raises(ValueError, match=r"classes_.npy has shape \(2,\); the model"):
        save(est, tmp_path / "m.npz")
    est.classes_ = classes[::-1]
    with pytest.raises(ValueError, match="classes_ .* must be sorted and unique"):
        save(est, tmp_path / "m.npz")
    est.classes_ = np.array(["a", "b", "c"])
    with pytest.raises(ValueError, match="label encoder does not match classes_"):
        save(est, tmp_path / "m.npz")
    est, _ = _fit("regressor", np.float64)
    est.loss_ = 3.0
    with pytest.raises(ValueError, match="loss_ is 3.0"):
        save(est, tmp_path / "m.npz")
    est, _ = _fit("regressor", np.float64)
    est.target_mean_ = np.array([np.nan])
    with pytest.raises(ValueError, match="target_mean_ contains NaN"):
        save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_save_honours_the_umask(umask, tmp_path):
    est, _ = _fit("regressor", np.float64)
    old = os.umask(umask)
    try:
        path = save(est, tmp_path / "m.npz")
        np.save(tmp_path / "ref.npy", np.ones(2))
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "ref.npy").stat().st_mode)


def test_mostly_zero_weights_are_stored_uncompressed(tmp_path):
    # zeros compress ~1000:1, past what load accepts: save stores them as they are
    X, y = _data()
    est = RNNRegressor(cell="rnn", hidden_layer_sizes=(400,), solver="lbfgs")
    est.set_params(max_iter=1, max_fun=2).fit(X[:2, :2], y[:2])
    est.load_state_dict({k: np.zeros_like(v) for k, v in est.state_dict_.items()})
    path = save(est, tmp_path / "m.npz", compress=True)
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert_same(load(path).predict(X), est.predict(X))
    small, _ = _fit("regressor", np.float64)
    with zipfile.ZipFile(save(small, tmp_path / "s.npz")) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


# ------------------------------------------------------- tampered / unknown files
@pytest.fixture
def saved(tmp_path):
    est, _ = _fit("classifier", np.float64)
    path = save(est, tmp_path / "model.npz")
    return path, meta_of(read_entries(path))


def _tampered(path, meta=None, entries=None, drop=()):
    all_entries = read_entries(path)
    all_entries.update(entries or {})
    for name in drop:
        del all_entries[name]
    return write_entries(path.with_name("tampered.npz"), all_entries, meta)


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
    with pytest.raises(IsADirectoryError):
        load(tmp_path)
    with pytest.raises(TypeError, match="os.PathLike"):
        load(io.BytesIO(plain.read_bytes()))


def test_pickled_payload_is_never_executed(saved):
    path, meta = saved

    class Payload:
        def __reduce__(self):
            return exec, ("import sys; sys.skrnn_pwned = True",)

    evil = npy(np.array([Payload()], dtype=object), allow_pickle=True)
    entry = "weights/head.weight.npy"
    with pytest.raises(ValueError, match="head.weight.npy holds"):
        load(_tampered(path, entries={entry: evil}))
    meta["arrays"][entry] = {"dtype": "|O", "shape": [1]}
    with pytest.raises(ValueError, match="dtype '|O'; plain numbers"):
        load(_tampered(path, meta=meta, entries={entry: evil}))
    assert not hasattr(sys, "skrnn_pwned")


def _pop(key):
    return lambda m: m["fitted"].pop(key)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update({"class": "Pipeline"}), "unknown estimator class"),
        (lambda m: m.update({"format": "pickle"}), "does not describe"),
        (lambda m: m.update({"format_version": FORMAT_VERSION + 1}), "upgrade"),
        (lambda m: m.update({"format_version": 1}), "version 1, the layout"),
        (lambda m: m.update({"extra": 1}), "unknown keys"),
        (lambda m: m["params"].update({"shell": "rm"}), "unknown parameters"),
        (lambda m: m["params"].update({"cell": "transformer"}), "invalid param"),
        (lambda m: m["fitted"].update({"predict": 1}), "not ones skrnn stores"),
        (lambda m: m["fitted"].update({"__class__": 1}), "not ones skrnn stores"),
        (lambda m: m["fitted"].update({"n_outputs_": 7}), "architecture needs"),
        (lambda m: m["fitted"].update({"n_outputs_": "3"}), "n_outputs_ must be"),
        (lambda m: m["fitted"].update({"n_iter_": True}), "n_iter_ must be"),
        (_pop("_label_binarizer"), "are missing"),
        (_pop("classes_"), "are missing"),
        (lambda m: m["training"].pop("optimizer"), "training section has keys"),
        (
            lambda m: m["training"]["optimizer"].update({"type": "rmsprop"}),
            "unknown type",
        ),
        (
            lambda m: m["training"]["optimizer"].update({"beta_1": 2}),
            "optimizer's settings are invalid",
        ),
        (
            lambda m: m["training"]["random_state"].update({"pos": 999}),
            "random_state.pos must be",
        ),
        (
            lambda m: m["fitted"].update({"classes_": "weights/head.bias.npy"}),
            "classes_ must name its fixed entry",
        ),
    ],
)
def test_tampered_metadata_raises(saved, edit, message):
    path, meta = saved
    edit(meta)
    with pytest.raises(ValueError, match=message):
        load(_tampered(path, meta=meta))


def test_tampered_weights_raise(saved):
    path, meta = saved
    entry = "weights/head.weight.npy"
    shape = tuple(meta["arrays"][entry]["shape"])
    wrong = np.ones((2, 2))
    with pytest.raises(ValueError, match="head.weight.npy holds"):
        load(_tampered(path, entries={entry: npy(wrong)}))
    bad_meta = json.loads(json.dumps(meta))
    declare(bad_meta, entry, wrong)
    with pytest.raises(ValueError, match=r"has shape \(2, 2\); the model's archit"):
        load(_tampered(path, meta=bad_meta, entries={entry: npy(wrong)}))
    with pytest.raises(ValueError, match="weights contain NaN or infinity"):
        load(_tampered(path, entries={entry: npy(np.full(shape, np.inf))}))
    ints = np.ones(shape, np.int64)
    with pytest.raises(ValueError, match="holds int64"):
        load(_tampered(path, entries={entry: npy(ints)}))
    declare(bad_meta, entry, ints)
    with pytest.raises(ValueError, match=r"dtype int64; expected \['<f8'\]"):
        load(_tampered(path, meta=bad_meta, entries={entry: npy(ints)}))
    with pytest.raises(ValueError, match="head.weight.npy is missing"):
        meta["arrays"].pop(entry)
        load(_tampered(path, meta=meta, drop=[entry]))


def test_other_skrnn_version_warns(saved):
    path, meta = saved
    meta["skrnn_version"] = "0.0.1"
    with pytest.warns(UserWarning, match="saved with skrnn 0.0.1"):
        load(_tampered(path, meta=meta))
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
        assert_same(_outputs(copy, X), _outputs(est, X))
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
    assert_same(_outputs(loaded, X), _outputs(est, X))


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
