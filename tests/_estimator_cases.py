"""Small data and helpers shared by the estimator-level test modules."""

import numpy as np
from numpy.testing import assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer

SMALL = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0}
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
