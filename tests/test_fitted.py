"""skrnn._fitted: the fitted network that predict, stream, forecast and scoring use."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer, _fitted

SMALL = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0}


def _ragged(n=11, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(rng.randint(2, 9), 2)) for _ in range(n)]


@pytest.mark.parametrize("return_sequences", [False, True])
def test_predictions_in_chunks_equal_one_batch(monkeypatch, return_sequences):
    X = _ragged()
    y = [x[:, 0] for x in X] if return_sequences else [x[-1, 0] for x in X]
    reg = RNNRegressor(return_sequences=return_sequences, **SMALL).fit(X, y)
    whole = reg.predict(X)
    monkeypatch.setattr(_fitted, "PREDICT_CHUNK", 4)  # 3 chunks of ragged rows
    assert list(_fitted.chunks(11)) == [slice(0, 4), slice(4, 8), slice(8, 12)]
    chunked = reg.predict(X)
    if not return_sequences:
        whole, chunked = [whole], [chunked]
    for a, b in zip(whole, chunked, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_classifier_and_encoder_decoder_chunk_too(monkeypatch):
    X = _ragged()
    labels = np.array([0, 1, 2] * 3 + [0, 1])
    clf = RNNClassifier(**SMALL).fit(X, labels)
    s2s = Seq2SeqTransformer(n_components=2, **SMALL).fit(X)
    before = clf.predict_proba(X), s2s.transform(X), s2s.predict(X)
    monkeypatch.setattr(_fitted, "PREDICT_CHUNK", 3)
    assert_allclose(clf.predict_proba(X), before[0], rtol=1e-12, atol=1e-12)
    assert_allclose(s2s.transform(X), before[1], rtol=1e-12, atol=1e-12)
    # the decoder's chunks are padded to the longest output of the batch
    for a, b in zip(s2s.predict(X), before[2], strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_stream_keeps_its_own_weights():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 6, 1)), rng.normal(size=20)
    reg = RNNRegressor(bidirectional=False, **SMALL).fit(X, y)
    stream = reg.stream()
    first = stream.predict(X[:2])
    reg.partial_fit(X, y)  # trains the estimator's weights in place
    stream.reset()
    assert_array_equal(stream.predict(X[:2]), first)
