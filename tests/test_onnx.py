"""ONNX export: onnxruntime gives what predict / predict_proba / transform give."""

import copy

import numpy as np
import pytest

ort = pytest.importorskip(
    "onnxruntime", reason="the ONNX export tests need the onnx extra (onnxruntime)"
)
skl2onnx = pytest.importorskip("skl2onnx", reason="the ONNX export needs skl2onnx")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer  # noqa: E402
from skrnn._pooling import PARTS  # noqa: E402
from skrnn.onnx import padded, to_onnx  # noqa: E402
from skrnn.preprocessing import (  # noqa: E402
    PadTruncate,
    SequenceScaler,
    SlidingWindowTransformer,
    WideToSequence,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # small wavenets on long sequences, on purpose
    pytest.mark.filterwarnings("ignore:cell='wavenet' with:UserWarning"),
]

#: float32 graphs match to 1e-5, float64 ones to 1e-10 (the brief's tolerances).
TOL = {np.float32: 1e-5, np.float64: 1e-10}


def run(onx, *inputs):
    """Run an ONNX model on its inputs in order; all outputs."""
    sess = ort.InferenceSession(onx.SerializeToString())
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs, strict=True)))


def op_types(onx):
    return {node.op_type for node in onx.graph.node}


def assert_close(out, ref, dtype, lengths=None):
    """Equal to the tolerance of ``dtype``; per step only on the valid steps."""
    tol = TOL[dtype]
    if isinstance(ref, list):
        for i, r in enumerate(ref):
            np.testing.assert_allclose(out[i, : len(r)], r, rtol=tol, atol=tol)
    else:
        assert out.shape == np.shape(ref)
        np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


def _data(rng, dtype, ragged, n=12, n_features=2, T=5):
    """``n`` sequences of ``T`` steps, or of 1 to ``T + 1`` steps when ragged."""
    if ragged:
        return [
            rng.normal(size=(k, n_features)).astype(dtype)
            for k in rng.randint(1, T + 2, n)
        ]
    return rng.normal(size=(n, T, n_features)).astype(dtype)


def _targets(rng, X, per_step, classify):
    seqs = list(X)
    if per_step:
        y = [s[:, 0] > 0 if classify else s.sum(axis=1) for s in seqs]
        return y if isinstance(X, list) else np.array(y)
    y = np.array([s.sum() for s in seqs])
    return (y > 0).astype(int) if classify else y


configs = st.fixed_dictionaries(
    {
        "cell": st.sampled_from(["rnn", "lstm", "gru", "statal", "wavenet"]),
        "hidden": st.sampled_from([(3,), (4, 2), (2, 2, 2)]),
        "bidirectional": st.booleans(),
        "return_sequences": st.booleans(),
        "dtype": st.sampled_from([np.float32, np.float64]),
        "ragged": st.booleans(),
        "classify": st.booleans(),
        "relu": st.booleans(),
        "n_states": st.sampled_from([1, 3]),
        "pooling": st.sampled_from(["last", "mean", "max", "concat", "last_max_mean"]),
        "patch_size": st.sampled_from([1, 3, "auto"]),
    }
)

#: Steps of the sequences drawn with ``patch_size="auto"``: long enough that
#: a many-to-one model reads patches of ``ceil(70 / 32) = 3`` steps.
LONG = 70


@settings(max_examples=30)
@given(configs)
def test_onnxruntime_matches_predict(cfg):
    rng = np.random.RandomState(0)
    wavenet = cfg["cell"] == "wavenet"
    hidden = (cfg["hidden"][0],) * len(cfg["hidden"]) if wavenet else cfg["hidden"]
    Est = RNNClassifier if cfg["classify"] else RNNRegressor
    patch_size = cfg["patch_size"]
    if cfg["return_sequences"] and patch_size == 3:
        patch_size = 1  # per-step outputs read step by step
    T = LONG if patch_size == "auto" else 5
    est = Est(
        cfg["cell"],
        hidden,
        bidirectional=cfg["bidirectional"] and not wavenet,
        nonlinearity="relu" if cfg["relu"] else "tanh",
        n_states=cfg["n_states"],
        return_sequences=cfg["return_sequences"],
        pooling=cfg["pooling"],
        patch_size=patch_size,
        max_iter=2,
        random_state=0,
    )
    X = _data(rng, cfg["dtype"], cfg["ragged"], T=T)
    est.fit(X, _targets(rng, X, cfg["return_sequences"], cfg["classify"]))
    onx = to_onnx(est, X[:2])
    # another batch size, other lengths (longer ones too)
    Xt = _data(rng, cfg["dtype"], cfg["ragged"], n=7, T=T + 3)
    inputs = padded(Xt) if cfg["ragged"] else (Xt,)
    outs = run(onx, *inputs)
    if cfg["classify"]:
        labels = est.predict(Xt)
        for i, ref in enumerate(labels if isinstance(labels, list) else [labels]):
            got = outs[0][i, : len(ref)] if isinstance(labels, list) else outs[0]
            np.testing.assert_array_equal(got, ref)
        assert_close(outs[1], est.predict_proba(Xt), cfg["dtype"])
    else:
        assert_close(outs[0], est.predict(Xt), cfg["dtype"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "statal", "wavenet"])
