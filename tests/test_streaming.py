"""Streaming (stateful) inference and autoregressive forecasting."""

import numpy as np
import pytest

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer, SequenceStream
from skrnn.preprocessing import make_windows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CELLS = {
    "rnn": (5, 4),
    "lstm": (5, 4),
    "gru": (5, 4),
    "statal": (5, 4),
    "wavenet": (5, 5, 5),
}
CHUNKS = [(0, 1), (1, 7), (7, 8), (8, 30)]


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 30, 2))
    return X, rng.normal(size=(12, 30)), (X[:, :, 0] > 0).astype(int)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stream_equals_one_call_per_step(cell):
    X, y, labels = _data()
    kw = {"cell": cell, "hidden_layer_sizes": CELLS[cell], "max_iter": 3}
    reg = RNNRegressor(return_sequences=True, random_state=0, **kw).fit(X, y)
    stream = reg.stream()
    parts = [stream.predict(X[:, a:b]) for a, b in CHUNKS]
    np.testing.assert_allclose(
        np.concatenate(parts, axis=1), reg.predict(X), atol=1e-12
    )
    assert stream.n_steps_seen_.tolist() == [30] * len(X)

    clf = RNNClassifier(return_sequences=True, random_state=0, **kw).fit(X, labels)
    stream = clf.stream()
    proba = [stream.predict_proba(X[:, a:b]) for a, b in CHUNKS]
    np.testing.assert_allclose(
        np.concatenate(proba, axis=1), clf.predict_proba(X), atol=1e-12
    )


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stream_many_to_one_is_prediction_on_the_prefix(cell):
    X, y, _ = _data()
    kw = {"cell": cell, "hidden_layer_sizes": CELLS[cell], "max_iter": 3}
    reg = RNNRegressor(random_state=0, bidirectional=False, **kw).fit(X, y[:, -1])
    stream = reg.stream()
    for a, b in CHUNKS:
        out = stream.predict(X[:, a:b])
        np.testing.assert_allclose(out, reg.predict(X[:, :b]), atol=1e-12)


def test_stream_ragged_lists_and_reset():
    rng = np.random.RandomState(1)
    seqs = [rng.normal(size=(n, 3)) for n in (9, 4, 13)]
    reg = RNNRegressor(
        hidden_layer_sizes=(4,), bidirectional=False, max_iter=2, random_state=0
    )
    reg.fit(seqs, rng.normal(size=3))
    stream = reg.stream()
    stream.predict([s[:3] for s in seqs])
    out = stream.predict([s[3:] for s in seqs])
    np.testing.assert_allclose(out, reg.predict(seqs), atol=1e-12)
    stream.reset()
    np.testing.assert_allclose(
        stream.predict([s[:3] for s in seqs]),
        reg.predict([s[:3] for s in seqs]),
        atol=1e-12,
    )


def test_stream_errors():
    X, y, _ = _data()
    reg = RNNRegressor(
        hidden_layer_sizes=(3,), bidirectional=False, max_iter=1, random_state=0
    ).fit(X, y[:, 0])
    stream = reg.stream()
    stream.predict(X[:, :5])
    with pytest.raises(ValueError, match="carries 12 series"):
        stream.predict(X[:4, 5:])
    with pytest.raises(ValueError, match="features per time step"):
        stream.predict(np.zeros((12, 2, 5)))
    bi = RNNRegressor(hidden_layer_sizes=(3,), bidirectional=True, max_iter=1)
    with pytest.raises(ValueError, match="unidirectional"):
        bi.fit(X, y[:, 0]).stream()
    auto = RNNRegressor(hidden_layer_sizes=(3,), max_iter=1).fit(X, y[:, 0])
    assert auto.bidirectional_  # "auto", many-to-one: both ways
    with pytest.raises(ValueError, match="bidirectional=False to stream"):
        auto.stream()
    with pytest.raises(AttributeError, match="RNNClassifier"):
        reg.stream().predict_proba(X)
    ae = Seq2SeqTransformer(hidden_layer_sizes=(3,), max_iter=1).fit(X)
    assert not hasattr(ae, "stream")
    with pytest.raises(TypeError, match="cannot stream"):
        SequenceStream(ae)


def _sine_model(horizon=1, **kw):
    series = np.sin(np.arange(400) * 0.2)
    X, y = make_windows(series, window=20, horizon=horizon)
    kw = {"max_iter": 200, "batch_size": 200, "n_iter_no_change": 10, **kw}
    kw.setdefault("bidirectional", False)  # forecast(window=None) streams
    reg = RNNRegressor(hidden_layer_sizes=(16,), random_state=0, **kw)
    return series, reg.fit(X[:300], y[:300])


def test_forecast_equals_feeding_predictions_back_by_hand():
    series, reg = _sine_model()
    history, expected = list(series[280:300]), []
    for _ in range(12):
        p = reg.predict(np.array(history[-20:])[None, :, None])[0]
        expected.append(p)
        history.append(p)
    got = reg.forecast(series[None, 280:300], n_steps=12)
    np.testing.assert_allclose(got[0], expected, rtol=1e-12)
    # and it forecasts: a sine continues within a few percent over 20 steps
    assert (
        np.abs(reg.forecast(series[None, 280:300], 20)[0] - series[300:320]).max() < 0.1
    )


def test_forecast_stateful_equals_stream_by_hand():
    series, reg = _sine_model(max_iter=20)
    stream = reg.stream()
    out = [stream.predict(series[None, 250:300])[0]]
    for _ in range(4):
        out.append(stream.predict(np.array([[out[-1]]]))[0])
    got = reg.forecast(series[None, 250:300], 5, window=None)
    np.testing.assert_allclose(got[0], out, rtol=1e-12)


def test_forecast_horizon_and_multivariate_shapes():
    series, reg = _sine_model(horizon=3, max_iter=10)
    out = reg.forecast(series[None, 280:300], n_steps=7)
    assert out.shape == (1, 7)
    np.testing.assert_allclose(
        out[0, :3], reg.predict(series[None, 280:300, None])[0], rtol=1e-12
    )
    rng = np.random.RandomState(0)
    walk = np.cumsum(rng.normal(size=(200, 2)), axis=0) / 10
    X, y = make_windows(walk, window=10)
    mv = RNNRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    assert mv.forecast([walk[:30], walk[:12]], n_steps=4).shape == (2, 4, 2)


def test_forecast_errors():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 6, 2))
    reg = RNNRegressor(hidden_layer_sizes=(3,), max_iter=1).fit(X, rng.normal(size=20))
    with pytest.raises(ValueError, match="whole steps"):
        reg.forecast(X, 3)
    series, ok = _sine_model(max_iter=1)
    with pytest.raises(ValueError, match="n_steps"):
        ok.forecast(series[None, :20], 0)
    with pytest.raises(ValueError, match="window"):
        ok.forecast(series[None, :20], 2, window=0)
