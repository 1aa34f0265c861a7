"""cell="wavenet" through the network and the estimators."""

import numpy as np
import pytest

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._network import Architecture, draw_masks, init_params
from skrnn.datasets import make_adding_problem

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("loss", ["squared_error", "log_loss"])
def test_training_loss_gradient_matches_finite_differences(return_sequences, loss):
    """``batch_loss_grad`` as training calls it on the convolution stack: sample
    weights (per step for sequences), L2 penalty, a fixed input-dropout mask."""
    rng = np.random.RandomState(0)
    arch = Architecture(
        "wavenet",
        (3, 3, 3),
        n_inputs=2,
        n_outputs=2,
        return_sequences=return_sequences,
        input_dropout=0.3,
        dropout=0.2,
    )
    params = init_params(arch, np.random.RandomState(1))
    for p in params.values():
        p += rng.normal(scale=0.3, size=p.shape)
    lengths = np.array([6, 4, 1])
    X = rng.normal(size=(3, 6, 2))
    shape = (3, 6) if return_sequences else (3,)
    if loss == "log_loss":
        Y = np.eye(2)[rng.randint(2, size=shape)]
    else:
        Y = rng.normal(size=(*shape, 2))
    if return_sequences:
        steps = (np.arange(6)[None, :] < lengths[:, None]) * rng.uniform(0.5, 2, shape)
        batch = TrainData(X, lengths, Y, np.ones(3), steps)
    else:
        batch = TrainData(X, lengths, Y, np.array([1.0, 2.0, 0.5]))
    masks = draw_masks(arch, rng, 3, np.float64)

    def f():
        return batch_loss_grad(arch, loss, params, batch, 0.1, masks=masks)[0]

    _, grads = batch_loss_grad(arch, loss, params, batch, 0.1, masks=masks)
    for name, p in params.items():
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + 1e-6
            up = f()
            p[i] = old - 1e-6
            num[i] = (up - f()) / 2e-6
            p[i] = old
        scale = max(np.abs(num).max(), 1e-8)
        assert np.abs(num - grads[name]).max() / scale < 1e-5, name


def test_many_to_one_reads_the_last_valid_step():
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(n, 2)) for n in (7, 3, 5)]
    reg = RNNRegressor(cell="wavenet", hidden_layer_sizes=(4, 4), max_iter=2)
    reg.fit(seqs, rng.normal(size=3))
    alone = [reg.predict([s])[0] for s in seqs]
    np.testing.assert_allclose(reg.predict(seqs), alone, atol=1e-12)
    # padding after a sequence's end changes nothing
    longer = [np.vstack([s, 100 + np.zeros((4, 2))]) for s in seqs]
    assert not np.allclose(reg.predict(longer), alone)
    assert reg.receptive_field_ == 4


@pytest.mark.slow  # 10 s; the default run keeps the wavenet estimator checks
def test_learns_the_adding_problem():
    X, y = make_adding_problem(1000, 50, random_state=0)
    Xt, yt = make_adding_problem(300, 50, random_state=1)
    reg = RNNRegressor(
        cell="wavenet",
        hidden_layer_sizes=(16,) * 6,
        patch_size=1,  # the stack itself sees the 50 steps
        max_iter=40,
        batch_size=200,
        n_iter_no_change=10,
        random_state=0,
    ).fit(X, y)
    assert reg.receptive_field_ == 64
    assert np.mean((reg.predict(Xt) - yt) ** 2) < 0.02  # baseline 0.167


def test_classifier_and_seq2seq_accept_wavenet():
    rng = np.random.RandomState(0)
    t = np.linspace(0, 6, 24)
    freq = rng.uniform(0.5, 2.0, 200)
    X = np.sin(freq[:, None] * t[None, :])[:, :, None]
    budget = {"max_iter": 200, "batch_size": 200, "n_iter_no_change": 10}
    clf = RNNClassifier(
        cell="wavenet", hidden_layer_sizes=(8,) * 4, random_state=0, **budget
    )
    assert clf.fit(X, freq > 1.25).score(X, freq > 1.25) > 0.9
    ae = Seq2SeqTransformer(
        cell="wavenet",
        hidden_layer_sizes=(16,) * 5,
        n_components=4,
        random_state=0,
        early_stopping=False,  # one fit: the wavenet encoder is the subject
        **budget,
    ).fit(X)
    assert ae.transform(X).shape == (200, 4)
    assert "decoder.weight_hh_l0" in ae.state_dict_  # the GRU decoder
    assert ae.score(X) > 0.5


@pytest.mark.parametrize(
    "params, match",
    [
        ({"bidirectional": True}, "bidirectional"),
        ({"recurrent_dropout": 0.2}, "recurrent_dropout"),
        ({"bptt_steps": 5}, "bptt_steps"),
        ({"hidden_layer_sizes": (8, 16)}, "equal widths"),
    ],
)
def test_settings_that_make_no_sense_are_refused(params, match):
    X = np.zeros((4, 6, 1))
    with pytest.raises(ValueError, match=match):
        RNNRegressor(cell="wavenet", **params).fit(X, np.zeros(4))


def test_float32_and_determinism():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 12, 2)).astype(np.float32)
    y = X[:, -3:, 0].sum(axis=1)
    fits = [
        RNNRegressor(
            cell="wavenet",
            hidden_layer_sizes=(4,) * 3,
            max_iter=3,
            dropout=0.1,
            random_state=3,
        ).fit(X, y)
        for _ in range(2)
    ]
    for name, w in fits[0].state_dict_.items():
        assert w.dtype == np.float32
        assert np.array_equal(w, fits[1].state_dict_[name])
    assert fits[0].predict(X).dtype == np.float32