def test_every_cell_in_both_dtypes_on_a_ragged_batch(cell, dtype):
    rng = np.random.RandomState(10)
    X = _data(rng, dtype, ragged=True)
    wavenet = cell == "wavenet"
    est = RNNRegressor(
        cell, (3, 3), bidirectional=not wavenet, n_states=2, max_iter=2, random_state=0
    ).fit(X, _targets(rng, X, False, False))
    assert_close(run(to_onnx(est, X), *padded(X))[0], est.predict(X), dtype)
    seq = RNNRegressor(cell, (3, 3), return_sequences=True, max_iter=2, random_state=0)
    seq.fit(X, _targets(rng, X, True, False))
    out = run(to_onnx(seq, X), *padded(X))[0]
    assert_close(out, seq.predict(X), dtype)
    for i, n in enumerate(padded(X)[1]):  # padded steps are 0, as predict's arrays
        assert not out[i, n:].any()


#: A cell and dtype per (pooling, patch_size) case, a Latin square: each pooling
#: and each patch size meets the ONNX LSTM operator (float32), the Scan
#: (float64) and the convolution stack.
_POOL_CASES = [("lstm", np.float32), ("gru", np.float64), ("wavenet", np.float64)]


@pytest.mark.parametrize("patch_size", [1, 3, "auto"])
@pytest.mark.parametrize("pooling", list(PARTS))
def test_pooling_and_patches_on_a_ragged_batch(pooling, patch_size):
    i = list(PARTS).index(pooling) + [1, 3, "auto"].index(patch_size)
    cell, dtype = _POOL_CASES[i % 3]
    rng = np.random.RandomState(14)
    X = [rng.normal(size=(k, 2)).astype(dtype) for k in [LONG, *rng.randint(1, 40, 9)]]
    wavenet = cell == "wavenet"
    est = RNNRegressor(
        cell, (3, 3), bidirectional=not wavenet, pooling=pooling,
        patch_size=patch_size, max_iter=2, random_state=0,
    ).fit(X, _targets(rng, X, False, False))  # fmt: skip
    assert est.patch_size_ == (1 if patch_size == 1 else 3)  # auto: ceil(70 / 32)
    # lengths of one step, of whole patches, of a patch and a step, and longer
    # than in fit
    Xt = [rng.normal(size=(k, 2)).astype(dtype) for k in (1, 2, 3, 4, 30, 31, 80)]
    assert_close(run(to_onnx(est, X), *padded(Xt))[0], est.predict(Xt), dtype)
    Xa = rng.normal(size=(4, 31, 2)).astype(dtype)  # no lengths input
    assert_close(run(to_onnx(est, Xa), Xa)[0], est.predict(Xa), dtype)


@pytest.mark.parametrize("cell, dtype", [("lstm", np.float32), ("wavenet", np.float64)])
def test_what_the_padding_holds_does_not_matter_inside_a_patch(cell, dtype):
    # to_patches puts zeros after each sequence's end in its last patch; the
    # graph must too, whatever the padded batch holds there
    rng = np.random.RandomState(15)
    X = [rng.normal(size=(k, 2)).astype(dtype) for k in (7, 5, 9, 1, 8)]
    est = RNNRegressor(cell, 3, patch_size=3, max_iter=2, random_state=0)
    est.fit(X, _targets(rng, X, False, False))
    X_pad, lengths = padded(X)
    X_pad[np.arange(X_pad.shape[1]) >= lengths[:, None]] = 100.0
    assert_close(run(to_onnx(est, X), X_pad, lengths)[0], est.predict(X), dtype)


