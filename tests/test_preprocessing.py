"""Tests for skrnn.preprocessing: scaler, windows, padding, wide-table reshaping."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrnn._data import to_padded
from skrnn.preprocessing import (
    PadTruncate,
    SequenceScaler,
    SlidingWindowTransformer,
    WideToSequence,
    make_windows,
    pad_sequences,
)

RNG = np.random.default_rng(42)


def _ragged(lengths, n_features, dtype=np.float64, loc=0.0):
    shape = (lambda n: (n,)) if n_features is None else (lambda n: (n, n_features))
    return [RNG.normal(loc, 2.0, size=shape(n)).astype(dtype) for n in lengths]


def _split_rows(rows, seqs):
    """Cut stacked (n_valid_steps, ...) rows back into per-sequence blocks."""
    return np.split(rows, np.cumsum([len(s) for s in seqs])[:-1])


# ------------------------------------------------------ scikit-learn conventions


@parametrize_with_checks(
    [
        SequenceScaler(),
        SequenceScaler(method="minmax"),
        PadTruncate(),
        WideToSequence(n_features=1),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# --------------------------------------------------------------- SequenceScaler


def test_scaler_statistics_ignore_padding():
    seqs = _ragged([6, 1, 3], 2, loc=5.0)
    scaler = SequenceScaler().fit(seqs)
    stacked = np.vstack(seqs)
    reference = StandardScaler().fit(stacked)
    assert_allclose(scaler.mean_, reference.mean_)
    assert_allclose(scaler.scale_, reference.scale_)
    # The padded batch has 18 - 10 zero steps: including them would move the mean.
    X3, _, _ = to_padded(seqs)
    assert not np.allclose(X3.reshape(-1, 2).mean(axis=0), scaler.mean_)


def test_scaler_transform_matches_standard_scaler_on_valid_steps():
    seqs = _ragged([4, 2, 7], 3, loc=-1.0)
    out = SequenceScaler().fit(seqs).transform(seqs)
    expected = _split_rows(StandardScaler().fit_transform(np.vstack(seqs)), seqs)
    assert isinstance(out, list)
    for o, e in zip(out, expected, strict=True):
        assert_allclose(o, e)


@pytest.mark.parametrize("feature_range", [(0, 1), (-2, 3)])
def test_scaler_minmax_matches_minmax_scaler(feature_range):
    seqs = _ragged([5, 2], 2)
    scaler = SequenceScaler(method="minmax", feature_range=feature_range)
    out = scaler.fit_transform(seqs)
    reference = MinMaxScaler(feature_range=feature_range).fit(np.vstack(seqs))
    for o, e in zip(
        out, _split_rows(reference.transform(np.vstack(seqs)), seqs), strict=True
    ):
        assert_allclose(o, e)
    assert_allclose(scaler.data_min_, reference.data_min_)
    assert_allclose(scaler.data_max_, reference.data_max_)


@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_scaler_with_mean_with_std(with_mean, with_std):
    X = RNG.normal(3.0, 2.0, size=(4, 5, 2))
    out = SequenceScaler(with_mean=with_mean, with_std=with_std).fit_transform(X)
    reference = StandardScaler(with_mean=with_mean, with_std=with_std)
    expected = reference.fit_transform(X.reshape(-1, 2)).reshape(X.shape)
    assert_allclose(out, expected)


def test_scaler_table_is_one_feature():
    X = RNG.normal(2.0, 3.0, size=(5, 8))
    df = pd.DataFrame(X, columns=[f"t{i}" for i in range(8)])
    scaler = SequenceScaler().fit(df)
    assert scaler.mean_.shape == (1,)
    assert_allclose(scaler.mean_, [X.mean()])
    out = scaler.transform(df)
    assert out.shape == X.shape
    assert_allclose(out, (X - X.mean()) / X.std())
    assert_array_equal(scaler.get_feature_names_out(), df.columns)
    # A table fit also scales univariate sequences of any length.
    seq = scaler.transform([X[0, :3]])
    assert_allclose(seq[0], out[0, :3])


@pytest.mark.parametrize("method, expected", [("standard", 0.0), ("minmax", -1.0)])
def test_scaler_constant_feature_does_not_divide_by_zero(method, expected):
    X = np.stack([np.full((3, 4), 7.0), RNG.normal(size=(3, 4))], axis=-1)
    scaler = SequenceScaler(method=method, feature_range=(-1, 1)).fit(X)
    assert_array_equal(scaler.scale_[0], 1.0 if method == "standard" else 0.5)
    out = scaler.transform(X)
    assert np.isfinite(out).all()
    assert_allclose(out[..., 0], expected, atol=1e-12)
    assert_allclose(scaler.inverse_transform(out), X)


_LAYOUTS = {
    "table": lambda dt: RNG.normal(size=(3, 5)).astype(dt),
    "array": lambda dt: RNG.normal(size=(3, 5, 2)).astype(dt),
    "list": lambda dt: _ragged([5, 1, 3], 2, dt),
    "list1d": lambda dt: _ragged([5, 1, 3], None, dt),
}


@pytest.mark.parametrize("layout", _LAYOUTS)
@pytest.mark.parametrize("method", ["standard", "minmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaler_keeps_layout_dtype_and_inverts(layout, method, dtype):
    X = _LAYOUTS[layout](dtype)
    before = [np.copy(x) for x in X]
    scaler = SequenceScaler(method=method).fit(X)
    out = scaler.transform(X)
    assert type(out) is type(X)
    for o, x, b in zip(out, X, before, strict=True):
        assert o.shape == x.shape and o.dtype == dtype
        assert not np.shares_memory(o, x)
        assert_array_equal(x, b)
    back = scaler.inverse_transform(out)
    for r, x in zip(back, X, strict=True):
        assert_allclose(r, x, rtol=1e-5, atol=1e-5)


def test_scaler_errors():
    seqs = _ragged([3, 2], 2)
    with pytest.raises(NotFittedError):
        SequenceScaler().transform(seqs)
    with pytest.raises(InvalidParameterError, match="method"):
        SequenceScaler(method="robust").fit(seqs)
    for bad in [(1, 0), (0,), ("a", "b")]:
        with pytest.raises(ValueError, match="feature_range must be a pair"):
            SequenceScaler(method="minmax", feature_range=bad).fit(seqs)
    scaler = SequenceScaler().fit(seqs)
    with pytest.raises(ValueError, match="3 features per time step.*expecting 2"):
        scaler.transform(_ragged([3], 3))


def test_scaler_dataframe_output_only_for_tables():
    X = RNG.normal(size=(4, 3))
    scaler = SequenceScaler().set_output(transform="pandas").fit(X)
    assert isinstance(scaler.transform(X), pd.DataFrame)
    scaler.fit(_ragged([3, 2], 1))
    with pytest.raises(ValueError, match="set_output"):
        scaler.transform(_ragged([3, 2], 1))


def test_pipeline_of_sequence_transformers_on_lists():
    seqs = _ragged([6, 2, 4], 2, loc=3.0)
    pipe = make_pipeline(SequenceScaler(), PadTruncate(maxlen=4, padding="pre"))
    out = pipe.fit_transform(seqs)
    assert [o.shape for o in out] == [(4, 2)] * 3
    scaled = SequenceScaler().fit_transform(seqs)
    assert_allclose(out[0], scaled[0][:4])
    assert_allclose(out[1][2:], scaled[1])
    assert not out[1][:2].any()


@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_scaler_round_trip_property(lengths):
    seqs = _ragged(lengths, 2, loc=10.0)
    scaler = SequenceScaler().fit(seqs)
    for r, s in zip(
        scaler.inverse_transform(scaler.transform(seqs)), seqs, strict=True
    ):
        assert_allclose(r, s, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------- make_windows


def _slow_windows(series_list, window, horizon, stride, target):
    """Reference: walk each series with a plain loop."""
    xs, ys = [], []
    for s in series_list:
        s2 = np.asarray(s, dtype=float).reshape(len(s), -1)
        t = 0
        while t + window + horizon <= len(s2):
            xs.append(s2[t : t + window])
            ys.append(s2[t + window : t + window + horizon])
            t += stride
    y = np.array(ys)  # (n_windows, horizon, n_features)
    if target is None:
        target = 0 if y.shape[2] == 1 else list(range(y.shape[2]))
    y = y[:, :, target]
    return np.array(xs), (y[:, 0] if horizon == 1 else y)


@pytest.mark.parametrize("n_features", [None, 1, 3])
@pytest.mark.parametrize("window, horizon, stride", [(1, 1, 1), (3, 1, 2), (4, 3, 1)])
@pytest.mark.parametrize("target", [None, 0, [0], "last_two"])
def test_make_windows_matches_loop(n_features, window, horizon, stride, target):
    if target == "last_two":
        if n_features != 3:
            target = [-1]
        else:
            target = [1, 2]
    series = RNG.normal(size=(11,) if n_features is None else (11, n_features))
    X, y = make_windows(series, window, horizon, stride=stride, target=target)
    X_ref, y_ref = _slow_windows([series], window, horizon, stride, target)
    assert_array_equal(X, X_ref)
    assert y.shape == y_ref.shape
    assert_array_equal(y, y_ref)


@pytest.mark.parametrize(
    "shape, horizon, target, y_shape",
    [
        ((10,), 1, None, (8,)),
        ((10,), 2, None, (7, 2)),
        ((10, 3), 1, None, (8, 3)),
        ((10, 3), 2, None, (7, 2, 3)),
        ((10, 3), 1, 1, (8,)),
        ((10, 3), 2, [0, 2], (7, 2, 2)),
    ],
)
def test_make_windows_target_shapes(shape, horizon, target, y_shape):
    X, y = make_windows(np.zeros(shape), 2, horizon, target=target)
    assert y.shape == y_shape
    assert X.shape == (y_shape[0], 2, 1 if len(shape) == 1 else shape[1])


def test_make_windows_list_goes_series_after_series():
    series = [np.arange(6.0), np.arange(100.0, 105.0), [7.0, 8.0, 9.0]]
    X, y = make_windows(series, 2, 1)
    X_ref, y_ref = _slow_windows(series, 2, 1, 1, None)
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)
    assert_array_equal(y, [2, 3, 4, 5, 102, 103, 104, 9])


def test_make_windows_is_chronological_for_time_series_split():
    X, y = make_windows(np.arange(60.0), 5, 2, stride=3)
    for train, test in TimeSeriesSplit(n_splits=4).split(X):
        assert X[train, 0, 0].max() < X[test, 0, 0].min()
        assert y[train, 0].max() < y[test, 0].min()


def test_make_windows_dtype_and_fresh_output():
    series = RNG.normal(size=(9, 2)).astype(np.float32)
    before = series.copy()
    X, y = make_windows(series, 3, 1)
    assert X.dtype == y.dtype == np.float32
    assert not np.shares_memory(X, series) and not np.shares_memory(y, series)
    X += 1
    assert_array_equal(series, before)
    assert make_windows(np.arange(5), 2)[0].dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(series=np.arange(4.0), window=3, horizon=2), ValueError, "too short"),
        (dict(series=[np.arange(9.0), np.arange(2.0)], window=2), ValueError, "1 has"),
        (dict(series=np.ones((9, 2)), window=2, target=2), ValueError, "out of range"),
        (dict(series=np.ones(9), window=2, target=[]), ValueError, "non-empty"),
        (dict(series=[np.ones(9), np.ones((9, 2))], window=2), ValueError, "1 is 2-D"),
        (dict(series=[np.ones((9, 2)), np.ones((9, 3))], window=2), ValueError, "3 f"),
        (dict(series=np.ones((3, 3, 3)), window=1), ValueError, "list"),
        (dict(series=[], window=1), ValueError, "empty"),
        (dict(series=[1.0, np.nan, 2.0], window=1), ValueError, "NaN"),
        (dict(series=np.ones(5), window=0), InvalidParameterError, "window"),
        (dict(series=np.ones(5), window=1, stride=0), InvalidParameterError, "stride"),
    ],
)
def test_make_windows_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_windows(**kwargs)


# ----------------------------------------------------- SlidingWindowTransformer


def _slow_frames(seq, window, stride):
    s2 = np.asarray(seq).reshape(len(seq), -1)
    starts = range(0, len(s2) - window + 1, stride)
    return np.array([s2[t : t + window].ravel() for t in starts])


@pytest.mark.parametrize("window, stride", [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_sliding_windows_match_loop_on_lists(window, stride):
    seqs = _ragged([4, 9, 6], 2)
    out = SlidingWindowTransformer(window, stride).fit_transform(seqs)
    assert isinstance(out, list)
    for o, s in zip(out, seqs, strict=True):
        assert_array_equal(o, _slow_frames(s, window, stride))
        assert not np.shares_memory(o, s)


def test_sliding_windows_on_arrays_and_tables():
    X = RNG.normal(size=(2, 7, 3)).astype(np.float32)
    out = SlidingWindowTransformer(3, 2).fit_transform(X)
    assert out.shape == (2, 3, 9) and out.dtype == np.float32
    for o, x in zip(out, X, strict=True):
        assert_array_equal(o, _slow_frames(x, 3, 2))
    table = RNG.normal(size=(2, 5))
    out = SlidingWindowTransformer(2).fit_transform(table)
    assert out.shape == (2, 4, 2)
    assert_array_equal(out[1], _slow_frames(table[1], 2, 1))


def test_sliding_windows_output_is_writeable_copy():
    X = RNG.normal(size=(2, 4, 1))
    out = SlidingWindowTransformer(1).fit_transform(X)
    assert not np.shares_memory(out, X)
    out[:] = 0.0  # must not raise: not a read-only strided view


def test_sliding_windows_errors():
    with pytest.raises(ValueError, match="sequence 1 of X has 2 time steps"):
        SlidingWindowTransformer(3).fit([np.ones(5), np.ones(2)])
    t = SlidingWindowTransformer(3).fit([np.ones(5)])
    with pytest.raises(ValueError, match="fewer than window=3"):
        t.transform([np.ones(1)])
    with pytest.raises(ValueError, match="expecting 1 features per time step"):
        t.transform([np.ones((5, 2))])
    with pytest.raises(InvalidParameterError, match="window"):
        SlidingWindowTransformer(0).fit([np.ones(5)])


# -------------------------------------------------------------- WideToSequence


def _slow_wide_to_3d(X, n_timesteps, n_features, order):
    out = np.empty((X.shape[0], n_timesteps, n_features))
    for i in range(X.shape[0]):
        for t in range(n_timesteps):
            for f in range(n_features):
                col = t * n_features + f if order == "time" else f * n_timesteps + t
                out[i, t, f] = X[i, col]
    return out


@pytest.mark.parametrize("order", ["time", "feature"])
@pytest.mark.parametrize("given_dim", ["n_timesteps", "n_features"])
def test_wide_to_sequence_both_orders(order, given_dim):
    X = RNG.normal(size=(3, 12))
    params = {"n_timesteps": 4} if given_dim == "n_timesteps" else {"n_features": 3}
    wide = WideToSequence(order=order, **params).fit(X)
    assert (wide.n_timesteps_, wide.n_features_) == (4, 3)
    out = wide.transform(X)
    assert_array_equal(out, _slow_wide_to_3d(X, 4, 3, order))
    assert not np.shares_memory(out, X)
    assert_array_equal(wide.inverse_transform(out), X)
    assert_array_equal(wide.inverse_transform(list(out)), X)


def test_wide_to_sequence_dataframe_and_dtype():
    df = pd.DataFrame(RNG.normal(size=(2, 4)).astype(np.float32), columns=list("abcd"))
    wide = WideToSequence(n_features=2).fit(df)
    assert_array_equal(wide.feature_names_in_, list("abcd"))
    out = wide.transform(df)
    assert out.dtype == np.float32
    assert_array_equal(out, _slow_wide_to_3d(df.to_numpy(), 2, 2, "time"))


def test_wide_to_sequence_errors():
    X = np.ones((2, 6))
    for params in [{}, {"n_timesteps": 2, "n_features": 3}]:
        with pytest.raises(ValueError, match="exactly one of n_timesteps"):
            WideToSequence(**params).fit(X)
    with pytest.raises(ValueError, match="not a multiple of n_features=4"):
        WideToSequence(n_features=4).fit(X)
    wide = WideToSequence(n_timesteps=3).fit(X)
    with pytest.raises(ValueError, match="is expecting 6 features"):
        wide.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="3 time steps and 2 features"):
        wide.inverse_transform(np.ones((2, 3, 3)))
    with pytest.raises(InvalidParameterError, match="order"):
        WideToSequence(n_features=1, order="space").fit(X)


# ------------------------------------------------------ PadTruncate / pad_sequences


def _slow_pad(seqs, maxlen, padding, truncating, value):
    """Reference Keras-style padding, one sequence at a time."""
    n_features = 1 if np.ndim(seqs[0]) == 1 else np.shape(seqs[0])[1]
    out = np.full((len(seqs), maxlen, n_features), value, dtype=float)
    for i, s in enumerate(seqs):
        s = np.asarray(s, dtype=float).reshape(len(s), n_features)
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, : len(s)] = s
        else:
            out[i, maxlen - len(s) :] = s
    return out


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [1, 3, 7])
@pytest.mark.parametrize("n_features", [None, 2])
def test_pad_sequences_matches_loop(padding, truncating, maxlen, n_features):
    seqs = _ragged([5, 1, 3], n_features)
    out = pad_sequences(
        seqs, maxlen, padding=padding, truncating=truncating, value=-1.5
    )
    assert_array_equal(out, _slow_pad(seqs, maxlen, padding, truncating, -1.5))


def test_pad_sequences_defaults_and_dtype():
    seqs = [[1, 2, 3], [4]]
    out = pad_sequences(seqs)
    assert out.shape == (2, 3, 1) and out.dtype == np.float64
    assert_array_equal(out[:, :, 0], [[1, 2, 3], [4, 0, 0]])
    assert pad_sequences(seqs, dtype=np.int32).dtype == np.int32
    assert pad_sequences([np.ones(2, np.float32)]).dtype == np.float32
    with pytest.raises(InvalidParameterError, match="padding"):
        pad_sequences(seqs, padding="middle")
    with pytest.raises(InvalidParameterError, match="maxlen"):
        pad_sequences(seqs, maxlen=0)


def test_pad_truncate_learns_maxlen_and_keeps_layout():
    train = _ragged([4, 2], 2)
    pt = PadTruncate(truncating="pre", padding="pre").fit(train)
    assert pt.maxlen_ == 4
    test = _ragged([6, 1], 2)
    before = [t.copy() for t in test]
    out = pt.transform(test)
    assert isinstance(out, list) and [o.shape for o in out] == [(4, 2), (4, 2)]
    expected = _slow_pad(test, 4, "pre", "pre", 0.0)
    assert_array_equal(np.stack(out), expected)
    for t, b in zip(test, before, strict=True):
        assert_array_equal(t, b)
    out1d = PadTruncate(maxlen=3).fit_transform(_ragged([5, 2], None))
    assert [o.shape for o in out1d] == [(3,), (3,)]
    out3d = PadTruncate(maxlen=2, value=9.0).fit_transform(np.ones((2, 3, 2)))
    assert out3d.shape == (2, 2, 2) and (out3d == 1).all()
    table = PadTruncate(maxlen=5, value=9.0).fit_transform(np.ones((2, 3)))
    assert_array_equal(table, [[1, 1, 1, 9, 9]] * 2)


@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    padding=st.sampled_from(["pre", "post"]),
)
def test_pad_then_read_back_property(lengths, padding):
    seqs = _ragged(lengths, 2)
    out = pad_sequences(seqs, padding=padding, value=np.nan)
    assert out.shape == (len(seqs), max(lengths), 2)
    for o, s in zip(out, seqs, strict=True):
        kept = o[: len(s)] if padding == "post" else o[len(o) - len(s) :]
        assert_array_equal(kept, s)
        assert np.isnan(o).sum() == 2 * (len(o) - len(s))
