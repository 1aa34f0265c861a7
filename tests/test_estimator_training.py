"""Estimator training behaviour: partial_fit, warm_start, early stopping, divergence."""

import copy
import warnings

import numpy as np
import pytest
from _estimator_cases import (
    ESTIMATORS,
    SMALL,
    _array,
    _fit_args,
    _targets,
    _weights_equal,
)
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skrnn import DivergenceError, RNNClassifier, RNNRegressor

# Most fits here stop at a tiny max_iter on purpose: behaviour, not learning.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

REG_DATA = _fit_args(RNNRegressor, _array(n=20))


# ------------------------------------------------------ partial_fit, warm_start


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_partial_fit_equals_fit_with_one_epoch(Estimator):
    args = _fit_args(Estimator, _array())
    kwargs = {"classes": ["down", "up"]} if Estimator is RNNClassifier else {}
    fitted = Estimator(**{**SMALL, "max_iter": 1}).fit(*args)
    partial = Estimator(**SMALL).partial_fit(*args, **kwargs)
    assert _weights_equal(fitted.state_dict_, partial.state_dict_)
    assert partial.n_iter_ == fitted.n_iter_ == 1
    assert partial.loss_curve_ == fitted.loss_curve_


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_calls_accumulate(Estimator):
    X = _array(n=10)
    args = _fit_args(Estimator, X)
    kwargs = {"classes": ["down", "up"]} if Estimator is RNNClassifier else {}
    est = Estimator(**SMALL)
    weights = []
    for _ in range(3):
        est.partial_fit(*args, **kwargs)
        weights.append(copy.deepcopy(est.state_dict_))
    assert est.n_iter_ == 3 and est.t_ == 3 * len(X)
    assert len(est.loss_curve_) == 3
    assert not _weights_equal(weights[1], weights[2])


def test_warm_start_continues_and_cold_start_restarts():
    X = _array(n=40)
    y = _targets(RNNRegressor, X)
    params = {**SMALL, "hidden_layer_sizes": (4,), "max_iter": 10}
    warm = RNNRegressor(**params, warm_start=True, n_iter_no_change=100).fit(X, y)
    first = list(warm.loss_curve_)
    assert first[-1] < first[0]
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 20 and warm.n_iter_ == 20
    assert warm.loss_curve_[:10] == first
    # the second fit starts where the first stopped, not from scratch
    assert abs(warm.loss_curve_[10] - first[-1]) < 0.5 * (first[0] - first[-1])
    cold = RNNRegressor(**params, n_iter_no_change=100).fit(X, y)
    assert cold.loss_curve_ == first
    cold.fit(X, y)
    assert cold.loss_curve_ == first and cold.n_iter_ == 10


# --------------------------------------------------------------- early stopping


def _held_out_rows(est, X, *y):
    """The rows early stopping holds out, found from outside the estimator: a
    held-out row's input does not reach the training loss of the first epoch."""
    probe = clone(est).set_params(max_iter=1)
    base = probe.fit(X, *y).loss_curve_
    held = []
    for i in range(len(X)):
        X_i = X.copy()
        X_i[i] += 1.0
        if clone(probe).fit(X_i, *y).loss_curve_ == base:
            held.append(i)
    return np.array(held)


def _overfitting_data(Estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6, 2))
    noisy = X[:, -1, 0] + rng.normal(size=40)
    if Estimator is RNNRegressor:
        return X, noisy
    if Estimator is RNNClassifier:
        return X, np.where(noisy > 0, "p", "n")
    return X, X.cumsum(axis=1) + rng.normal(size=X.shape)  # Seq2Seq: per step


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_restores_best_weights(Estimator):
    X, y = _overfitting_data(Estimator)
    est = Estimator(
        hidden_layer_sizes=(8,),
        max_iter=30,
        early_stopping=True,
        validation_fraction=0.25,
        learning_rate_init=0.05,
        n_iter_no_change=100,
        random_state=0,
    ).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ == 30
    assert max(scores) == est.best_validation_score_
    assert int(np.argmax(scores)) < est.n_iter_ - 1  # restoring matters here
    val = _held_out_rows(est, X, y)
    assert len(val) == 10  # validation_fraction * 40
    assert est.score(X[val], y[val]) == pytest.approx(est.best_validation_score_)
    assert est.best_loss_ is None


def test_validation_rows_follow_random_state():
    X, y = _fit_args(RNNRegressor, _array(n=20))
    est = RNNRegressor(**SMALL, early_stopping=True, validation_fraction=0.25)
    rows = _held_out_rows(est, X, y)
    assert len(rows) == 5
    assert_array_equal(_held_out_rows(clone(est), X, y), rows)
    other = _held_out_rows(clone(est).set_params(random_state=1), X, y)
    assert len(other) == 5 and not np.array_equal(other, rows)