def test_the_default_classifier_exports():
    # every parameter at its default: concat pooling, patches of
    # ceil(100 / 32) = 4 steps, one bidirectional layer of hidden_layer_sizes_ =
    # (32,): the head reads [last, max, mean] of 2 x 32 features
    # (pooling="last_max_mean")
    rng = np.random.RandomState(16)
    X = rng.normal(size=(12, 100, 2)).astype(np.float32)
    clf = RNNClassifier(random_state=0).fit(X, (X[:, :, 0].mean(axis=1) > 0) * 1)
    assert (clf.patch_size_, clf.hidden_layer_sizes_) == (4, (32,))
    assert clf.bidirectional_ and clf.state_dict_["head.weight"].shape == (1, 192)
    onx = skl2onnx.to_onnx(clf, X[:1])
    Xt = rng.normal(size=(5, 90, 2)).astype(np.float32)
    label, proba = run(onx, Xt)
    np.testing.assert_array_equal(label, clf.predict(Xt))
    assert_close(proba, clf.predict_proba(Xt), np.float32)


@pytest.mark.parametrize("cell", ["lstm", "wavenet"])
def test_default_regressor_on_ragged_float64_sequences(cell):
    # hidden_layer_sizes="auto": the wavenet's depth covers the 25 patches
    rng = np.random.RandomState(17)
    X = [rng.normal(size=(k, 2)) for k in [100, *rng.randint(1, 100, 7)]]
    reg = RNNRegressor(cell, max_iter=2, random_state=0)
    reg.fit(X, _targets(rng, X, False, False))
    assert reg.patch_size_ == 4
    assert reg.hidden_layer_sizes_ == (32,) * (5 if cell == "wavenet" else 1)
    assert_close(run(to_onnx(reg, X), *padded(X))[0], reg.predict(X), np.float64)


def test_default_seq2seq_with_automatic_sizes():
    rng = np.random.RandomState(18)
    X = _data(rng, np.float64, ragged=True, T=9)
    s2s = Seq2SeqTransformer(max_iter=2, random_state=0).fit(X)
    onx = to_onnx(s2s, X, options={id(s2s): {"method": "predict"}})
    assert_close(run(onx, *padded(X))[0], s2s.predict(X), np.float64)


@pytest.mark.parametrize("cell, dtype", [("lstm", np.float32), ("statal", np.float64)])
def test_lowest_supported_opset(cell, dtype):
    rng = np.random.RandomState(13)
    X = _data(rng, dtype, ragged=True)
    est = RNNRegressor(cell, (2, 2), bidirectional=True, max_iter=2, random_state=0)
    est.fit(X, _targets(rng, X, False, False))
    onx = to_onnx(est, X, target_opset=14)
    assert [(o.domain, o.version) for o in onx.opset_import] == [("", 14)]
    assert_close(run(onx, *padded(X))[0], est.predict(X), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrent_operators_in_float32_scan_in_float64(dtype):
    # onnxruntime's RNN / LSTM / GRU kernels exist in float32 only
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 4, 2)).astype(dtype)
    est = RNNRegressor("lstm", 3, max_iter=2, random_state=0).fit(X, X.sum((1, 2)))
    ops = op_types(to_onnx(est, X))
    assert ("LSTM" in ops, "Scan" in ops) == (dtype == np.float32, dtype == np.float64)


