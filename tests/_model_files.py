"""Small fitted models, their files taken apart and put together, equality checks."""

import io
import json
import time
import tracemalloc
import zipfile

import numpy as np
from numpy.testing import assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._optim import AdamOptimizer
from skrnn._persistence_schema import ARRAYS, DERIVED, SCALARS, SECTIONS
from skrnn._persistence_training import OPTIMIZERS, TRAIN_FIELDS


def read_entries(path):
    """``{name: bytes}`` of every member of the archive at ``path``."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def meta_of(entries):
    return json.loads(entries["skrnn.json"])


def npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def write_entries(path, entries, meta=None, method=zipfile.ZIP_DEFLATED):
    """Write ``entries`` (with ``meta`` as skrnn.json when given) to ``path``."""
    entries = dict(entries)
    if meta is not None:
        entries["skrnn.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def declare(meta, entry, array):
    """Make the manifest of ``meta`` declare ``array`` for ``entry``."""
    meta["arrays"][entry] = {"dtype": array.dtype.str, "shape": list(array.shape)}


def replace_array(path, out, entry, array, *, manifest=True):
    """Copy of ``path`` whose ``entry`` holds ``array``, declared if ``manifest``."""
    entries = read_entries(path)
    meta = meta_of(entries)
    entries[entry] = npy(array)
    if manifest:
        declare(meta, entry, array)
    return write_entries(out, entries, meta)


def bounded_load(load, path, seconds=1.0, mib=16):
    """``load(path)`` or the ValueError it raises, within a time and memory bound."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome = load(path)
    except ValueError as exc:
        outcome = exc
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < seconds, f"load took {elapsed:.2f} s"
    assert peak < mib * 2**20, f"load allocated {peak / 2**20:.1f} MiB"
    return outcome


def assert_same(a, b):
    """Exact equality of (nested) outputs, including dtypes."""
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_same(u, v)
        return
    assert a.dtype == b.dtype
    assert_array_equal(a, b)


def allow_listed(est):
    """Every attribute a loaded model gets from its file, by name."""
    name = type(est).__name__
    names = [*SCALARS[name], *ARRAYS[name], *DERIVED, *SECTIONS]
    return {n: getattr(est, n) for n in names if hasattr(est, n)}


def assert_models_equal(a, b):
    """Two fitted models hold the same parameters, attributes and training state."""
    assert type(a) is type(b)
    pa, pb = a.get_params(), b.get_params()
    rs_a, rs_b = pa.pop("random_state"), pb.pop("random_state")
    assert pa == pb
    if isinstance(rs_a, np.random.RandomState):
        assert_array_equal(rs_a.get_state()[1], rs_b.get_state()[1])
    else:
        assert rs_a == rs_b
    attrs_a, attrs_b = allow_listed(a), allow_listed(b)
    assert list(attrs_a) == list(attrs_b)
    for name in ("state_dict_", "_train_state", "_random_state", "_label_binarizer"):
        attrs_a.pop(name, None), attrs_b.pop(name, None)
    for name, value in attrs_a.items():
        other = attrs_b[name]
        if isinstance(value, np.ndarray):
            assert_same(value, other)
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(other)
        else:
            assert type(value) is type(other) and value == other, name
    assert list(a.state_dict_) == list(b.state_dict_)
    for k, w in a.state_dict_.items():
        assert_same(w, b.state_dict_[k])
    assert_array_equal(a._random_state.get_state()[1], b._random_state.get_state()[1])
    assert a._random_state.get_state()[2:] == b._random_state.get_state()[2:]
    sa, sb = vars(a._train_state), vars(b._train_state)
    for field in TRAIN_FIELDS:
        if field not in ("params", "optimizer", "best_params"):
            assert sa[field] == sb[field], field
    oa, ob = a._train_state.optimizer, b._train_state.optimizer
    assert type(oa) is type(ob)
    if oa is not None:
        kind = "adam" if isinstance(oa, AdamOptimizer) else "sgd"
        _, args, state, slots = OPTIMIZERS[kind]
        for field in (*args, *state):
            assert getattr(oa, field) == getattr(ob, field), field
        for slot in slots:
            assert_same(list(getattr(oa, slot)), list(getattr(ob, slot)))


SMALL = dict(hidden_layer_sizes=(5,), max_iter=4, random_state=0)


def data(dtype=np.float64, n=24, T=6, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F)).astype(dtype)
    return X, X[:, :, 0].sum(axis=1)


def ragged(dtype=np.float64, seed=1):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(n, 2)).astype(dtype) for n in rng.randint(2, 8, 15)]


def fit_kind(kind, dtype):
    """A fitted model of each kind, plus inputs to predict on."""
    X, y = data(dtype)
    if kind == "regressor":
        return RNNRegressor(cell="gru", **SMALL).fit(X, y), X
    if kind == "regressor_seq":
        seqs = ragged(dtype)
        targets = [s.sum(axis=1) for s in seqs]
        est = RNNRegressor(return_sequences=True, **SMALL).fit(seqs, targets)
        return est, seqs
    if kind == "classifier":
        labels = np.array(["low", "mid", "high"])[np.digitize(y, [-1, 1])]
        return RNNClassifier(cell="rnn", bidirectional=True, **SMALL).fit(X, labels), X
    if kind == "seq2seq":
        return Seq2SeqTransformer(n_components=3, cell="statal", **SMALL).fit(X), X
    if kind == "wavenet":
        est = RNNClassifier(**dict(SMALL, cell="wavenet", hidden_layer_sizes=(3, 3)))
        return est.fit(X, y > 0), X
    raise ValueError(kind)


def outputs(est, X):
    """Every prediction-like output of a fitted model."""
    if isinstance(est, Seq2SeqTransformer):
        Z = est.transform(X)
        return [Z, est.predict(X), est.inverse_transform(Z)]
    out = [est.predict(X)]
    if isinstance(est, RNNClassifier):
        out.append(est.predict_proba(X))
    return out


KINDS = ["regressor", "regressor_seq", "classifier", "seq2seq", "wavenet"]
