"""The training loop: truncated BPTT semantics, divergence, L-BFGS bookkeeping."""

import copy
import warnings

import numpy as np
import pytest
from _estimator_cases import numeric_gradient, windowed_objective
from sklearn.exceptions import ConvergenceWarning

from skrnn import (
    DivergenceError,
    RNNClassifier,
    RNNRegressor,
    Seq2SeqTransformer,
    _bptt,
)
from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._network import Architecture, init_params


def _batch(return_sequences, lengths, T=9, seed=0):
    rng = np.random.RandomState(seed)
    B = len(lengths)
    X = rng.normal(size=(B, T, 2))
    valid = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    X[~valid] = 0
    if return_sequences:
        Y, mask = rng.normal(size=(B, T, 1)), valid.astype(float)
    else:
        Y, mask = rng.normal(size=(B, 1)), None
    return TrainData(X, np.asarray(lengths), Y, np.ones(B), mask)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_window_longer_than_sequence_is_full_bptt(return_sequences):
    arch = Architecture("gru", (3,), 2, 1, return_sequences=return_sequences)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(return_sequences, [9, 6, 2])
    full = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)
    long = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 50)
    assert full[0] == pytest.approx(long[0])
    for name in params:
        np.testing.assert_allclose(full[1][name], long[1][name], atol=1e-12)


@pytest.mark.parametrize(
    "cell, return_sequences", [("lstm", False), ("gru", True), ("rnn", True)]
)
def test_truncated_gradient_is_the_gradient_of_the_windowed_objective(
    cell, return_sequences
):
    # 9 steps in windows of 4 counted from the end: [0, 1), [1, 5), [5, 9). The
    # reference: central differences of the windows' losses, each window run
    # from the state the full forward pass reaches at its start, held fixed.
    arch = Architecture(cell, (3,), 2, 1, return_sequences=return_sequences)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(return_sequences, [9, 9, 9])
    bounds = [(0, 1), (1, 5), (5, 9)]
    value, grads = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 4)
    states = [None] + [
        arch.forward(params, batch.X[:, :a], np.full(3, a))[1] for a, _ in bounds[1:]
    ]
    w = batch.row_weights() / batch.row_weights().sum()

    def objective():
        return windowed_objective(arch, params, batch.X, batch.Y, w, bounds, states)

    assert value == pytest.approx(objective(), rel=1e-12)
    numeric = numeric_gradient(objective, params)
    full = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)[1]
    differs = False
    for name in params:
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-5, atol=1e-9)
        differs |= not np.allclose(full[name], numeric[name], rtol=1e-3, atol=1e-6)
    assert differs  # the cut matters here: full BPTT would not pass


def test_ragged_truncation_keeps_every_sequence_in_the_last_window():
    # Sequences are left-aligned before windowing, so a short sequence still
    # ends in the last window and gets gradient.
    arch = Architecture("rnn", (3,), 2, 1)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(False, [9, 3, 1])
    alone = [batch.take(np.array([i])) for i in range(3)]
    values = [batch_loss_grad(arch, "squared_error", params, b, 0.0, 4) for b in alone]
    value, grads = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 4)
    assert value == pytest.approx(np.mean([v for v, _ in values]))
    for name in params:
        mean = np.mean([g[name] for _, g in values], axis=0)
        np.testing.assert_allclose(grads[name], mean, atol=1e-12)
    assert np.abs(values[2][1]["weight_ih_l0"]).sum() > 0  # the length-1 sequence


def test_many_to_many_truncation_sums_windows_with_one_normaliser():
    arch = Architecture("gru", (3,), 2, 1, return_sequences=True)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(True, [9, 7, 4])
    full_value, _ = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)
    value, _ = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 3)
    assert value == pytest.approx(full_value)  # the forward pass is not truncated