@pytest.mark.parametrize(
    "y",
    [
        np.array(["cat", "dog", "emu"])[np.arange(12) % 3],  # multiclass strings
        np.arange(12) % 2 + 5,  # binary integers
        (np.arange(24).reshape(12, 2) % 3 == 0).astype(int),  # multilabel
    ],
    ids=["multiclass-str", "binary-int", "multilabel"],
)
def test_classifier_labels_and_probabilities(y):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(12, 4, 2)).astype(np.float32)
    clf = RNNClassifier("gru", 4, max_iter=2, random_state=0).fit(X, y)
    label, proba = run(skl2onnx.to_onnx(clf, X[:1]), X)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert_close(proba, clf.predict_proba(X), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_probabilities_stay_inside_0_1(dtype):
    X = np.random.RandomState(11).normal(size=(6, 3, 1)).astype(dtype)
    clf = RNNClassifier("rnn", 2, max_iter=2, random_state=0).fit(X, np.arange(6) % 2)
    clf.load_state_dict({**clf.state_dict_, "head.bias": np.array([100.0])})
    proba = run(to_onnx(clf, X), X)[1]
    assert ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(proba, clf.predict_proba(X))


def test_pipeline_with_scaler_dynamic_batch_and_length():
    rng = np.random.RandomState(2)
    X = rng.normal(loc=3, scale=5, size=(20, 6, 3))
    pipe = make_pipeline(
        SequenceScaler(), RNNRegressor("gru", 4, max_iter=2, random_state=0)
    )
    pipe.fit(X, X.sum(axis=(1, 2)))
    # the plain skl2onnx call; the converter makes the time axis dynamic
    onx = skl2onnx.to_onnx(pipe, X[:1])
    dims = onx.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [0, 0, 3]  # batch and time unset
    for n, T in [(1, 6), (9, 2), (4, 11)]:
        Xt = rng.normal(size=(n, T, 3))
        assert_close(run(onx, Xt)[0], pipe.predict(Xt), np.float64)


@pytest.mark.parametrize("cell", ["lstm", "wavenet"])
@pytest.mark.parametrize("autoencoder", [True, False])
def test_seq2seq_transform_and_predict_on_ragged_batches(cell, autoencoder):
    rng = np.random.RandomState(3)
    X = _data(rng, np.float64, ragged=True)
    bidirectional = cell != "wavenet"
    s2s = Seq2SeqTransformer(
        2, cell, (3, 3), bidirectional=bidirectional, max_iter=2, random_state=0
    )
    s2s.fit(X) if autoencoder else s2s.fit(X, [rng.normal(size=(4, 1)) for _ in X])
    inputs = padded(X)
    codes = run(to_onnx(s2s, X), *inputs)[0]
    assert_close(codes, s2s.transform(X), np.float64)
    onx = to_onnx(s2s, X, options={id(s2s): {"method": "predict"}})
    out = run(onx, *inputs)[0]
    assert_close(out, s2s.predict(X), np.float64)
    if autoencoder:  # each reconstruction as long as its input, then zeros
        assert all(not out[i, n:].any() for i, n in enumerate(inputs[1]))


def test_ragged_pipeline_of_every_sequence_transformer():
    rng = np.random.RandomState(4)
    X = [rng.normal(size=(k, 2)) for k in rng.randint(3, 9, 15)]
    y = np.arange(15) % 3
    pipe = make_pipeline(
        SequenceScaler(method="minmax"),
        SlidingWindowTransformer(window=3, stride=2),
        RNNClassifier("lstm", 3, bidirectional=True, max_iter=2, random_state=0),
    ).fit(X, y)
    label, proba = run(to_onnx(pipe, X), *padded(X))
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert_close(proba, pipe.predict_proba(X), np.float64)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_truncate(padding, truncating):
    rng = np.random.RandomState(5)
    X = [rng.normal(size=(k, 2)).astype(np.float32) for k in (2, 7, 5, 1)]
    pad = PadTruncate(maxlen=5, padding=padding, truncating=truncating, value=-9.0)
    pad.fit(X)
    np.testing.assert_array_equal(run(to_onnx(pad, X), *padded(X))[0], pad.transform(X))


@pytest.mark.parametrize("order", ["time", "feature"])
def test_wide_table_to_sequences_then_regressor(order):
    rng = np.random.RandomState(6)
    wide = rng.normal(size=(10, 12))
    pipe = make_pipeline(
        WideToSequence(n_features=3, order=order),
        RNNRegressor("statal", 2, n_states=2, max_iter=2, random_state=0),
    ).fit(wide, wide.sum(axis=1))
    assert_close(run(to_onnx(pipe, wide), wide)[0], pipe.predict(wide), np.float64)


def test_model_fitted_on_a_table_of_univariate_series():
    rng = np.random.RandomState(7)
    X = rng.normal(size=(10, 6)).astype(np.float32)
    reg = RNNRegressor("rnn", 3, return_sequences=True, max_iter=2, random_state=0)
    pipe = make_pipeline(SequenceScaler(), reg).fit(X, np.cumsum(X, axis=1))
    assert_close(run(skl2onnx.to_onnx(pipe, X[:1]), X)[0], pipe.predict(X), np.float32)


def test_patches_of_a_table_of_univariate_series():
    rng = np.random.RandomState(19)
    X = rng.normal(size=(10, 10))  # 10 steps: patches of 4, the last one half zeros
    clf = RNNClassifier("gru", 3, patch_size=4, max_iter=2, random_state=0)
    clf.fit(X, np.arange(10) % 3)
    label, proba = run(skl2onnx.to_onnx(clf, X[:1]), X)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert_close(proba, clf.predict_proba(X), np.float64)


# ----------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(8).normal(size=(8, 4, 2))
    return X, RNNRegressor("gru", 2, max_iter=2, random_state=0).fit(X, X.sum((1, 2)))


def test_unfitted_model_is_refused():
    with pytest.raises(NotFittedError):
        to_onnx(RNNRegressor(), np.zeros((1, 3, 2)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, est: to_onnx(est, X[:, :, :1]), "1 features per time step"),
        (lambda X, est: to_onnx(est, X, target_opset=13), "target_opset >= 14"),
        (
            lambda X, est: skl2onnx.convert_sklearn(
                est, initial_types=[("X", DoubleTensorType([None, 4, 2, 1]))]
            ),
            "must be 3-D",
        ),
    ],
    ids=["n_features", "opset", "rank"],
)
def test_what_cannot_be_exported_is_refused_clearly(fitted, call, match):
    X, est = fitted
    with pytest.raises(ValueError, match=match):
        call(X, est)


