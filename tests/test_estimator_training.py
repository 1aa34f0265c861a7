"""Estimator training behaviour: partial_fit, warm_start, early stopping, divergence."""

import copy
import warnings

import numpy as np
import pytest
from _estimator_cases import (
    ESTIMATORS,
    NO_SKIP,
    ONE_FIT,
    SMALL,
    _array,
    _fit_args,
    _targets,
    _weights_equal,
    numeric_gradient,
    windowed_objective,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skrnn import DivergenceError, RNNClassifier, RNNRegressor
from skrnn._network import Architecture, init_params

# Most fits here stop at a tiny max_iter on purpose: behaviour, not learning.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

REG_DATA = _fit_args(RNNRegressor, _array(n=20))


# ------------------------------------------------------ partial_fit, warm_start


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_partial_fit_equals_fit_with_one_epoch(Estimator):
    args = _fit_args(Estimator, _array())
    kwargs = {"classes": ["down", "up"]} if Estimator is RNNClassifier else {}
    fitted = Estimator(**{**SMALL, **ONE_FIT, "max_iter": 1}).fit(*args)
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
    params = {**SMALL, **ONE_FIT, "hidden_layer_sizes": (4,), "max_iter": 10}
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
        batch_size=30,  # the 30 training rows: one batch
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
        bidirectional=False,
        nonlinearity="relu",
        solver="sgd",
        learning_rate_init=1e4,
        clip_norm=None,
        max_iter=max_iter,
        pooling="concat",  # the readout these scenarios' scales were set for
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
    reg = RNNRegressor(**{**SMALL, **ONE_FIT, "max_iter": 2}, solver=solver, tol=0.0)
    with pytest.warns(ConvergenceWarning, match=match):
        reg.fit(*REG_DATA)
    assert reg.n_iter_ == 2


def test_verbose_prints_one_line_per_epoch(capsys):
    reg = RNNRegressor(
        **{**SMALL, **ONE_FIT, "max_iter": 4}, verbose=True, n_iter_no_change=100
    )
    reg.fit(*REG_DATA)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == reg.n_iter_ == 4
    assert all("loss" in line for line in lines)
    RNNRegressor(**SMALL).fit(*REG_DATA)
    assert capsys.readouterr().out == ""


# ------------------------------------- one SGD step: bptt_steps and clip_value


def _sgd_step(return_sequences=False, **params):
    """Weights w1 after one epoch, and w2 after a warm-started second one, of a
    full-batch SGD fit without momentum, penalty or clipping: w2 = w1 - lr g."""
    X = _array(n=6, T=9, F=2)
    y = X.cumsum(axis=1)[:, :, 0] if return_sequences else X[:, :, 0].sum(axis=1)
    reg = RNNRegressor(
        "gru",
        (3,),
        bidirectional=False,  # the windowed objective runs forwards only
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.0,
        alpha=0.0,
        clip_norm=None,
        shuffle=False,
        batch_size=6,
        max_iter=1,
        return_sequences=return_sequences,
        random_state=0,
        **{**ONE_FIT, **NO_SKIP, **params},
    ).fit(X, y)
    w1 = {k: v.copy() for k, v in reg.state_dict_.items()}
    reg.set_params(warm_start=True).fit(X, y)
    Y = ((y - reg.target_mean_) / reg.target_scale_)[..., None]
    arch = Architecture(
        "gru", (3,), 2, 1, return_sequences=return_sequences, pooling=reg.pooling
    )
    assert list(init_params(arch, np.random.RandomState(0))) == list(w1)
    return reg, arch, X, Y, w1


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bptt_steps_trains_on_the_truncated_gradient(return_sequences):
    # windows of 4 of the 9 steps, counted from the end; the reference gradient
    # is the finite difference of the windows' losses from fixed start states
    reg, arch, X, Y, w1 = _sgd_step(return_sequences, bptt_steps=4)
    bounds = [(0, 1), (1, 5), (5, 9)]
    states = [None] + [
        arch.forward(w1, X[:, :a], np.full(6, a))[1] for a, _ in bounds[1:]
    ]
    w = np.full(Y.shape[:-1], 1.0 / Y[..., 0].size)
    grads = numeric_gradient(
        lambda: windowed_objective(arch, w1, X, Y, w, bounds, states), w1
    )
    full = numeric_gradient(
        lambda: windowed_objective(arch, w1, X, Y, w, [(0, 9)], [None]), w1
    )
    assert not all(np.allclose(grads[k], full[k], rtol=1e-3) for k in w1)
    for k, g in grads.items():
        assert_allclose(reg.state_dict_[k], w1[k] - 0.1 * g, rtol=1e-7, atol=1e-9)


def test_bptt_steps_at_least_the_sequence_length_is_full_bptt():
    X = _array(n=12, T=6)
    y = X[:, :, 0].sum(axis=1)
    # bidirectional="auto" reads forwards only under bptt_steps: compare like
    # and the linear skip, which bptt_steps turns off under "auto"
    same = {**SMALL, **NO_SKIP, "bidirectional": False}
    full = RNNRegressor(**same).fit(X, y)
    long = RNNRegressor(**same, bptt_steps=6).fit(X, y)
    assert _weights_equal(full.state_dict_, long.state_dict_)


def test_clip_value_clips_each_gradient_entry():
    def gradient(arch, X, Y, w1):
        w = np.full(len(X), 1.0 / len(X))
        return numeric_gradient(
            lambda: windowed_objective(arch, w1, X, Y, w, [(0, 9)], [None]), w1
        )

    flat = np.concatenate([g.ravel() for g in gradient(*_sgd_step()[1:]).values()])
    c = 0.5 * np.median(np.abs(flat))  # about three in four entries clipped
    reg, arch, X, Y, w1 = _sgd_step(clip_value=c)
    grads = gradient(arch, X, Y, w1)
    n_clipped = 0
    for k, g in grads.items():
        n_clipped += int(np.sum(np.abs(g) > c))
        step = np.clip(g, -c, c)
        assert_allclose(reg.state_dict_[k], w1[k] - 0.1 * step, rtol=1e-7, atol=1e-9)
    assert 0 < n_clipped < sum(g.size for g in grads.values())


# ------------------------------------------------------ learning-rate schedules


def _sgd(learning_rate, **params):
    params = {
        **SMALL,
        **ONE_FIT,
        **NO_SKIP,
        "max_iter": 2,
        "batch_size": 20,
        "momentum": 0.0,
        **params,
    }
    params.setdefault("shuffle", False)
    return RNNRegressor(solver="sgd", learning_rate=learning_rate, **params)


def test_invscaling_divides_the_rate_by_samples_seen_to_the_power_t():
    # full batches of 20: epoch 2 steps with lr / (20 + 1) ** power_t
    X, y = REG_DATA
    lr, power_t = 0.5, 0.7
    inv = _sgd("invscaling", learning_rate_init=lr, power_t=power_t).fit(X, y)
    by_hand = _sgd("constant", learning_rate_init=lr, max_iter=1).fit(X, y)
    by_hand.set_params(warm_start=True, learning_rate_init=lr / 21**power_t)
    by_hand.fit(X, y)
    for k, v in inv.state_dict_.items():
        assert_allclose(v, by_hand.state_dict_[k], rtol=1e-12, atol=1e-15)
    constant = _sgd("constant", learning_rate_init=lr).fit(X, y)
    assert not _weights_equal(inv.state_dict_, constant.state_dict_)


def test_adaptive_divides_the_rate_by_5_instead_of_stopping(capsys):
    # tol huge: no epoch improves, so every n_iter_no_change + 1 = 2 epochs the
    # constant schedule stops and the adaptive one divides the rate by 5, until
    # the rate is at most 1e-6
    X, y = REG_DATA
    params = {"learning_rate_init": 0.01, "tol": 1e9, "n_iter_no_change": 1}
    constant = _sgd("constant", **params, max_iter=100).fit(X, y)
    assert constant.n_iter_ == 3
    rates, lr = [], 0.01
    while lr > 1e-6:
        lr /= 5
        rates.append(lr)
    adaptive = _sgd("adaptive", **params, max_iter=100, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    printed = [line.split()[-1] for line in out.splitlines() if "Setting" in line]
    assert printed == [f"{r:f}" for r in rates]
    assert adaptive.n_iter_ == 3 + 2 * len(rates)
