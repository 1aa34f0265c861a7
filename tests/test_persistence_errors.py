"""Tests for skrnn.persistence: what save refuses to write and load refuses to read."""

import io
import json
import os
import re
import stat
import sys
import warnings
import zipfile

import numpy as np
import pytest
from _model_files import (
    SMALL,
    assert_same,
    data,
    declare,
    fit_kind,
    meta_of,
    npy,
    read_entries,
    write_entries,
)
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from skrnn import RNNRegressor
from skrnn.persistence import FORMAT_VERSION, load, save
from skrnn.preprocessing import SequenceScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------ errors on save
def test_save_refuses_unfitted_and_foreign_objects(tmp_path):
    with pytest.raises(NotFittedError):
        save(RNNRegressor(), tmp_path / "m.npz")
    X, y = data()
    pipe = make_pipeline(SequenceScaler(), RNNRegressor(**SMALL)).fit(X, y)
    with pytest.raises(TypeError, match="joblib.dump"):
        save(pipe, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="os.PathLike"):
        save(pipe[-1], io.BytesIO())


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(cell="lstm"), "architecture needs"),
        (dict(bidirectional=False), "lack|hold"),
        (dict(cell="wavenet"), "is missing .the architecture needs it"),
        (dict(hidden_layer_sizes=-1), "invalid parameters"),
    ],
)
def test_save_refuses_a_model_its_parameters_no_longer_describe(
    change, message, tmp_path
):
    # e.g. set_params(...) after fit with warm_start=True, before the next fit
    est, _ = fit_kind("regressor", np.float64)
    est.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match=f"cannot save this RNNRegressor.*{message}"):
        save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_inconsistent_fitted_attributes(tmp_path):
    est, _ = fit_kind("classifier", np.float64)
    classes = est.classes_
    est.classes_ = classes[:2]
    with pytest.raises(ValueError, match=r"classes_.npy has shape \(2,\); the model"):
        save(est, tmp_path / "m.npz")
    est.classes_ = classes[::-1]
    with pytest.raises(ValueError, match="classes_ .* must be sorted and unique"):
        save(est, tmp_path / "m.npz")
    est.classes_ = np.array(["a", "b", "c"])
    with pytest.raises(ValueError, match="label encoder does not match classes_"):
        save(est, tmp_path / "m.npz")
    est, _ = fit_kind("regressor", np.float64)
    est.loss_ = 3.0
    with pytest.raises(ValueError, match="loss_ is 3.0"):
        save(est, tmp_path / "m.npz")
    est, _ = fit_kind("regressor", np.float64)
    est.target_mean_ = np.array([np.nan])
    with pytest.raises(ValueError, match="target_mean_ contains NaN"):
        save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_save_honours_the_umask(umask, tmp_path):
    est, _ = fit_kind("regressor", np.float64)
    old = os.umask(umask)
    try:
        path = save(est, tmp_path / "m.npz")
        np.save(tmp_path / "ref.npy", np.ones(2))
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "ref.npy").stat().st_mode)


def test_mostly_zero_weights_are_stored_uncompressed(tmp_path):
    # zeros compress ~1000:1, past what load accepts: save stores them as they are
    X, y = data()
    est = RNNRegressor(cell="rnn", hidden_layer_sizes=(400,), solver="lbfgs")
    est.set_params(max_iter=1, max_fun=2).fit(X[:2, :2], y[:2])
    est.load_state_dict({k: np.zeros_like(v) for k, v in est.state_dict_.items()})
    path = save(est, tmp_path / "m.npz", compress=True)
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert_same(load(path).predict(X), est.predict(X))
    small, _ = fit_kind("regressor", np.float64)
    with zipfile.ZipFile(save(small, tmp_path / "s.npz")) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


# ------------------------------------------------------- tampered / unknown files
@pytest.fixture
def saved(tmp_path):
    est, _ = fit_kind("classifier", np.float64)
    path = save(est, tmp_path / "model.npz")
    return path, meta_of(read_entries(path))


def _tampered(path, meta=None, entries=None, drop=()):
    all_entries = read_entries(path)
    all_entries.update(entries or {})
    for name in drop:
        del all_entries[name]
    return write_entries(path.with_name("tampered.npz"), all_entries, meta)


def test_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"definitely not a zip archive")
    with pytest.raises(ValueError, match="not a valid skrnn model file: not a zip"):
        load(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(ValueError, match="no skrnn.json entry"):
        load(plain)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)
    with pytest.raises(TypeError, match="os.PathLike"):
        load(io.BytesIO(plain.read_bytes()))


