"""Estimator-level behaviour of RNNRegressor, RNNClassifier and Seq2SeqTransformer."""

import copy
import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from _estimator_cases import (
    ESTIMATORS,
    NO_SKIP,
    SMALL,
    _array,
    _assert_same,
    _fit_args,
    _outputs,
    _ragged,
    _targets,
    _weights_equal,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    TimeSeriesSplit,
    cross_val_score,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn.preprocessing import SequenceScaler, make_windows

# Most fits here stop at a tiny max_iter on purpose: behaviour, not learning.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# ------------------------------------------------------------ scikit-learn tools


@pytest.mark.parametrize("layout", ["table", "array"])
def test_pipeline_with_sequence_scaler_equals_scaling_by_hand(layout):
    X = _array(F=2) * 50.0 + 300.0
    X = X[:, :, 0] if layout == "table" else X
    y = _targets(RNNRegressor, X)
    pipe = make_pipeline(SequenceScaler(), RNNRegressor(**SMALL)).fit(X, y)
    scaler = SequenceScaler().fit(X)
    Xs = scaler.transform(X)
    assert np.abs(Xs.mean()) < 1e-8  # the pipeline really sees scaled data
    by_hand = RNNRegressor(**SMALL).fit(Xs, y)
    assert_array_equal(pipe.predict(X), by_hand.predict(scaler.transform(X)))
    assert pipe[-1].n_features_in_ == X.shape[1 if layout == "table" else 2]


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
@pytest.mark.parametrize("layout", ["array", "list"])
def test_grid_search_over_cells_and_sizes(Estimator, layout):
    X = _array(n=30) if layout == "array" else _ragged(n=30)
    y = _targets(Estimator, X)
    grid = {"cell": ["rnn", "gru"], "hidden_layer_sizes": [(2,), (3,)]}
    # the regressor's network alone: on these targets, linear in the inputs,
    # its default linear skip is the answer and every candidate would tie
    small = {**SMALL, **(NO_SKIP if Estimator is RNNRegressor else {})}
    search = GridSearchCV(Estimator(**small), grid, cv=3, n_jobs=2).fit(X, y)
    # each candidate's score is the one a serial cross-validation gives, and the
    # candidates are not all one model (the grid reaches the estimator)
    manual = [
        cross_val_score(Estimator(**small).set_params(**p), X, y, cv=3).mean()
        for p in search.cv_results_["params"]
    ]
    assert_allclose(search.cv_results_["mean_test_score"], manual, rtol=1e-12)
    assert len(np.unique(manual)) > 1
    assert search.best_params_ == search.cv_results_["params"][np.argmax(manual)]
    pred = search.predict(X)
    assert len(pred) == len(X)
    # the refit saw the whole data set in order: same model as a direct fit
    direct = Estimator(**small).set_params(**search.best_params_).fit(X, y)
    assert_array_equal(pred, direct.predict(X))


def test_cross_val_score_and_train_test_split_on_lists():
    X = _ragged(n=30)
    y = _targets(RNNRegressor, X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    assert isinstance(X_train, list) and len(X_train) + len(X_test) == len(X)
    reg = RNNRegressor(**SMALL).fit(X_train, y_train)
    assert reg.score(X_test, y_test) == pytest.approx(
        r2_score(y_test, reg.predict(X_test)), rel=1e-12
    )
    scores = cross_val_score(RNNRegressor(**SMALL), X, y, cv=KFold(3))
    manual = [
        RNNRegressor(**SMALL)
        .fit([X[i] for i in train], y[train])
        .score([X[i] for i in test], y[test])
        for train, test in KFold(3).split(X)
    ]
    assert_allclose(scores, manual, rtol=1e-12)


def test_cross_validate_time_series_split_on_windows():
    series = np.sin(0.3 * np.arange(120)) + 0.1 * np.arange(120) / 120
    X, y = make_windows(series, window=8)
    split = TimeSeriesSplit(n_splits=3)
    result = cross_validate(
        RNNRegressor(**SMALL), X, y, cv=split, return_estimator=True
    )
    assert len(result["test_score"]) == 3
    for est, (train, test), score in zip(
        result["estimator"], split.split(X), result["test_score"], strict=True
    ):
        assert train.max() < test.min()
        expected = RNNRegressor(**SMALL).fit(X[train], y[train]).score(X[test], y[test])
        assert score == pytest.approx(expected, rel=1e-12)
        assert est.n_features_in_ == 1


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_keeps_parameters_and_drops_fit(Estimator):
    est = Estimator(**SMALL, alpha=0.5).fit(*_fit_args(Estimator, _array()))
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert not hasattr(twin, "state_dict_")


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_serialisation_round_trip_gives_identical_outputs(Estimator, dump):
    X = _ragged()
    est = Estimator(**SMALL).fit(*_fit_args(Estimator, X))
    if dump == "pickle":
        back = pickle.loads(pickle.dumps(est))
    else:
        buffer = io.BytesIO()
        joblib.dump(est, buffer)
        buffer.seek(0)
        back = joblib.load(buffer)
    _assert_same(_outputs(est, X), _outputs(back, X))
    assert _weights_equal(est.state_dict_, back.state_dict_)


# ------------------------------------------------------------------ determinism

SOLVERS = [
    {"solver": "adam", "dropout": 0.3, "recurrent_dropout": 0.3},
    {"solver": "sgd", "dropout": 0.3, "recurrent_dropout": 0.3},
    {"solver": "lbfgs"},
]


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: p["solver"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_same_seed_gives_bit_identical_weights(Estimator, params):
    args = _fit_args(Estimator, _ragged(n=20))
    make = lambda seed: Estimator(  # noqa: E731
        **{**SMALL, **params, "random_state": seed, "shuffle": True, "batch_size": 7}
    )
    a, b = make(0).fit(*args), make(0).fit(*args)
    assert _weights_equal(a.state_dict_, b.state_dict_)
    assert a.loss_curve_ == b.loss_curve_
    assert not _weights_equal(a.state_dict_, make(1).fit(*args).state_dict_)


# ------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["array", "list"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dtype_is_preserved(Estimator, layout, dtype):
    X = _array() if layout == "array" else _ragged()
    X = X.astype(dtype) if layout == "array" else [x.astype(dtype) for x in X]
    est = Estimator(**SMALL).fit(*_fit_args(Estimator, X))
    assert {v.dtype for v in est.state_dict_.values()} == {np.dtype(dtype)}
    outputs = _outputs(est, X)
    if Estimator is RNNClassifier:
        outputs = outputs[1:]  # labels keep the label dtype
    if Estimator is Seq2SeqTransformer:
        outputs.append(est.inverse_transform(est.transform(X)))
    for out in outputs:
        for part in out if isinstance(out, list) else [out]:
            assert part.dtype == dtype


# ------------------------------------------------------- inputs stay untouched


@pytest.mark.parametrize("layout", ["table", "array", "list"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inputs_are_never_modified(Estimator, layout):
    X = {"table": _array(F=1)[:, :, 0], "array": _array(), "list": _ragged()}[layout]
    y = _targets(Estimator, X)
    sw = np.linspace(0.5, 2.0, len(X))
    before = copy.deepcopy((X, y, sw))
    args = (X,) if y is None else (X, y)
    kwargs = {"classes": ["down", "up"]} if Estimator is RNNClassifier else {}
    est = Estimator(**SMALL).fit(*args, sample_weight=sw)
    est.partial_fit(*args, sample_weight=sw, **kwargs)
    _outputs(est, X)
    est.score(*args, sample_weight=sw)
    _assert_same((X, y, sw), before)


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_per_step_targets_are_never_modified(Estimator):
    X = _ragged()
    y = [np.cumsum(x[:, 0]) for x in X]
    if Estimator is RNNClassifier:
        y = [np.where(v > 0, "up", "down") for v in y]
    before = copy.deepcopy((X, y))
    est = Estimator(**SMALL, return_sequences=True).fit(X, y)
    est.predict(X)
    est.score(X, y)
    _assert_same((X, y), before)


# --------------------------------------------------------------- bad input

X_GOOD = _array(n=20)
GOOD = {
    RNNRegressor: (X_GOOD, _targets(RNNRegressor, X_GOOD)),
    RNNClassifier: (X_GOOD, _targets(RNNClassifier, X_GOOD)),
    Seq2SeqTransformer: (X_GOOD,),
}
Y_GOOD = GOOD[RNNRegressor][1]


def _with(value, where=(1, 2, 0)):
    X = X_GOOD.copy()
    X[where] = value
    return X


_OBJECT_3D = np.full((20, 6, 2), "a", dtype=object)
_TEXT_TABLE = np.full((20, 6), "a", dtype=object)
_TEXT_LIST = [np.full((k, 2), "a", dtype=object) for k in range(2, 22)]


def _case(id, Estimator, params, args, match, error=ValueError):
    return pytest.param(Estimator, params, args, error, match, id=id)


R, C, S = RNNRegressor, RNNClassifier, Seq2SeqTransformer
RS = {"return_sequences": True}
FIT_ERRORS = [
    _case("X-1d", R, {}, (np.ones(20), Y_GOOD), "1-D.*Reshape"),
    _case("X-4d", R, {}, (np.ones((20, 6, 2, 1)), Y_GOOD), "4 dimensions"),
    _case(
        "features-differ",
        R,
        {},
        ([np.ones((3, 2)), np.ones((4, 3))], [1.0, 2.0]),
        "same number of features",
    ),
    _case(
        "empty-sequence",
        R,
        {},
        ([np.ones((3, 2)), np.ones((0, 2))], [1.0, 2.0]),
        "sequence 1 of X is empty",
    ),
    _case("empty-list", R, {}, ([], []), "0 samples"),
    _case("empty-array", R, {}, (np.ones((0, 6, 2)), []), "0 samples"),
    _case("nan", R, {}, (_with(np.nan), Y_GOOD), "NaN.*impute"),
    _case("inf", R, {}, (_with(np.inf), Y_GOOD), "infinity"),
    _case("complex", R, {}, (X_GOOD.astype(complex), Y_GOOD), "Complex data"),
    _case("text-3d", R, {}, (_OBJECT_3D, Y_GOOD), "encode"),
    _case("text-list", R, {}, (_TEXT_LIST, Y_GOOD), "encode"),
    _case("text-table", R, {}, (_TEXT_TABLE, Y_GOOD), "encode"),
    _case("y-length", R, {}, (X_GOOD, Y_GOOD[:-1]), "one target per sequence"),
    _case(
        "labels-length",
        C,
        {},
        (X_GOOD, GOOD[C][1][:-1]),
        "one label per sequence",
    ),
    _case("Y-length", S, {}, (X_GOOD, X_GOOD[:-1]), "one target sequence per input"),
    _case("alpha", R, {"alpha": -1.0}, GOOD[R], "alpha"),
    _case("cell", C, {"cell": "transformer"}, GOOD[C], "cell"),
    _case(
        "hidden-0",
        S,
        {"hidden_layer_sizes": (0,)},
        GOOD[S],
        "hidden_layer_sizes must be a positive",
    ),
    _case(
        "bptt-bidirectional",
        R,
        {"bptt_steps": 2, "bidirectional": True},
        GOOD[R],
        "bptt_steps.*bidirectional",
    ),
    _case(
        "lbfgs-dropout",
        C,
        {"solver": "lbfgs", "dropout": 0.2},
        GOOD[C],
        "stochastic solver",
    ),
    _case("one-class", C, {}, (X_GOOD, np.zeros(20)), "at least 2 classes"),
    _case(
        "text-per-step-y",
        R,
        RS,
        (X_GOOD, np.full((20, 6), "a")),
        "RNNClassifier",
    ),
    _case(
        "text-per-step-y-list",
        R,
        RS,
        (list(X_GOOD), [np.array(["a"] * 6)] * 20),
        "RNNClassifier",
    ),
    _case("text-y", R, {}, (X_GOOD, np.full(20, "a")), "RNNClassifier"),
]


@pytest.mark.parametrize("Estimator, params, args, error, match", FIT_ERRORS)
def test_fit_rejects_bad_input_before_any_work(Estimator, params, args, error, match):
    est = Estimator(**SMALL).fit(*GOOD[Estimator])
    before, n_iter = copy.deepcopy(est.state_dict_), est.n_iter_
    est.set_params(**params)
    with pytest.raises(error, match=match):
        est.fit(*args)
    assert _weights_equal(est.state_dict_, before) and est.n_iter_ == n_iter
    fresh = Estimator(**SMALL).set_params(**params)
    with pytest.raises(error, match=match):
        fresh.fit(*args)
    assert not hasattr(fresh, "state_dict_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("layout", ["array", "table"])
def test_feature_count_must_match_between_fit_and_predict(Estimator, layout):
    X = X_GOOD if layout == "array" else X_GOOD[:, :, 0]
    est = Estimator(**SMALL).fit(*_fit_args(Estimator, X))
    if layout == "array":
        bad, match = _array(n=4, F=3), "3 features per time step.*expecting 2"
    else:
        bad, match = X[:4, :4], "4 features.*expecting 6"
    method = est.transform if Estimator is Seq2SeqTransformer else est.predict
    with pytest.raises(ValueError, match=match):
        method(bad)


def test_partial_fit_is_absent_for_lbfgs():
    for Estimator in ESTIMATORS:
        est = Estimator(solver="lbfgs")
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit") as info:
            est.partial_fit(*GOOD[Estimator])
        assert "stochastic solvers" in str(info.value.__cause__)
        assert hasattr(Estimator(solver="sgd"), "partial_fit")


def test_classifier_partial_fit_needs_classes_first():
    clf = RNNClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(*GOOD[RNNClassifier])
    assert not hasattr(clf, "state_dict_")
    clf.partial_fit(*GOOD[RNNClassifier], classes=["down", "up"])
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(*GOOD[RNNClassifier], classes=["down", "up", "flat"])


# -------------------------------------------------------------- output layouts


def test_multi_output_regression():
    X = _array()
    y = np.stack([X.sum(axis=(1, 2)), 100.0 * X[:, -1, 0] + 7.0], axis=1)
    reg = RNNRegressor(**SMALL).fit(X, y)
    assert reg.predict(X).shape == (len(X), 2) and reg.n_outputs_ == 2
    assert_allclose(reg.target_mean_, y.mean(axis=0))
    assert_allclose(reg.target_scale_, y.std(axis=0))
    reg.fit(X, y[:, :1])
    assert reg.predict(X).shape == (len(X), 1)
    reg.fit(X, y[:, 0])
    assert reg.predict(X).shape == (len(X),)


def test_per_step_regression_layouts():
    X = _array()
    y2 = X.cumsum(axis=1)[:, :, 0]
    y3 = X.cumsum(axis=1)
    reg = RNNRegressor(**SMALL, return_sequences=True)
    assert reg.fit(X, y2).predict(X).shape == y2.shape
    assert reg.fit(X, y3).predict(X).shape == y3.shape
    assert reg.n_outputs_ == 2
    seqs = _ragged()
    for targets in (
        [s.cumsum(axis=0)[:, 0] for s in seqs],
        [s.cumsum(0) for s in seqs],
    ):
        pred = reg.fit(seqs, targets).predict(seqs)
        assert isinstance(pred, list)
        assert [p.shape for p in pred] == [t.shape for t in targets]
        # R² over every valid step of every sequence
        flat = r2_score(np.concatenate(targets), np.concatenate(pred))
        assert reg.score(seqs, targets) == pytest.approx(flat, rel=1e-12)


def test_classifier_labels_and_probabilities():
    X = _array(n=30)
    for labels in (
        np.array(["low", "mid", "high"])[np.arange(30) % 3],
        np.array(["no", "yes"])[np.arange(30) % 2],
        np.arange(30) % 4 + 10,
    ):
        clf = RNNClassifier(**SMALL).fit(X, labels)
        assert_array_equal(clf.classes_, np.unique(labels))
        proba = clf.predict_proba(X)
        assert proba.shape == (30, len(clf.classes_))
        assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        pred = clf.predict(X)
        assert pred.dtype == labels.dtype and set(pred) <= set(labels)
        assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])


def test_multilabel_classification():
    X = _array(n=30)
    Y = (np.arange(30)[:, None] % np.array([2, 3, 5]) == 0).astype(int)
    clf = RNNClassifier(**SMALL).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba > 0) & (proba < 1)).all()
    assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))


