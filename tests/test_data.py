"""Tests of skrnn._data and skrnn._targets: sequences into padded batches and back."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.base import BaseEstimator

from skrnn._data import (
    length_mask,
    restore_kind,
    to_padded,
    unpad,
    validate_sequence_data,
)
from skrnn._targets import to_padded_targets

RNG = np.random.default_rng(0)


def _ragged(lengths, n_features, dtype=np.float64):
    """Random sequences of the given lengths, 2-D or 1-D when n_features is None."""
    shape = (lambda n: (n,)) if n_features is None else (lambda n: (n, n_features))
    return [RNG.normal(size=shape(n)).astype(dtype) for n in lengths]


def _assert_padded_matches(X3, lengths, seqs):
    """Each sequence sits at the start of its row and the rest is exactly zero."""
    assert X3.shape == (len(seqs), max(len(s) for s in seqs), X3.shape[2])
    assert_array_equal(lengths, [len(s) for s in seqs])
    for i, s in enumerate(seqs):
        assert_array_equal(X3[i, : len(s)], np.reshape(s, (len(s), -1)))
        assert not X3[i, len(s) :].any()


# --------------------------------------------------------------------- layouts


def test_table_rows_become_univariate_sequences():
    X = RNG.normal(size=(4, 7))
    X3, lengths, kind = to_padded(X)
    assert kind == "table"
    assert X3.shape == (4, 7, 1)
    assert_array_equal(X3[:, :, 0], X)
    assert_array_equal(lengths, [7] * 4)
    assert lengths.dtype == np.int64


def test_dataframe_is_a_table():
    df = pd.DataFrame(RNG.normal(size=(3, 5)), columns=list("abcde"))
    X3, lengths, kind = to_padded(df)
    assert kind == "table"
    assert_array_equal(X3[:, :, 0], df.to_numpy())


def test_3d_array_is_copied_as_is():
    X = RNG.normal(size=(3, 5, 2))
    X3, lengths, kind = to_padded(X)
    assert kind == "array"
    assert_array_equal(X3, X)
    assert_array_equal(lengths, [5, 5, 5])


@pytest.mark.parametrize("container", [list, tuple])
def test_ragged_2d_list_is_right_padded(container):
    seqs = _ragged([3, 1, 5], 2)
    X3, lengths, kind = to_padded(container(seqs))
    assert kind == "list"
    _assert_padded_matches(X3, lengths, seqs)


def test_ragged_1d_list_is_univariate():
    seqs = _ragged([2, 4], None)
    X3, lengths, kind = to_padded(seqs)
    assert kind == "list1d"
    assert X3.shape[2] == 1
    _assert_padded_matches(X3, lengths, seqs)


def test_equal_length_list_of_arrays_stays_a_list():
    seqs = _ragged([3, 3], 2)
    _, _, kind = to_padded(seqs)
    assert kind == "list"


def test_pandas_elements_and_object_array_of_sequences():
    seqs = _ragged([2, 3], 2)
    frames = [pd.DataFrame(s) for s in seqs]
    X3, lengths, kind = to_padded(frames)
    assert kind == "list"
    _assert_padded_matches(X3, lengths, seqs)
    series = [pd.Series(s[:, 0]) for s in seqs]
    assert to_padded(series)[2] == "list1d"
    holder = np.empty(2, dtype=object)
    holder[:] = seqs
    X3b, _, kind_b = to_padded(holder)
    assert kind_b == "list"
    assert_array_equal(X3b, X3)


def test_nested_python_lists_read_like_scikit_learn():
    assert to_padded([[1, 2, 3], [4, 5, 6]])[2] == "table"
    assert to_padded([[[1, 2]], [[3, 4]]])[2] == "array"
    X3, lengths, kind = to_padded([[1, 2, 3], [4]])
    assert kind == "list1d"
    _assert_padded_matches(X3, lengths, [[1, 2, 3], [4]])


# ----------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "in_dtype, out_dtype",
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.float16, np.float64),
        (np.int32, np.float64),
        (np.int64, np.float64),
        (np.uint8, np.float64),
        (np.bool_, np.float64),
    ],
)
@pytest.mark.parametrize("layout", ["table", "array", "list", "list1d"])
def test_dtype_rules(in_dtype, out_dtype, layout):
    raw = {
        "table": np.ones((2, 3)),
        "array": np.ones((2, 3, 2)),
        "list": [np.ones((3, 2)), np.ones((1, 2))],
        "list1d": [np.ones(3), np.ones(1)],
    }[layout]
    X = (
        [a.astype(in_dtype) for a in raw]
        if isinstance(raw, list)
        else raw.astype(in_dtype)
    )
    X3, _, _ = to_padded(X)
    assert X3.dtype == out_dtype


def test_mixed_float32_float64_list_becomes_float64():
    seqs = [np.ones(2, np.float32), np.ones(3, np.float64)]
    assert to_padded(seqs)[0].dtype == np.float64


def test_forced_dtype_and_numeric_strings():
    X3, _, _ = to_padded(np.arange(6.0).reshape(2, 3), dtype=np.float32)
    assert X3.dtype == np.float32
    X3, _, _ = to_padded(np.array([["1.5", "2"]], dtype=object))
    assert_array_equal(X3[0, :, 0], [1.5, 2.0])
    with pytest.raises(TypeError, match="numeric dtype"):
        to_padded(np.ones((2, 2)), dtype=str)


# -------------------------------------------------------- never touch the input


@pytest.mark.parametrize(
    "X",
    [
        RNG.normal(size=(3, 4)),
        RNG.normal(size=(3, 4, 2)),
        RNG.normal(size=(3, 4)).astype(np.float32),
        _ragged([4, 4], 2),
        _ragged([2, 5], 2),
        _ragged([2, 5], None),
    ],
    ids=["table", "array", "table32", "list-equal", "list", "list1d"],
)
def test_output_is_fresh_and_input_unchanged(X):
    before = [np.copy(x) for x in X]
    X3, _, _ = to_padded(X)
    for x in X:
        assert not np.shares_memory(X3, x)
    X3 += 1.0
    for x, b in zip(X, before, strict=True):
        assert_array_equal(x, b)


def test_dataframe_input_unchanged():
    df = pd.DataFrame(RNG.normal(size=(3, 4)))
    before = df.copy()
    X3, _, _ = to_padded(df)
    X3[:] = 0
    pd.testing.assert_frame_equal(df, before)


# ----------------------------------------------------------------------- errors

_BAD_INPUTS = [
    (None, TypeError, "None"),
    (3.0, ValueError, "scalar"),
    (np.float64(2.0), ValueError, "scalar"),
    ("abc", TypeError, "str"),
    (np.ones(5), ValueError, r"reshape\(1, -1\)"),
    ([1.0, 2.0, 3.0], ValueError, "1-D"),
    (np.ones((2, 2, 2, 2)), ValueError, "4 dimensions"),
    (np.ones((0, 3)), ValueError, "0 samples"),
    ([], ValueError, "0 samples"),
    (np.ones((2, 0)), ValueError, "0 time steps"),
    ([np.ones(3), np.ones(0)], ValueError, "sequence 1 of X is empty"),
    (np.ones((2, 3, 0)), ValueError, "0 features"),
    ([np.ones((3, 0))], ValueError, "sequence 0 of X has 0 features"),
    ([np.ones((2, 2)), np.ones((2, 3))], ValueError, "sequence 1 .* 3 features"),
    ([np.ones((2, 2)), np.ones(2)], ValueError, "sequence 1 of X is 1-D"),
    ([np.ones((2, 2, 2))], ValueError, "sequence 0 of X has 3 dimensions"),
    ([np.ones(2), 5.0], ValueError, "sequence 1 of X is a scalar"),
    (np.array([[1.0, np.nan]]), ValueError, "NaN.*impute"),
    (np.array([[1.0, np.inf]]), ValueError, "infinity.*impute"),
    ([np.ones(2), np.array([1.0, np.nan])], ValueError, "sequence 1 of X .*NaN"),
    (np.ones((2, 2)) * 1j, ValueError, "Complex data not supported"),
    ([np.ones(2) * 1j], ValueError, "Complex"),
    (np.array([["a", "b"]]), ValueError, "cannot be converted to numbers"),
    (np.array([[{}, 1]], dtype=object), TypeError, "cannot be converted"),
    (np.ones((2, 2), dtype="datetime64[s]"), TypeError, "non-numeric"),
    (sparse.csr_matrix(np.ones((2, 2))), TypeError, r"sparse.*toarray"),
    ((x for x in range(3)), TypeError, "generator"),
]


@pytest.mark.parametrize("X, exc, match", _BAD_INPUTS)
def test_bad_input_raises_clear_error(X, exc, match):
    with pytest.raises(exc, match=match):
        to_padded(X)


def test_pandas_missing_values_are_reported_as_nan():
    df = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64")})
    with pytest.raises(ValueError, match="NaN"):
        to_padded([df])


def test_error_names_the_array():
    with pytest.raises(ValueError, match="sequences has 0 samples"):
        to_padded([], name="sequences")


def test_narrowing_overflow_is_reported():
    with (
        pytest.raises(ValueError, match="overflow"),
        np.errstate(over="ignore"),
    ):
        to_padded(np.array([[1e300]]), dtype=np.float32)


# ---------------------------------------------------------------------- targets


def test_targets_from_list_are_padded_with_mask():
    lengths = np.array([3, 1])
    y = [np.array([1, 2, 3]), np.array([4])]
    Y3, mask = to_padded_targets(y, lengths)
    assert Y3.shape == (2, 3, 1)
    assert Y3.dtype == np.float64
    assert_array_equal(mask, [[True, True, True], [True, False, False]])
    assert_array_equal(Y3[mask, 0], [1, 2, 3, 4])
    assert not Y3[~mask].any()


def test_targets_from_arrays_ignore_padding_steps():
    lengths = np.array([2, 1])
    y = np.array([[1.0, 2.0], [3.0, np.nan]])  # NaN only in the padding
    Y3, mask = to_padded_targets(y, lengths)
    assert_array_equal(Y3[:, :, 0], [[1, 2], [3, 0]])
    y3 = RNG.normal(size=(2, 2, 3)).astype(np.float32)
    Y3, _ = to_padded_targets(y3, lengths)
    assert Y3.dtype == np.float32 and Y3.shape == (2, 2, 3)
    assert_array_equal(Y3[0], y3[0])
    assert not np.shares_memory(Y3, y3)


def test_string_labels_keep_object_dtype():
    Y3, mask = to_padded_targets([["a", "b"], ["c"]], np.array([2, 1]))
    assert Y3.dtype == object
    assert Y3[mask, 0].tolist() == ["a", "b", "c"]
    assert Y3[1, 1, 0] is None


def test_multi_output_target_list():
    y = [RNG.normal(size=(3, 2)), RNG.normal(size=(2, 2))]
    Y3, mask = to_padded_targets(y, np.array([3, 2]))
    assert Y3.shape == (2, 3, 2)
    assert_array_equal(Y3[1, :2], y[1])


@pytest.mark.parametrize(
    "y, match",
    [
        ([np.ones(3), np.ones(4)], r"y\[1\] has 4 time steps but X sequence 1 has 2"),
        ([np.ones(3)], "1 target sequences but X has 2"),
        (np.ones((2, 5)), "5 time steps but the longest sequence in X has 3"),
        (np.ones((3, 3)), "3 samples but X has 2"),
        (np.ones(2), "per-step targets need shape"),
        ([np.ones((3, 2)), np.ones((2, 3))], r"y\[1\] has 3 outputs"),
        ([np.ones(3), np.ones((2, 1))], r"y\[1\] is 2-D"),
        ([np.ones(3), np.array([1.0, np.nan])], "NaN"),
        (np.ones((2, 3)) * 1j, "Complex"),
    ],
)
def test_bad_targets_raise(y, match):
    with pytest.raises(ValueError, match=match):
        to_padded_targets(y, np.array([3, 2]))


def test_targets_none_raises_type_error():
    with pytest.raises(TypeError, match="None"):
        to_padded_targets(None, np.array([2]))


# ------------------------------------------------------- unpad / restore_kind


def test_length_mask_matches_a_loop():
    lengths = np.array([1, 4, 2])
    mask = length_mask(lengths, 4)
    expected = [[t < n for t in range(4)] for n in lengths]
    assert_array_equal(mask, expected)


def test_unpad_returns_copies():
    Y3 = RNG.normal(size=(2, 3, 2))
    parts = unpad(Y3, np.array([3, 1]))
    assert [p.shape for p in parts] == [(3, 2), (1, 2)]
    assert_array_equal(parts[1], Y3[1, :1])
    assert not np.shares_memory(parts[0], Y3)


@pytest.mark.parametrize(
    "X",
    [
        RNG.normal(size=(3, 4)),
        RNG.normal(size=(3, 4, 2)),
        _ragged([2, 5, 1], 3),
        _ragged([2, 5, 1], None),
    ],
    ids=["table", "array", "list", "list1d"],
)
def test_restore_kind_inverts_to_padded(X):
    restored = restore_kind(*to_padded(X))
    assert type(restored) is type(X)
    for r, x in zip(restored, X, strict=True):
        assert_array_equal(r, x)


@pytest.mark.parametrize(
    "X3, lengths, kind, match",
    [
        (np.ones((2, 3, 2)), np.array([3, 3]), "table", "univariate"),
        (np.ones((2, 3, 2)), np.array([3, 3]), "list1d", "univariate"),
        (np.ones((2, 3, 1)), np.array([3, 2]), "array", "every sequence"),
        (np.ones((2, 3, 1)), np.array([3, 3]), "frame", "kind must be one of"),
    ],
)
def test_restore_kind_errors(X3, lengths, kind, match):
    with pytest.raises(ValueError, match=match):
        restore_kind(X3, lengths, kind)


# ------------------------------------------------------- validate_sequence_data


class _Est(BaseEstimator):
    pass


def test_validate_table_behaves_like_scikit_learn():
    est = _Est()
    df = pd.DataFrame(RNG.normal(size=(3, 4)), columns=list("abcd"))
    X3, _, kind = validate_sequence_data(est, df, reset=True)
    assert kind == "table" and X3.shape == (3, 4, 1)
    assert est.n_features_in_ == 4
    assert_array_equal(est.feature_names_in_, list("abcd"))
    with (
        pytest.raises(ValueError, match="is expecting 4 features"),
        pytest.warns(UserWarning, match="feature names"),
    ):
        validate_sequence_data(est, np.ones((2, 3)), reset=False)
    # A fit on a table accepts univariate sequences afterwards.
    _, lengths, kind = validate_sequence_data(est, _ragged([2, 6], None), reset=False)
    assert kind == "list1d" and lengths.tolist() == [2, 6]


def test_validate_sequences_sets_step_features():
    est = _Est()
    validate_sequence_data(est, pd.DataFrame(np.ones((2, 3))), reset=True)
    validate_sequence_data(est, _ragged([2, 3], 2), reset=True)
    assert est.n_features_in_ == 2
    assert not hasattr(est, "feature_names_in_")
    with pytest.raises(ValueError, match="3 features per time step.*expecting 2"):
        validate_sequence_data(est, np.ones((2, 4, 3)), reset=False)


# ---------------------------------------------------------- hypothesis properties

_lengths = st.lists(st.integers(1, 6), min_size=1, max_size=5)


@given(lengths=_lengths, n_features=st.one_of(st.none(), st.integers(1, 3)))
def test_ragged_lists_round_trip(lengths, n_features):
    seqs = _ragged(lengths, n_features)
    X3, got_lengths, kind = to_padded(seqs)
    _assert_padded_matches(X3, got_lengths, seqs)
    restored = restore_kind(X3, got_lengths, kind)
    assert len(restored) == len(seqs)
    for r, s in zip(restored, seqs, strict=True):
        assert r.shape == s.shape
        assert_array_equal(r, s)


@given(
    X=arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 3)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_arrays_round_trip_through_unpad(X):
    X3, lengths, kind = to_padded(X)
    assert X3.dtype == np.float32
    assert_array_equal(restore_kind(X3, lengths, kind), X)
    assert_array_equal(np.stack(unpad(X3, lengths)), X)