def test_pickled_payload_is_never_executed(saved):
    path, meta = saved

    class Payload:
        def __reduce__(self):
            return exec, ("import sys; sys.skrnn_pwned = True",)

    evil = npy(np.array([Payload()], dtype=object), allow_pickle=True)
    entry = "weights/head.weight.npy"
    with pytest.raises(ValueError, match="head.weight.npy holds"):
        load(_tampered(path, entries={entry: evil}))
    meta["arrays"][entry] = {"dtype": "|O", "shape": [1]}
    with pytest.raises(ValueError, match=re.escape("dtype '|O'; plain numbers")):
        load(_tampered(path, meta=meta, entries={entry: evil}))
    assert not hasattr(sys, "skrnn_pwned")


def _pop(key):
    return lambda m: m["fitted"].pop(key)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update({"class": "Pipeline"}), "unknown estimator class"),
        (lambda m: m.update({"format": "pickle"}), "does not describe"),
        (lambda m: m.update({"format_version": FORMAT_VERSION + 1}), "upgrade"),
        (lambda m: m.update({"format_version": 1}), "version 1, the layout"),
        (lambda m: m.update({"extra": 1}), "unknown keys"),
        (lambda m: m["params"].update({"shell": "rm"}), "unknown parameters"),
        (lambda m: m["params"].update({"cell": "transformer"}), "invalid param"),
        (lambda m: m["fitted"].update({"predict": 1}), "not ones skrnn stores"),
        (lambda m: m["fitted"].update({"__class__": 1}), "not ones skrnn stores"),
        (lambda m: m["fitted"].update({"n_outputs_": 7}), "architecture needs"),
        (lambda m: m["fitted"].update({"n_outputs_": "3"}), "n_outputs_ must be"),
        (lambda m: m["fitted"].update({"n_iter_": True}), "n_iter_ must be"),
        (_pop("_label_binarizer"), "are missing"),
        (_pop("classes_"), "are missing"),
        (lambda m: m["training"].pop("optimizer"), "training section has keys"),
        (
            lambda m: m["training"]["optimizer"].update({"type": "rmsprop"}),
            "unknown type",
        ),
        (
            lambda m: m["training"]["optimizer"].update({"beta_1": 2}),
            r"optimizer.beta_1 must be a number in \[0, 1\)",
        ),
        (
            lambda m: m["training"]["random_state"].update({"pos": 999}),
            "random_state.pos must be",
        ),
        (
            lambda m: m["fitted"].update({"classes_": "weights/head.bias.npy"}),
            "classes_ must name its fixed entry",
        ),
    ],
)
def test_tampered_metadata_raises(saved, edit, message):
    path, meta = saved
    edit(meta)
    with pytest.raises(ValueError, match=message):
        load(_tampered(path, meta=meta))


def test_tampered_weights_raise(saved):
    path, meta = saved
    entry = "weights/head.weight.npy"
    shape = tuple(meta["arrays"][entry]["shape"])
    wrong = np.ones((2, 2))
    with pytest.raises(ValueError, match="head.weight.npy holds"):
        load(_tampered(path, entries={entry: npy(wrong)}))
    bad_meta = json.loads(json.dumps(meta))
    declare(bad_meta, entry, wrong)
    with pytest.raises(ValueError, match=r"has shape \(2, 2\); the model's archit"):
        load(_tampered(path, meta=bad_meta, entries={entry: npy(wrong)}))
    with pytest.raises(ValueError, match="weights contain NaN or infinity"):
        load(_tampered(path, entries={entry: npy(np.full(shape, np.inf))}))
    ints = np.ones(shape, np.int64)
    with pytest.raises(ValueError, match="holds int64"):
        load(_tampered(path, entries={entry: npy(ints)}))
    declare(bad_meta, entry, ints)
    with pytest.raises(ValueError, match=r"dtype int64; expected \['<f8'\]"):
        load(_tampered(path, meta=bad_meta, entries={entry: npy(ints)}))
    with pytest.raises(ValueError, match="head.weight.npy is missing"):
        meta["arrays"].pop(entry)
        load(_tampered(path, meta=meta, drop=[entry]))


def test_other_skrnn_version_warns(saved):
    path, meta = saved
    meta["skrnn_version"] = "0.0.1"
    with pytest.warns(UserWarning, match="saved with skrnn 0.0.1"):
        load(_tampered(path, meta=meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path)
