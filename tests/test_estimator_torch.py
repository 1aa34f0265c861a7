"""Estimators exchange weights with PyTorch: keys, shapes and outputs match."""

import copy

import numpy as np
import pytest
from _estimator_cases import (
    _array,
    _ragged,
    _weights_equal,
)
from numpy.testing import assert_allclose

from skrnn import RNNClassifier, RNNRegressor
from skrnn._pooling import PARTS

torch = pytest.importorskip(
    "torch",
    reason="PyTorch is optional (the benchmark extra); these tests compare with it",
)
pack_padded_sequence = torch.nn.utils.rnn.pack_padded_sequence
pad_packed_sequence = torch.nn.utils.rnn.pad_packed_sequence

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ----------------------------------------------------------- PyTorch weights

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
STACKS = [((4,), False), ((4, 4), True)]


def _torch_net(cell, sizes, bidirectional, n_features, n_out, seed=0, pooling="last"):
    """A torch recurrent module and linear head, and their joint state dict."""
    torch.manual_seed(seed)
    rnn = TORCH[cell](
        n_features,
        sizes[0],
        num_layers=len(sizes),
        batch_first=True,
        bidirectional=bidirectional,
    ).double()
    width = sizes[0] * (1 + bidirectional) * len(PARTS[pooling])
    head = torch.nn.Linear(width, n_out).double()
    state = {k: v.numpy().copy() for k, v in rnn.state_dict().items()}
    state.update({f"head.{k}": v.numpy().copy() for k, v in head.state_dict().items()})
    return rnn, head, state


def _torch_raw(rnn, head, seqs, return_sequences=False, pooling="last"):
    """Head outputs on the pooled outputs (or every step) of variable-length input.

    ``"last"`` reads PyTorch's ``h_n``, ``"mean"`` and ``"max"`` the mean and
    the maximum of the outputs over each sequence's valid steps, ``"concat"``
    the last and the mean side by side, ``"last_max_mean"`` all three.
    """
    lengths = [len(s) for s in seqs]
    X = np.zeros((len(seqs), max(lengths), seqs[0].shape[1]))
    for i, s in enumerate(seqs):
        X[i, : len(s)] = s
    with torch.no_grad():
        if return_sequences:
            out, _ = rnn(torch.from_numpy(X))
            return head(out).numpy()
        packed = pack_padded_sequence(
            torch.from_numpy(X), lengths, batch_first=True, enforce_sorted=False
        )
        out, state = rnn(packed)
        h = state[0] if isinstance(rnn, torch.nn.LSTM) else state
        last = torch.cat([h[-2], h[-1]], dim=1) if rnn.bidirectional else h[-1]
        padded, _ = pad_packed_sequence(out, batch_first=True)
        mean = padded.sum(dim=1) / torch.tensor(lengths, dtype=padded.dtype)[:, None]
        padded, _ = pad_packed_sequence(
            out, batch_first=True, padding_value=float("-inf")
        )
        top = padded.max(dim=1).values
        readout = {
            "last": last,
            "mean": mean,
            "max": top,
            "concat": torch.cat([last, mean], 1),
            "last_max_mean": torch.cat([last, top, mean], 1),
        }
        return head(readout[pooling]).numpy()


@pytest.mark.parametrize("sizes, bidirectional", STACKS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_dict_has_torch_keys_and_shapes(cell, sizes, bidirectional):
    X = _array(F=3)
    y = np.stack([X.sum(axis=(1, 2)), X[:, -1, 0]], axis=1)
    reg = RNNRegressor(  # the network alone: a PyTorch module has no linear skip
        cell,
        sizes,
        bidirectional=bidirectional,
        max_iter=1,
        linear_skip=0,
        random_state=0,
    ).fit(X, y)
    _, _, state = _torch_net(cell, sizes, bidirectional, 3, 2, pooling=reg.pooling)
    assert list(reg.state_dict_) == list(state)
    assert {k: v.shape for k, v in reg.state_dict_.items()} == {
        k: v.shape for k, v in state.items()
    }


@pytest.mark.parametrize("pooling", list(PARTS))
@pytest.mark.parametrize("sizes, bidirectional", STACKS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_regressor_with_torch_weights_predicts_torch_output(
    cell, sizes, bidirectional, pooling
):
    X = _ragged(F=3)
    y = np.stack([[x.sum() for x in X], [x[-1, 0] for x in X]], axis=1)
    reg = RNNRegressor(
        cell,
        sizes,
        bidirectional=bidirectional,
        pooling=pooling,
        max_iter=1,
        random_state=0,
        linear_skip=0,
    ).fit(X, y)
    rnn, head, state = _torch_net(cell, sizes, bidirectional, 3, 2, pooling=pooling)
    reg.load_state_dict(state)
    raw = _torch_raw(rnn, head, X, pooling=pooling)
    expected = raw * reg.target_scale_ + reg.target_mean_
    assert_allclose(reg.predict(X), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_per_step_regressor_with_torch_weights_predicts_torch_output(cell):
    X = _array(F=3)
    y = X.cumsum(axis=1)[:, :, 0]
    reg = RNNRegressor(
        cell, (4,), return_sequences=True, max_iter=1, random_state=0, linear_skip=0
    )
    reg.fit(X, y)
    rnn, head, state = _torch_net(cell, (4,), False, 3, 1)
    reg.load_state_dict(state)
    raw = _torch_raw(rnn, head, list(X), return_sequences=True)[:, :, 0]
    expected = raw * reg.target_scale_[0] + reg.target_mean_[0]
    assert_allclose(reg.predict(X), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_classifier_with_torch_weights_gives_torch_probabilities(cell, n_classes):
    X = _ragged(F=3)
    y = np.arange(len(X)) % n_classes
    clf = RNNClassifier(cell, (4,), bidirectional=False, max_iter=1, random_state=0)
    clf.fit(X, y)
    n_out = 1 if n_classes == 2 else n_classes
    rnn, head, state = _torch_net(cell, (4,), False, 3, n_out, pooling=clf.pooling)
    clf.load_state_dict(state)
    logits = torch.from_numpy(_torch_raw(rnn, head, X, pooling=clf.pooling))
    if n_classes == 2:
        p = torch.sigmoid(logits).numpy()[:, 0]
        expected = np.stack([1 - p, p], axis=1)
    else:
        expected = torch.softmax(logits, dim=1).numpy()
    assert_allclose(clf.predict_proba(X), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.pop("weight_hh_l0"), r"missing \['weight_hh_l0'\]"),
        (lambda s: s.update(bogus=np.zeros(1)), r"unexpected \['bogus'\]"),
        (lambda s: s.update({"head.weight": np.zeros((1, 5))}), r"head\.weight.*shape"),
        (lambda s: s["bias_ih_l0"].__setitem__(0, np.nan), r"bias_ih_l0.*NaN"),
    ],
    ids=["missing", "unexpected", "shape", "nan"],
)
def test_load_state_dict_rejects_bad_weights_and_keeps_old_ones(change, match):
    X = _array(F=3)
    reg = RNNRegressor(
        "gru", (4,), bidirectional=False, max_iter=1, random_state=0, linear_skip=0
    )
    reg.fit(X, X.sum(axis=(1, 2)))
    before = copy.deepcopy(reg.state_dict_)
    _, _, state = _torch_net("gru", (4,), False, 3, 1)
    change(state)
    with pytest.raises(ValueError, match=match):
        reg.load_state_dict(state)
    assert _weights_equal(reg.state_dict_, before)