@pytest.mark.parametrize(
    "solver, scale, kept", [("sgd", 100, True), ("lbfgs", 1e200, False)]
)
def test_divergence_is_detected_and_raised(solver, scale, kept):
    # SGD blows up after an epoch that completed, whose weights it keeps; L-BFGS
    # steps back from a non-finite loss, so it fails only when even the starting
    # point overflows, and leaves the estimator unfitted
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 10, 1)) * scale
    y = rng.normal(size=40) * 1e6
    reg = RNNRegressor(
        cell="rnn",
        nonlinearity="relu",
        solver=solver,
        learning_rate_init=10.0,
        momentum=0.0,
        clip_norm=None,
        batch_size=40,  # one update an epoch: the first epoch completes
        max_iter=50,
        random_state=0,
        early_stopping=False,  # one fit (a fold's divergence: test_epoch_cv)
        linear_skip=0,  # its ridge start refuses such inputs before training
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow noise
        with pytest.raises(DivergenceError, match="diverged") as err:
            reg.fit(X, y)
    assert err.value.model_kept is kept and hasattr(reg, "state_dict_") is kept
    assert len(err.value.loss_curve) == err.value.epoch - 1
    assert (err.value.epoch >= 2) is kept
    assert np.isfinite(err.value.loss_curve).all()
    if kept:  # the last finite weights
        assert reg.n_iter_ == err.value.epoch - 1
        assert all(np.isfinite(w).all() for w in reg.state_dict_.values())
        assert np.isfinite(reg.predict(X)).all()


# ------------------------------------------- the gradient an estimator trains on


def _first_batch_call(monkeypatch, estimator, *fit_args, **fit_kwargs):
    """Fit for one epoch and return the arguments of its first ``batch_loss_grad``
    call, copied as they were at the call (the weights are updated after it)."""
    calls = []

    def spy(*args, **kwargs):
        if not calls:
            calls.append(copy.deepcopy((args, kwargs)))
        return real_batch_loss_grad(*args, **kwargs)

    monkeypatch.setattr(_bptt, "batch_loss_grad", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(*fit_args, **fit_kwargs)
    return calls[0]


real_batch_loss_grad = batch_loss_grad


def _seqs(rng, n=6, F=2):
    return [rng.normal(size=(k, F)) for k in rng.randint(2, 6, size=n)]


def _estimator_case(name):
    """An estimator, its fit arguments, the loss and what the case exercises."""
    rng = np.random.RandomState(0)
    X = _seqs(rng)
    small = {"hidden_layer_sizes": (3, 2), "random_state": 0, "max_iter": 1}
    # the regressor's network alone: the fixed skip gets no gradient by design
    # (its own gradient is checked in test_linear_skip)
    plain = {"early_stopping": False, "linear_skip": 0}
    sw = rng.uniform(0.5, 2.0, len(X))
    if name == "regressor":  # bidirectional, stacked, every dropout, L2
        est = RNNRegressor(
            cell="lstm",
            bidirectional=True,
            dropout=0.3,
            recurrent_dropout=0.2,
            input_dropout=0.2,
            alpha=0.5,
            **small,
            **plain,
        )
        return est, (X, rng.normal(size=len(X))), {"sample_weight": sw}
    if name == "multiclass":  # softmax log-loss, class weights, mean pooling
        est = RNNClassifier(
            cell="gru", class_weight="balanced", pooling="mean", alpha=0.3, **small
        )
        return est, (X, np.array([0, 1, 2, 0, 1, 1])), {"sample_weight": sw}
    if name == "binary":  # sigmoid log-loss, concat pooling
        est = RNNClassifier(cell="rnn", pooling="concat", alpha=0.3, **small)
        return est, (X, np.array(["a", "b", "b", "a", "a", "b"])), {}
    if name == "statal-sequences":  # per-step weights, standardised targets
        est = RNNRegressor(
            cell="statal",
            n_states=2,
            return_sequences=True,
            alpha=0.3,
            **small,
            **plain,
        )
        y = [rng.normal(size=len(x)) for x in X]
        steps = [rng.uniform(0.5, 2.0, len(x)) for x in X]
        return est, (X, y), {"sample_weight": steps}
    if name == "classifier-sequences":  # per-step labels, log-loss at every step
        est = RNNClassifier(cell="lstm", return_sequences=True, alpha=0.3, **small)
        y = [rng.randint(3, size=len(x)) for x in X]
        return est, (X, y), {}
    if name == "wavenet":  # the convolution stack, patches, input dropout
        est = RNNRegressor(
            cell="wavenet",
            hidden_layer_sizes=(3, 3),
            input_dropout=0.2,
            alpha=0.3,
            random_state=0,
            max_iter=1,
            **plain,
        )
        return est, (X, rng.normal(size=len(X))), {"sample_weight": sw}
    # the encoder-decoder: reconstruction of every step
    est = Seq2SeqTransformer(cell="gru", n_components=2, alpha=0.3, **small)
    return est, (X,), {"sample_weight": sw}


ESTIMATOR_CASES = [
    "regressor",
    "multiclass",
    "binary",
    "statal-sequences",
    "classifier-sequences",
    "wavenet",
    "seq2seq",
]


@pytest.mark.parametrize("name", ESTIMATOR_CASES)
def test_the_gradient_an_estimator_trains_on_matches_finite_differences(
    monkeypatch, name
):
    """Central differences of the very function call ``fit`` makes per batch: its
    loss with the output activation, target encoding, (per-step) sample and class
    weights, L2 penalty and normaliser, and the dropout masks it drew."""
    est, fit_args, fit_kwargs = _estimator_case(name)
    args, kwargs = _first_batch_call(monkeypatch, est, *fit_args, **fit_kwargs)
    arch, loss, params, batch, alpha = args[:5]
    assert alpha > 0 and batch.X.dtype == np.float64
    assert loss == {"multiclass": "log_loss", "classifier-sequences": "log_loss"}.get(
        name, "binary_log_loss" if name == "binary" else "squared_error"
    )
    assert len(batch) == len(fit_args[0])  # one batch: the epoch's loss is its loss
    value, grads = real_batch_loss_grad(*args, **kwargs)
    assert value == pytest.approx(est.loss_curve_[0], rel=1e-12)
    # Away from the initial point: zero biases put the wavenet stack's ReLU
    # exactly at its kink on dropped inputs, where a difference means nothing.
    rng = np.random.RandomState(1)
    for p in params.values():
        p += 0.1 * rng.normal(size=p.shape)
    _, grads = real_batch_loss_grad(*args, **kwargs)

    def f():
        return real_batch_loss_grad(*args, **kwargs)[0]

    numeric = numeric_gradient(f, params)
    for k, g in grads.items():
        scale = np.abs(numeric[k]).max()
        np.testing.assert_allclose(
            g, numeric[k], rtol=0, atol=1e-6 * scale + 1e-9, err_msg=k
        )


def test_validation_score_counts_the_weighted_rows_only():
    # per-step targets: the steps of weight zero (padding) are left out, the
    # others weighted by sample weight times step weight
    Y = np.array([[[1.0], [2.0], [9.0]], [[3.0], [4.0], [5.0]]])
    pred = Y + np.array([[[1.0], [0.0], [-50.0]], [[0.0], [2.0], [0.0]]])
    steps = np.array([[1.0, 1.0, 0.0], [1.0, 3.0, 1.0]])
    data = TrainData(np.zeros((2, 3, 1)), np.array([2, 3]), Y, np.array([2.0, 1.0]))
    data.step_mask = steps

    def weighted_mse(truth, p, sample_weight):
        assert truth.shape == p.shape == (5, 1)  # the 5 steps of positive weight
        return float(np.average((truth - p)[:, 0] ** 2, weights=sample_weight))

    # errors 1, 0 (weights 2, 2) and 0, 2, 0 (weights 1, 3, 1)
    assert data.score(weighted_mse, Y, pred) == pytest.approx((2 + 12) / 9)
    many_to_one = TrainData(data.X, data.lengths, Y[:, 0], np.array([2.0, 1.0]))
    score = many_to_one.score(
        lambda t, p, sample_weight: float(
            np.average((t - p)[:, 0], weights=sample_weight)
        ),
        Y[:, 0],
        pred[:, 0],
    )
    assert score == pytest.approx(-2 / 3)