def test_lbfgs_ignores_early_stopping_and_trains_on_all_data():
    X = _array()
    y = X[:, :, 0].sum(axis=1)
    params = {**SMALL, "solver": "lbfgs"}
    plain = RNNRegressor(**params).fit(X, y)
    early = RNNRegressor(**params, early_stopping=True).fit(X, y)
    assert early.validation_scores_ is None and early.best_validation_score_ is None
    assert early.loss_curve_ == plain.loss_curve_
    assert_array_equal(early.predict(X), plain.predict(X))


# ------------------------------------------------- divergence and convergence


def _exploding(max_iter=20, **params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5, 1)) * 1e3
    y = X.sum(axis=(1, 2)) * 1e6
    reg = RNNRegressor(
        "rnn",
        (4,),
        nonlinearity="relu",
        solver="sgd",
        learning_rate_init=1e4,
        clip_norm=None,
        max_iter=max_iter,
        random_state=0,
    )
    return reg.set_params(**params), X, y


def test_divergence_in_the_first_epoch_leaves_no_fitted_model():
    reg, X, y = _exploding(batch_size=5)
    with pytest.raises(DivergenceError, match="diverged in epoch 1.* unfitted") as err:
        reg.fit(X, y)
    assert (err.value.epoch, err.value.model_kept) == (1, False)
    assert err.value.loss_curve == err.value.grad_norm_curve == []
    with pytest.raises(NotFittedError):
        reg.predict(X)
    assert [k for k in vars(reg) if k.endswith("_")] == []


@pytest.mark.parametrize(
    "early_stopping, kept",
    [(False, "weights of epoch"), (True, "weights with the best")],
)
def test_divergence_keeps_the_weights_of_the_last_completed_epoch(early_stopping, kept):
    reg, X, y = _exploding(early_stopping=early_stopping)
    with pytest.raises(DivergenceError, match=f"clip_norm.*keeps the {kept}") as err:
        reg.fit(X, y)
    epoch = err.value.epoch
    assert epoch >= 2 and err.value.model_kept
    assert len(err.value.loss_curve) == len(err.value.grad_norm_curve) == epoch - 1
    assert reg.n_iter_ == epoch - 1 and reg.loss_curve_ == err.value.loss_curve
    # exactly the model that training for the completed epochs alone gives
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = clone(reg).set_params(max_iter=epoch - 1).fit(X, y)
    for k, w in short.state_dict_.items():
        assert_array_equal(reg.state_dict_[k], w)
    assert np.isfinite(reg.predict(X)).all()


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_divergence_before_an_epoch_completes_keeps_the_previous_model(how):
    reg, X, y = _exploding(max_iter=3, learning_rate_init=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y / 1e9)
    reg.set_params(learning_rate_init=1e4, batch_size=5)

    def snapshot():
        weights = {k: v.copy() for k, v in reg.state_dict_.items()}
        return weights, reg.n_iter_, reg.predict(X)

    before = snapshot()
    with pytest.raises(DivergenceError, match="model it had before") as err:
        if how == "partial_fit":  # the calls before the failing one succeed
            for _ in range(20):
                reg.partial_fit(X, y)
                before = snapshot()
        else:
            reg.set_params(warm_start=True).fit(X, y)
    assert not err.value.model_kept
    weights, n_iter, expected = before
    assert_array_equal(reg.predict(X), expected)
    for k, w in weights.items():
        assert_array_equal(reg.state_dict_[k], w)
    assert reg.n_iter_ == n_iter


@pytest.mark.parametrize(
    "solver, match", [("adam", "Maximum iterations"), ("lbfgs", "failed to converge")]
)
def test_convergence_warning_when_max_iter_is_reached(solver, match):
    reg = RNNRegressor(**{**SMALL, "max_iter": 2}, solver=solver, tol=0.0)
    with pytest.warns(ConvergenceWarning, match=match):
        reg.fit(*REG_DATA)
    assert reg.n_iter_ == 2


def test_verbose_prints_one_line_per_epoch(capsys):
    reg = RNNRegressor(**{**SMALL, "max_iter": 4}, verbose=True, n_iter_no_change=100)
    reg.fit(*REG_DATA)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == reg.n_iter_ == 4
    assert all("loss" in line for line in lines)
    RNNRegressor(**SMALL).fit(*REG_DATA)
    assert capsys.readouterr().out == ""
