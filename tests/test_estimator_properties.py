"""Hypothesis: fitted estimators give outputs of the right shapes, dtypes, lengths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = {"hidden_layer_sizes": (2,), "max_iter": 2, "random_state": 0}
FAST = settings(max_examples=10, deadline=None)
LAYOUTS = ["table", "array", "list", "list1d"]


@st.composite
def sequences(draw):
    """Random valid input: (X, lengths, layout, dtype, n_features)."""
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(3, 7))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    n_features = draw(st.integers(1, 3)) if layout in ("array", "list") else 1
    if layout in ("table", "array"):
        lengths = np.full(n, draw(st.integers(1, 6)))
    else:
        lengths = np.array(draw(st.lists(st.integers(1, 6), min_size=n, max_size=n)))
    seqs = [rng.normal(size=(k, n_features)).astype(dtype) for k in lengths]
    if layout == "table":
        X = np.stack([s[:, 0] for s in seqs])
    elif layout == "array":
        X = np.stack(seqs)
    elif layout == "list":
        X = seqs
    else:
        X = [s[:, 0] for s in seqs]
    return X, lengths, layout, np.dtype(dtype), n_features


def _per_step(values, layout):
    """Per-step targets in the layout matching X: (n, T[, k]) or a list."""
    if layout in ("table", "array"):
        return np.stack(values)
    return list(values)


def _check_steps(out, lengths, layout, tail):
    """``out`` holds one ``tail``-shaped row per valid step of each sequence."""
    if layout in ("list", "list1d"):
        assert isinstance(out, list) and len(out) == len(lengths)
        for part, k in zip(out, lengths, strict=True):
            assert part.shape == (k, *tail)
    else:
        assert out.shape == (len(lengths), lengths[0], *tail)


@FAST
@given(data=sequences(), n_outputs=st.integers(1, 3), per_step=st.booleans())
def test_regressor_output_shapes(data, n_outputs, per_step):
    X, lengths, layout, dtype, _ = data
    rng = np.random.RandomState(0)
    tail = () if n_outputs == 1 else (n_outputs,)
    if per_step:
        y = _per_step([rng.normal(size=(k, *tail)) for k in lengths], layout)
    else:
        y = rng.normal(size=(len(lengths), *tail))
    reg = RNNRegressor(**TINY, return_sequences=per_step).fit(X, y)
    pred = reg.predict(X)
    if per_step:
        _check_steps(pred, lengths, layout, tail)
    else:
        assert pred.shape == (len(lengths), *tail)
    for part in pred if isinstance(pred, list) else [pred]:
        assert part.dtype == dtype and np.isfinite(part).all()
    assert reg.n_outputs_ == n_outputs


@FAST
@given(data=sequences(), n_classes=st.integers(2, 3), per_step=st.booleans())
def test_classifier_output_shapes(data, n_classes, per_step):
    X, lengths, layout, dtype, _ = data
    names = np.array(["a", "b", "c"])[:n_classes]
    if per_step:
        flat = names[np.arange(lengths.sum()) % n_classes]
        y = _per_step(np.split(flat, np.cumsum(lengths)[:-1]), layout)
    else:
        y = names[np.arange(len(lengths)) % n_classes]
    clf = RNNClassifier(**TINY, return_sequences=per_step).fit(X, y)
    proba, pred = clf.predict_proba(X), clf.predict(X)
    if per_step:
        _check_steps(proba, lengths, layout, (n_classes,))
        _check_steps(pred, lengths, layout, ())
    else:
        assert proba.shape == (len(lengths), n_classes)
        assert pred.shape == (len(lengths),)
    for part in proba if isinstance(proba, list) else [proba]:
        assert part.dtype == dtype
        assert_allclose(part.sum(axis=-1), 1.0, rtol=1e-5)
    for part in pred if isinstance(pred, list) else [pred]:
        assert set(np.ravel(part)) <= set(names)


@FAST
@given(data=sequences(), n_components=st.integers(1, 3))
def test_seq2seq_output_shapes(data, n_components):
    X, lengths, layout, dtype, n_features = data
    ae = Seq2SeqTransformer(n_components=n_components, **TINY).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (len(lengths), n_components) and Z.dtype == dtype
    pred = ae.predict(X)
    tail = () if layout in ("table", "list1d") else (n_features,)
    _check_steps(pred, lengths, layout, tail)
    for part in pred if isinstance(pred, list) else [pred]:
        assert part.dtype == dtype
    decoded = ae.inverse_transform(Z, n_timesteps=4)
    expected = (len(lengths), 4) if layout == "table" else (len(lengths), 4, n_features)
    assert decoded.shape == expected and decoded.dtype == dtype