def test_per_step_classification_array_and_list():
    X = _array(n=20)
    Y = np.where(X.cumsum(axis=1)[:, :, 0] > 0, "pos", "neg")
    clf = RNNClassifier(**SMALL, return_sequences=True).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    proba = clf.predict_proba(X)
    assert proba.shape == (*Y.shape, 2)
    assert_allclose(proba.sum(axis=-1), 1.0, rtol=1e-12)
    seqs = _ragged(n=20)
    labels = [np.array(["a", "b", "c"])[np.arange(len(s)) % 3] for s in seqs]
    clf.fit(seqs, labels)
    pred, proba = clf.predict(seqs), clf.predict_proba(seqs)
    assert [p.shape for p in pred] == [lab.shape for lab in labels]
    assert [p.shape for p in proba] == [(len(lab), 3) for lab in labels]
    for p in proba:
        assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    hits = np.concatenate(pred) == np.concatenate(labels)  # accuracy over all steps
    assert clf.score(seqs, labels) == pytest.approx(hits.mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_per_step_labels_keep_their_dtype(dtype):
    X = _array(n=20)
    Y = (X.cumsum(axis=1)[:, :, 0] > 0).astype(dtype)
    clf = RNNClassifier(**SMALL, return_sequences=True).fit(X, Y)
    assert clf.classes_.dtype == dtype and clf.predict(X).dtype == dtype
    clf.fit(list(X), list(Y))
    assert all(p.dtype == dtype for p in clf.predict(list(X)))


def test_class_weight_balanced_favours_the_minority_class():
    X = _array(n=40)
    y = np.array(["a"] * 32 + ["b"] * 8)
    plain = RNNClassifier(**{**SMALL, "max_iter": 5}).fit(X, y)
    balanced = RNNClassifier(**{**SMALL, "max_iter": 5}, class_weight="balanced")
    balanced.fit(X, y)
    assert not _weights_equal(plain.state_dict_, balanced.state_dict_)
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_per_step_class_weight():
    # constant labels along each sequence: a per-step class weight is the same
    # weight on every step of a sequence, so it equals that sample weight (alpha
    # 0: the L2 term is normalised by the sample weights alone, not step weights)
    X = _array(n=30)
    y = np.array(["a"] * 22 + ["b"] * 8)
    Y = np.repeat(y[:, None], X.shape[1], axis=1)
    params = {**SMALL, "return_sequences": True, "max_iter": 5, "alpha": 0.0}
    weighted = RNNClassifier(**params, class_weight={"a": 1.0, "b": 3.0}).fit(X, Y)
    by_sample = RNNClassifier(**params).fit(
        X, Y, sample_weight=np.where(y == "b", 3, 1)
    )
    for k, w in by_sample.state_dict_.items():
        assert_allclose(weighted.state_dict_[k], w, rtol=1e-12, atol=1e-15)
    # mixed labels within sequences: "balanced" weights each step by its class,
    # which raises the rare class's mean probability over the steps
    Y = np.where(X[:, :, 0] > 0.8, "b", "a")
    plain = RNNClassifier(**params).fit(X, Y)
    balanced = RNNClassifier(**params, class_weight="balanced").fit(X, Y)
    assert (Y == "b").mean() < 0.3
    p_plain = plain.predict_proba(X)[..., 1].mean()
    assert balanced.predict_proba(X)[..., 1].mean() > p_plain


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("layout", ["array", "list"])
def test_predict_log_proba_is_the_log_of_predict_proba(per_step, layout):
    X = _array(n=20) if layout == "array" else _ragged(n=20)
    if per_step:
        y = [np.where(x[:, 0] > 0, "pos", "neg") for x in X]
        y = np.array(y) if layout == "array" else y
    else:
        y = np.array(["low", "mid", "high"])[np.arange(20) % 3]
    clf = RNNClassifier(**SMALL, return_sequences=per_step).fit(X, y)
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert type(log_proba) is type(proba)
    for p, lp in zip(proba, log_proba, strict=True):
        assert lp.shape == p.shape
        assert_allclose(lp, np.log(p), rtol=1e-12)
        assert_allclose(np.exp(lp).sum(axis=-1), 1.0, rtol=1e-12)


def test_zero_sample_weight_on_a_class_shifts_predictions_away_from_it():
    X = _array(n=40)
    y = np.array(["a", "b"] * 20)
    plain = RNNClassifier(**{**SMALL, "max_iter": 5}).fit(X, y)
    weighted = RNNClassifier(**{**SMALL, "max_iter": 5})
    weighted.fit(X, y, sample_weight=np.where(y == "b", 0.0, 1.0))
    p_plain = plain.predict_proba(X)[:, 1].mean()
    assert weighted.predict_proba(X)[:, 1].mean() < p_plain
    assert (weighted.predict(X) == "b").mean() < (plain.predict(X) == "b").mean()


# ------------------------------------------------------------------ Seq2Seq


def test_seq2seq_autoencoder_on_arrays_and_lists():
    X = _array()
    ae = Seq2SeqTransformer(n_components=3, **SMALL).fit(X)
    assert ae.transform(X).shape == (len(X), 3)
    assert ae.predict(X).shape == X.shape
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape
    seqs = _ragged()
    ae.fit(seqs)
    pred = ae.predict(seqs)
    assert isinstance(pred, list)
    assert [p.shape for p in pred] == [s.shape for s in seqs]
    assert ae.transform(seqs).shape == (len(seqs), 3)
    assert ae.n_timesteps_out_ == max(len(s) for s in seqs)


def test_seq2seq_maps_to_targets_of_another_length():
    X = _array(T=6, F=2)
    Y = np.random.RandomState(1).normal(size=(len(X), 4, 3))
    s2s = Seq2SeqTransformer(n_components=3, **SMALL).fit(X, Y)
    assert s2s.n_timesteps_out_ == 4 and s2s.n_outputs_ == 3
    assert s2s.predict(X).shape == Y.shape
    Z = s2s.transform(X)
    assert s2s.inverse_transform(Z).shape == Y.shape
    assert s2s.inverse_transform(Z, n_timesteps=7).shape == (len(X), 7, 3)
    # decoding is causal: a longer output starts with the shorter one
    assert_allclose(s2s.inverse_transform(Z, n_timesteps=7)[:, :4], s2s.predict(X))
    with pytest.raises(ValueError, match="n_timesteps must be a positive int"):
        s2s.inverse_transform(Z, n_timesteps=0)


def test_seq2seq_feature_names_and_pandas_output():
    X = _array()
    s2s = Seq2SeqTransformer(n_components=3, **SMALL).fit(X)
    names = s2s.get_feature_names_out()
    assert_array_equal(names, [f"seq2seqtransformer{i}" for i in range(3)])
    codes = s2s.transform(X)
    s2s.set_output(transform="pandas")
    frame = s2s.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(names)
    assert_array_equal(frame.to_numpy(), codes)


@pytest.mark.parametrize("kind", ["ints", "strings"])
def test_seq2seq_codes_feed_a_logistic_regression(kind):
    # A Pipeline passes the class labels to every step's fit, so the
    # transformer must cope with (string) labels as y.
    X = _ragged(n=40)
    y = _targets(RNNClassifier, X)
    y = (y == "up").astype(int) if kind == "ints" else y
    pipe = make_pipeline(
        Seq2SeqTransformer(n_components=3, **SMALL), LogisticRegression()
    ).fit(X, y)
    assert_array_equal(pipe.classes_, np.unique(y))
    assert pipe.predict_proba(X).shape == (40, 2)
    codes = pipe[0].transform(X)
    assert codes.shape == (40, 3)
    assert_array_equal(pipe.predict(X), pipe[-1].predict(codes))
