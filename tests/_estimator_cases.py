"""Small data and helpers shared by the estimator-level test modules."""

import numpy as np
from numpy.testing import assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer

SMALL = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0}
#: One fit for max_iter epochs (RNNRegressor's default early_stopping="auto"
#: chooses the epoch count on folds, which tests/test_epoch_cv.py covers).
ONE_FIT = {"early_stopping": False}
#: RNNRegressor's network alone (no linear skip; tests/test_linear_skip.py).
NO_SKIP = {"linear_skip": 0}
ESTIMATORS = [RNNRegressor, RNNClassifier, Seq2SeqTransformer]


def _array(n=24, T=6, F=2, seed=0):
    return np.random.RandomState(seed).normal(size=(n, T, F))


def _ragged(n=24, F=2, seed=0, low=2, high=9):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(k, F)) for k in rng.randint(low, high, size=n)]


def _targets(Estimator, X):
    """Sequence-level targets that depend on X: sums, or their sign as labels."""
    total = np.array([np.sum(x) for x in X])
    if Estimator is RNNRegressor:
        return total
    if Estimator is RNNClassifier:
        return np.where(total > np.median(total), "up", "down")
    return None


def _fit_args(Estimator, X):
    y = _targets(Estimator, X)
    return (X,) if y is None else (X, y)


def _outputs(est, X):
    """Everything a fitted estimator computes from X."""
    if isinstance(est, Seq2SeqTransformer):
        return [est.transform(X), est.predict(X)]
    if isinstance(est, RNNClassifier):
        return [est.predict(X), est.predict_proba(X)]
    return [est.predict(X)]


def _assert_same(a, b):
    """Equal values, recursively through lists/tuples/dicts of arrays."""
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_same(u, v)
    else:
        assert_array_equal(a, b, strict=True)


def _weights_equal(a, b):
    return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def windowed_objective(arch, params, X, Y, w, bounds, states):
    """Squared-error objective of a network run window by window from fixed start
    states: no gradient flows into a state carried across a window boundary, so
    its gradient is what truncated BPTT computes. ``w``: (n_samples,) row weights
    (many-to-one: only the last window has a loss) or (n_samples, n_steps) step
    weights, summing to 1. ``bounds``: [(start, stop), ...] covering the steps;
    ``states``: the state each window starts from (None: zeros)."""
    n, T = X.shape[:2]
    value = 0.0
    for (a, b), state in zip(bounds, states, strict=True):
        raw, _, _ = arch.forward(params, X[:, a:b], np.full(n, b - a), state0=state)
        if arch.return_sequences:
            err = np.mean((raw - Y[:, a:b]) ** 2, axis=-1)
            value += 0.5 * np.sum(w[:, a:b] * err)
        elif b == T:
            value += 0.5 * np.sum(w * np.mean((raw - Y) ** 2, axis=-1))
    return value


def numeric_gradient(f, params, eps=1e-6):
    """Central differences of ``f()`` with respect to every entry of ``params``."""
    grads = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = f()
            p[i] = old - eps
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def assert_training_gradient(arch, params, loss, rng, atol=1e-9):
    """``batch_loss_grad`` as training calls it, against central differences,
    on a ragged per-step batch of 3 sequences of up to 5 steps (2 features,
    2 outputs) with per-step weights, L2 (alpha 0.1) and fixed dropout masks."""
    from numpy.testing import assert_allclose

    from skrnn._bptt import TrainData, batch_loss_grad
    from skrnn._network import draw_masks

    X = rng.randn(3, 5, 2)
    lengths = np.array([5, 3, 2])
    if loss == "log_loss":
        Y = np.eye(2)[rng.randint(2, size=(3, 5))]
    else:
        Y = rng.randn(3, 5, 2)
    steps = (np.arange(5)[None, :] < lengths[:, None]) * rng.uniform(0.5, 2, (3, 5))
    batch = TrainData(X, lengths, Y, np.ones(3), steps)
    masks = draw_masks(arch, rng, 3, np.float64)

    def value():
        return batch_loss_grad(arch, loss, params, batch, 0.1, masks=masks)[0]

    _, grads = batch_loss_grad(arch, loss, params, batch, 0.1, masks=masks)
    assert list(grads) == list(params)
    expected = numeric_gradient(value, params)
    for name in params:
        assert_allclose(grads[name], expected[name], rtol=1e-6, atol=atol, err_msg=name)
