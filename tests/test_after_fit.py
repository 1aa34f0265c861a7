"""A fitted model meets what users do next: set_params, score with weights, small
held-out splits. Each refusal is a clear ValueError that leaves the model as it was."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn.persistence import save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(4,), bidirectional=False, max_iter=3, random_state=0)


def _data(n=24, T=6, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    return X, X.sum(axis=(1, 2))


# (estimator, the parameter changed after fit, its new value): every
# parameter the fitted network is read with, on an estimator that reads it
CHANGES = [
    (RNNRegressor("statal", **SMALL, early_stopping=False), "n_states", 3),
    (RNNRegressor("lstm", **SMALL), "cell", "gru"),
    (RNNRegressor("rnn", **SMALL), "nonlinearity", "relu"),
    (RNNRegressor("gru", **SMALL), "pooling", "last"),
    (RNNRegressor("gru", **SMALL), "return_sequences", True),
    (RNNClassifier("gru", **SMALL), "pooling", "mean"),
    (Seq2SeqTransformer(3, "gru", **SMALL), "n_components", 2),
    (Seq2SeqTransformer(3, "gru", **SMALL), "cell", "lstm"),
]


@pytest.mark.parametrize(
    "est, name, value", CHANGES, ids=[f"{type(e).__name__}-{n}" for e, n, _ in CHANGES]
)
def test_a_changed_network_parameter_is_refused_until_set_back(est, name, value):
    X, y = _data()
    if isinstance(est, RNNClassifier):
        y = y > 0
    est.fit(X, None if isinstance(est, Seq2SeqTransformer) else y)
    before = est.predict(X)
    fitted = est.get_params()[name]
    est.set_params(**{name: value})
    message = f"{name}={value!r} now, but this .* was fitted with {name}={fitted!r}"
    with pytest.raises(ValueError, match=message):
        est.predict(X)
    if not isinstance(est, Seq2SeqTransformer):
        with pytest.raises(ValueError, match=message):
            est.stream()
    est.set_params(**{name: fitted})
    assert_array_equal(est.predict(X), before)


def test_a_model_whose_parameters_changed_is_not_saved(tmp_path):
    X, y = _data()
    reg = RNNRegressor("gru", **SMALL).fit(X, y)
    reg.set_params(pooling="mean")
    with pytest.raises(ValueError, match="cannot save"):
        save(reg, tmp_path / "model.skrnn")
    assert not (tmp_path / "model.skrnn").exists()


def test_a_refit_takes_the_new_parameters():
    X, y = _data()
    reg = RNNRegressor("gru", **SMALL).fit(X, y)
    reg.set_params(pooling="last").fit(X, y)
    fresh = RNNRegressor("gru", **SMALL, pooling="last").fit(X, y)
    assert_array_equal(reg.predict(X), fresh.predict(X))


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_score_takes_the_per_step_weights_fit_takes(Estimator):
    X, y = _data()
    Y = np.cumsum(X[:, :, 0], axis=1)
    if Estimator is RNNClassifier:
        Y = Y > 0
    w = np.ones(Y.shape)
    w[:, 3:] = 0  # only the first three steps count
    est = Estimator("gru", **SMALL, return_sequences=True).fit(X, Y, sample_weight=w)
    pred = est.predict(X)
    if Estimator is RNNRegressor:
        resid = ((Y - pred)[:, :3] ** 2).sum()
        expected = 1 - resid / ((Y[:, :3] - Y[:, :3].mean()) ** 2).sum()
    else:
        expected = np.mean(pred[:, :3] == Y[:, :3])
    assert est.score(X, Y, sample_weight=w) == pytest.approx(expected, rel=1e-9)
    assert est.score(list(X), list(Y), sample_weight=list(w)) == pytest.approx(
        expected, rel=1e-9
    )
    with pytest.raises(ValueError, match="sample_weight"):
        est.score(X, Y, sample_weight=np.ones(5))


def test_seq2seq_score_refuses_unpaired_targets_and_weights():
    X, _ = _data()
    Y = np.random.RandomState(1).normal(size=(24, 4, 3))
    s2s = Seq2SeqTransformer(3, "gru", **SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="X has 24 sequences but y has 5"):
        s2s.score(X, Y[:5])
    with pytest.raises(ValueError, match="X has 24 sequences but y has 23"):
        s2s.score(list(X), list(Y[:23]))
    with pytest.raises(ValueError, match="sample_weight"):
        s2s.score(X, Y, sample_weight=np.ones(3))
    w = np.r_[np.ones(12), np.zeros(12)]
    assert s2s.score(X, Y, sample_weight=w) == pytest.approx(s2s.score(X[:12], Y[:12]))


def test_early_stopping_holds_out_two_samples_of_a_small_set():
    X, y = _data(n=12)
    reg = RNNRegressor("gru", **{**SMALL, "max_iter": 4}, early_stopping=True)
    reg.fit(X, y)
    scores = np.asarray(reg.validation_scores_)
    assert np.isfinite(scores).all()  # the R² of one held-out sample is NaN
    assert reg.best_validation_score_ == scores.max()
    with pytest.raises(ValueError, match="needs at least 3; got 2"):
        RNNRegressor("gru", **SMALL, early_stopping=True).fit(X[:2], y[:2])
