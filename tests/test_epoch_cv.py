"""``early_stopping="auto"`` / ``k``: the epoch count chosen on k contiguous folds."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from skrnn import DivergenceError, RNNRegressor, Seq2SeqTransformer, persistence
from skrnn._epoch_cv import (
    AUTO_FOLDS,
    AUTO_MAX_SAMPLES,
    AUTO_MIN_SAMPLES,
    choose_epochs,
    cv_folds,
)
from skrnn._ridge import RIDGE_ALPHAS
from skrnn.datasets import make_adding_problem
from skrnn.preprocessing import make_windows

SMALL = {"hidden_layer_sizes": (4,), "max_iter": 8, "random_state": 0}


def _ar_series(n, seed):
    """An AR(2) series: a ridge on its last lags is the right model."""
    rng = np.random.RandomState(seed)
    s = np.zeros(n)
    for t in range(2, n):
        s[t] = 0.6 * s[t - 1] - 0.3 * s[t - 2] + rng.normal()
    return s


def _windows(n=80, seed=0, window=6):
    X, y = make_windows(_ar_series(n + window, seed), window=window)
    return X.astype(np.float64), y


@pytest.mark.parametrize("n", [AUTO_MIN_SAMPLES, 37, AUTO_MAX_SAMPLES])
def test_auto_folds_are_contiguous_and_cover_every_sample(n):
    folds = cv_folds("auto", n, np.ones(n))
    assert len(folds) == AUTO_FOLDS
    held = np.concatenate([val for _, val in folds])
    assert_array_equal(held, np.arange(n))  # in order, each sample once
    for train, val in folds:
        assert_array_equal(np.sort(np.r_[train, val]), np.arange(n))
        assert len(val) >= 2 and np.all(np.diff(val) == 1)


@pytest.mark.parametrize("n", [AUTO_MIN_SAMPLES - 1, AUTO_MAX_SAMPLES + 1])
def test_auto_does_not_cross_validate_outside_its_range(n):
    assert cv_folds("auto", n, np.ones(n)) == []
    assert cv_folds(False, 50, np.ones(50)) == cv_folds(True, 50, np.ones(50)) == []


def test_explicit_folds_that_cannot_be_honoured_are_refused():
    with pytest.raises(ValueError, match="early_stopping=4 .* 7 samples"):
        cv_folds(4, 7, np.ones(7))
    weights = np.r_[np.zeros(14), np.ones(26)]  # the first fold weighs nothing
    with pytest.raises(ValueError, match="only samples of weight zero"):
        cv_folds(4, 40, weights)
    assert cv_folds("auto", 40, weights) == []  # auto falls back to one fit
    assert len(cv_folds("auto", 40, np.ones(40))) == AUTO_FOLDS


def test_choose_epochs_takes_the_best_mean_and_the_fewer_epochs_on_a_tie():
    curves = np.array([[0.1, 0.5, 0.7, 0.7], [0.3, 0.5, 0.5, 0.5]])
    assert choose_epochs(curves)[0] == 2
    assert choose_epochs(np.array([[0.4, 0.4], [0.2, 0.2]]))[0] == 0
    # without a ridge start, epoch 0 is no candidate however it scores
    assert choose_epochs(np.array([[0.9, 0.1, 0.3, 0.2]]), first=1)[0] == 2


@pytest.mark.parametrize("cls", [RNNRegressor, Seq2SeqTransformer])
def test_folds_never_return_the_untrained_network(cls):
    # Pure noise: every epoch of training scores below the random start on the
    # held-out folds, yet without a ridge start the model must be trained.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 5, 2)), rng.normal(size=(40, 3, 1))
    extra = {"linear_skip": 0} if cls is RNNRegressor else {}
    est = cls(early_stopping=3, **extra, **SMALL)
    est.fit(X, y if cls is Seq2SeqTransformer else y[:, :, 0])
    assert est.n_iter_ >= 1
    assert est.best_validation_score_ == max(est.validation_scores_[1:])
    assert est.validation_scores_[0] > est.best_validation_score_  # the trap


def test_epoch_zero_is_the_ridge_start_scored_on_each_fold():
    X, y = _windows()
    reg = RNNRegressor(early_stopping=4, linear_skip=X.shape[1], **SMALL).fit(X, y)
    k = reg.linear_skip_
    assert k == X.shape[1]
    lags = X[:, -k:, 0]
    scores = []
    for train, val in cv_folds(4, len(X), np.ones(len(X))):
        ridge = RidgeCV(alphas=RIDGE_ALPHAS)
        mean, scale = lags[train].mean(0), lags[train].std(0)
        ridge.fit((lags[train] - mean) / scale, y[train])
        scores.append(r2_score(y[val], ridge.predict((lags[val] - mean) / scale)))
    assert_allclose(reg.validation_scores_[0], np.mean(scores), rtol=1e-6)
    assert len(reg.validation_scores_) == SMALL["max_iter"] + 1
    assert reg.n_iter_ == int(np.argmax(reg.validation_scores_))
    assert reg.best_validation_score_ == max(reg.validation_scores_)


def test_the_model_is_a_plain_fit_for_the_chosen_epochs():
    X, y = _windows(seed=1)
    X = X + np.sin(np.arange(X.shape[1]))[None, :, None]  # a pattern to learn
    cv = RNNRegressor(early_stopping=3, linear_skip=6, **SMALL).fit(X, y)
    assert cv.n_iter_ > 0
    plain = RNNRegressor(
        linear_skip=6,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=10**6,
        **{**SMALL, "max_iter": cv.n_iter_},
    )
    plain.fit(X, y)
    for name, value in cv.state_dict_.items():
        assert_array_equal(value, plain.state_dict_[name], err_msg=name)
    assert cv.loss_curve_ == plain.loss_curve_


def test_no_convergence_warning_for_the_chosen_epochs(recwarn):
    X, y = _windows()
    RNNRegressor(early_stopping="auto", **SMALL).fit(X, y)
    assert not [w for w in recwarn if "Maximum iterations" in str(w.message)]
    with pytest.warns(UserWarning, match="Maximum iterations"):
        RNNRegressor(
            early_stopping=False, tol=0.0, n_iter_no_change=10**6, **SMALL
        ).fit(X, y)


def test_the_auto_default_beats_the_old_defaults_on_a_small_ar_series():
    """A linear AR(2) series of 120 windows: the old defaults (no skip, every
    epoch) overfit; the fold-chosen network on its ridge start does not."""
    X, y = _windows(n=120, seed=2)
    X_test, y_test = _windows(n=400, seed=3)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[:, :, 0], y)
    ridge_mse = np.mean((ridge.predict(X_test[:, :, 0]) - y_test) ** 2)
    new = RNNRegressor(random_state=0).fit(X, y)
    old = RNNRegressor(random_state=0, early_stopping=False, linear_skip=0).fit(X, y)
    new_mse = np.mean((new.predict(X_test) - y_test) ** 2)
    old_mse = np.mean((old.predict(X_test) - y_test) ** 2)
    assert new_mse < 1.05 * ridge_mse
    assert old_mse > 1.05 * ridge_mse  # what the threshold guards against


def test_a_fold_that_diverges_leaves_the_estimator_as_it_was():
    X, y = _windows()
    reg = RNNRegressor(**SMALL).fit(X, y)
    before = {k: v.copy() for k, v in reg.state_dict_.items()}
    reg.set_params(
        solver="sgd", learning_rate_init=1e4, momentum=0.0, clip_norm=None, alpha=0.0
    )
    with pytest.raises(DivergenceError, match="cross-validated") as info:
        reg.fit(X * 1e3, y * 1e3)
    assert not info.value.model_kept
    reg.set_params(**RNNRegressor().get_params() | SMALL)
    for name, value in before.items():
        assert_array_equal(reg.state_dict_[name], value)


def test_warm_start_continues_without_folds():
    X, y = _windows()
    reg = RNNRegressor(warm_start=True, **SMALL).fit(X, y)
    assert reg.validation_scores_ is not None
    reg.fit(X, y)  # continues the fitted model: one plain run
    assert reg.validation_scores_ is None and reg.n_iter_ > 0


def test_bad_early_stopping_is_refused_before_work():
    X, y = _windows()
    with pytest.raises(ValueError, match="early_stopping"):
        RNNRegressor(early_stopping=1).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        RNNRegressor(early_stopping="cv").fit(X, y)


def test_zero_epochs_keeps_the_ridge_start_and_round_trips(tmp_path):
    """An exactly linear target: no epoch beats the ridge start held out."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5, 1))
    y = X[:, :, 0] @ np.array([0.5, -1.0, 0.0, 2.0, 1.0])
    reg = RNNRegressor(**SMALL).fit(X, y)
    assert reg.n_iter_ == 0 and reg.loss_curve_ == []
    assert np.isnan(reg.loss_) and reg.best_loss_ is None
    assert_array_equal(reg.state_dict_["head.weight"], 0)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[:, :, 0], y)
    assert_allclose(reg.predict(X), ridge.predict(X[:, :, 0]), atol=1e-3)
    path = tmp_path / "ridge.skrnn"
    persistence.save(reg, path)
    assert_array_equal(persistence.load(path).predict(X), reg.predict(X))


def test_auto_skip_is_kept_or_dropped_by_the_folds():
    """The adding problem (a product of two inputs) is no linear model: there
    the network alone scores better on the folds and the skip is dropped; an
    AR(2) series keeps it."""
    X, y = make_adding_problem(60, 6, random_state=0)
    params = {**SMALL, "hidden_layer_sizes": (8,), "max_iter": 60}
    auto = RNNRegressor(**params).fit(X, y)
    kept = RNNRegressor(**params, linear_skip=6).fit(X, y)
    assert auto.linear_skip_ == 0 and "skip.weight" not in auto.state_dict_
    assert max(auto.validation_scores_) > max(kept.validation_scores_)
    Xa, ya = _windows()
    assert RNNRegressor(**params).fit(Xa, ya).linear_skip_ == Xa.shape[1]