def test_a_cell_the_converter_does_not_implement_is_refused(fitted):
    X, est = fitted
    est = copy.deepcopy(est)
    est.cell = "mgu"  # as if a new cell were registered after the converter
    with pytest.raises(ValueError, match="cell='mgu' is not supported"):
        to_onnx(est, X)


def test_a_model_read_from_each_windows_level_is_refused(fitted):
    X, est = fitted
    est = copy.deepcopy(est).set_params(local_level="mean")
    with pytest.raises(ValueError, match="local_level='mean' is not supported"):
        to_onnx(est, X)


def test_float64_input_to_a_float32_model_is_cast_as_predict_does():
    rng = np.random.RandomState(12)
    X = rng.normal(size=(8, 4, 2)).astype(np.float32)
    est = RNNRegressor("lstm", 3, max_iter=2, random_state=0).fit(X, X.sum((1, 2)))
    X64 = rng.normal(size=(5, 7, 2))
    out = run(to_onnx(est, X64), X64)[0]
    assert out.dtype == np.float32
    assert_close(out, est.predict(X64), np.float32)


def test_lengths_input_must_be_int64(fitted):
    X, est = fitted
    types = [
        ("X", DoubleTensorType([None, None, 2])),
        ("lengths", FloatTensorType([None])),
    ]
    with pytest.raises(ValueError, match="lengths.*must be int64"):
        skl2onnx.convert_sklearn(est, initial_types=types)


class _ExtendedRegressor(RNNRegressor):
    """An estimator with an option the converter does not know."""

    def __init__(self, cell="lstm", hidden_layer_sizes=(32,), *, layer_norm=False):
        super().__init__(cell, hidden_layer_sizes, max_iter=2, random_state=0)
        self.layer_norm = layer_norm

    def get_params(self, deep=True):
        return {**super().get_params(deep), "layer_norm": self.layer_norm}


@pytest.mark.parametrize("layer_norm", [False, True])
def test_an_unknown_option_is_refused_even_at_its_default(fitted, layer_norm):
    # a new option's default may be a behaviour the graph lacks, as
    # pooling="concat" was when it became the default
    X, _ = fitted
    from skrnn.onnx._estimators import (
        convert_regressor,
        no_shape_change,
        parse_regressor,
    )

    skl2onnx.update_registered_converter(
        _ExtendedRegressor, "Extended", no_shape_change, convert_regressor,
        parser=parse_regressor,
    )  # fmt: skip
    est = _ExtendedRegressor("gru", 2, layer_norm=layer_norm).fit(X, X.sum((1, 2)))
    with pytest.raises(ValueError, match=f"layer_norm={layer_norm} is not known"):
        to_onnx(est, X)


def test_seq2seq_method_option_is_checked():
    X = np.random.RandomState(9).normal(size=(6, 3, 1))
    s2s = Seq2SeqTransformer(2, "gru", 2, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="inverse_transform"):
        to_onnx(s2s, X, options={id(s2s): {"method": "inverse_transform"}})
