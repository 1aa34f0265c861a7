"""Tests for skrnn.persistence (npz + JSON, no pickle) and pickle / joblib / skops."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from _model_files import (
    KINDS,
    SMALL,
    allow_listed,
    assert_models_equal,
    assert_same,
    data,
    fit_kind,
    meta_of,
    outputs,
    read_entries,
)
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._network import Architecture, init_params, param_shapes
from skrnn._optim import AdamOptimizer
from skrnn._persistence_training import OPTIMIZER_SCRATCH, OPTIMIZERS, TRAIN_FIELDS
from skrnn.persistence import load, save, skops_trusted_types
from skrnn.preprocessing import SequenceScaler, make_windows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_predicts_identically(kind, dtype, tmp_path):
    est, X = fit_kind(kind, dtype)
    path = save(est, tmp_path / "model.npz")
    loaded = load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert all(w.dtype == dtype for w in loaded.state_dict_.values())
    for name, w in est.state_dict_.items():
        assert_array_equal(loaded.state_dict_[name], w)
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_iter_ == est.n_iter_
    assert_same(outputs(loaded, X), outputs(est, X))


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
    X, y = data()
    est = RNNClassifier(**SMALL).fit(X, make_labels(y))
    loaded = load(save(est, tmp_path / "clf.npz"))
    assert_same(loaded.classes_, est.classes_)
    assert_same(loaded.predict(X), est.predict(X))
    assert set(loaded.predict(X)) <= set(est.classes_)


def test_dataframe_feature_names_survive(tmp_path):
    X, y = data(n=20, T=5, F=1)
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(5)])
    est = RNNRegressor(**SMALL).fit(frame, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded.feature_names_in_.tolist() == est.feature_names_in_.tolist()
    assert_same(loaded.predict(frame), est.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"t0": "other"}))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_training_continues_exactly_after_load(solver, tmp_path):
    X, y = data()
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
    est, X = fit_kind(kind, np.float32)
    args = _refit_data(kind, est, X)
    est.set_params(solver=solver, dropout=0.1, warm_start=True).fit(*args)
    est.partial_fit(*args)  # sets partial_fit's divergence limit, which is kept
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded._train_state.divergence_limit == est._train_state.divergence_limit
    for _ in range(3):  # optimizer moments, learning rate and random draws go on
        est.partial_fit(*args)
        loaded.partial_fit(*args)
    assert_models_equal(loaded, est)
    assert_same(outputs(loaded, X), outputs(est, X))


@pytest.mark.parametrize("cell", ["gru", "wavenet"])
def test_forecast_and_stream_after_load(cell, tmp_path):
    series = np.sin(np.arange(120) * 0.3)
    X, y = make_windows(series, window=10)
    params = dict(SMALL, cell=cell, hidden_layer_sizes=(4, 4), bidirectional=False)
    est = RNNRegressor(**params).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert_same(loaded.forecast(X[-2:], n_steps=6), est.forecast(X[-2:], n_steps=6))
    stream, fresh = est.stream(), loaded.stream()
    for chunk in (X[:3, :4], X[:3, 4:]):
        assert_same(fresh.predict(chunk), stream.predict(chunk))


def test_shared_random_state_instance_stays_shared(tmp_path):
    X, y = data()
    est = RNNRegressor(**dict(SMALL, random_state=np.random.RandomState(7))).fit(X, y)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert loaded._random_state is loaded.random_state
    assert loaded.random_state.randint(10**9) == est.random_state.randint(10**9)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_restores_every_stored_attribute(kind, tmp_path):
    est, _ = fit_kind(kind, np.float32)
    assert_models_equal(load(save(est, tmp_path / "m.npz")), est)


def _configurations():
    X, y = data()
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
    for est, fit_args in _configurations():
        est.fit(*fit_args)
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
        assert_same(outputs(loaded, fit_args[0]), outputs(est, fit_args[0]))


def test_attributes_set_by_hand_are_not_stored(tmp_path):
    est, _ = fit_kind("regressor", np.float64)
    est.note_ = "mine"
    est._cache = np.ones(3)
    loaded = load(save(est, tmp_path / "m.npz"))
    assert not hasattr(loaded, "note_") and not hasattr(loaded, "_cache")


def test_file_holds_weights_and_optimizer_moments_only(tmp_path):
    X, y = data()
    est = RNNRegressor(  # one fit: no mean fold scores beside the curves
        hidden_layer_sizes=(16,), max_iter=3, random_state=0, early_stopping=False
    ).fit(X, y)
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
    X, y = data(n=8, T=3, F=1)
    est = RNNClassifier(
        hidden_layer_sizes=sizes,
        class_weight=class_weight,
        random_state=seed,
        clip_norm=clip_norm,
        max_iter=1,
    ).fit(X, (y > 0).astype(int))
    loaded = load(save(est, tmp_path_factory.mktemp("p") / "m.npz"))
    assert_models_equal(loaded, est)
    assert_same(outputs(loaded, X), outputs(est, X))


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


# ------------------------------------------------------- pickle, joblib, skops
@pytest.mark.parametrize("kind", KINDS)
def test_pickle_and_joblib_round_trips_are_exact(kind, tmp_path):
    est, X = fit_kind(kind, np.float32)
    via_pickle = pickle.loads(pickle.dumps(est))
    joblib.dump(est, tmp_path / "m.joblib")
    via_joblib = joblib.load(tmp_path / "m.joblib")
    for copy in (via_pickle, via_joblib):
        assert_same(outputs(copy, X), outputs(est, X))
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
    est, X = fit_kind(kind, np.float64)
    if solver != "adam":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.set_params(solver=solver).fit(*_refit_data(kind, est, X))
    path = tmp_path / "m.skops"
    sio.dump(est, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(skops_trusted_types())
    loaded = sio.load(path, trusted=skops_trusted_types())
    assert_same(outputs(loaded, X), outputs(est, X))


def test_skops_loads_a_pipeline_of_skrnn_transformers(tmp_path, sio):
    X, y = data()
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
    _, y = data()
    if kind in ("classifier", "wavenet"):
        return X, est.classes_[(y > 0).astype(int)]
    return X, y
