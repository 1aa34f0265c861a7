"""Fuzzing persistence.load: damaged and crafted files cost little, fail cleanly.

Every outcome must be a ``ValueError`` or a model equal to the saved one, each
load within 1 s and 16 MiB (tracemalloc peak). The crafted cases are the
attacks of issue 14 and their neighbours; the random ones damage bytes.
"""

import io
import json
import re
import struct
import warnings
import zipfile

import numpy as np
import pytest
from _model_files import (
    assert_models_equal,
    bounded_load,
    declare,
    meta_of,
    npy,
    read_entries,
    write_entries,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._persistence_schema import weight_shapes
from skrnn.persistence import load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0)


def _data(n=12, T=4, F=2):
    X = np.random.RandomState(0).normal(size=(n, T, F))
    return X, X[:, :, 0].sum(axis=1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small fitted models of each class and their files (compressed, stored)."""
    X, y = _data()
    folder = tmp_path_factory.mktemp("models")
    fitted = {
        "classifier": RNNClassifier(**SMALL).fit(X, y > 0),
        "regressor": RNNRegressor(**dict(SMALL, solver="sgd")).fit(X, y),
        "seq2seq": Seq2SeqTransformer(n_components=2, **SMALL).fit(X, X[:, ::-1, :1]),
    }
    files = {}
    for name, est in fitted.items():
        files[name] = save(est, folder / f"{name}.npz")
        files[name + "-stored"] = save(est, folder / f"{name}-s.npz", compress=False)
    return fitted, files


def _outcome_is_clean(outcome, original):
    if isinstance(outcome, ValueError):
        assert "is not a valid skrnn model file" in str(outcome)
    else:
        assert_models_equal(outcome, original)


# ----------------------------------------------------------- random damage
_damage = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
        st.tuples(st.just("cut"), st.floats(0, 1), st.just(0)),
        st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, 255)),
    ),
    min_size=1,
    max_size=4,
)


def _damaged(data, operations):
    data = bytearray(data)
    for op, where, value in operations:
        pos = min(int(where * len(data)), len(data) - 1)
        if op == "flip":
            data[pos] ^= value
        elif op == "cut":
            del data[pos:]
        else:
            data[pos:pos] = bytes([value])
        if not data:
            break
    return bytes(data)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["classifier", "regressor-stored", "seq2seq"]),
    operations=_damage,
)
def test_damaged_bytes_give_a_value_error_or_the_same_model(
    which, operations, models, tmp_path_factory
):
    fitted, files = models
    path = tmp_path_factory.mktemp("damaged") / "m.npz"
    path.write_bytes(_damaged(files[which].read_bytes(), operations))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a damaged version string
        outcome = bounded_load(load, path)
    _outcome_is_clean(outcome, fitted[which.split("-")[0]])


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["classifier", "seq2seq-stored"]), keep=st.floats(0, 1))
def test_truncated_files_give_a_value_error(which, keep, models, tmp_path_factory):
    _, files = models
    data = files[which].read_bytes()
    path = tmp_path_factory.mktemp("cut") / "m.npz"
    path.write_bytes(data[: int(keep * (len(data) - 1))])
    outcome = bounded_load(load, path)
    assert isinstance(outcome, ValueError)


# ------------------------------------------------------------ crafted files
def _edit(files, which, out, edit=None, entries=None, method=zipfile.ZIP_DEFLATED):
    """Copy of a model file with its JSON edited and some entries replaced."""
    all_entries = read_entries(files[which])
    meta = meta_of(all_entries)
    if edit is not None:
        edit(meta)
    all_entries.update(entries or {})
    return write_entries(out, all_entries, meta if edit else None, method)


def _zeros_entry(zf, name, dtype, shape):
    """A .npy entry of zeros written in chunks: megabytes that deflate to nothing."""
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    with zf.open(name, "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header)
        left = np.dtype(dtype).itemsize * int(np.prod(shape))
        chunk = bytes(2**20)
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def _zip_bomb(files, tmp, declared):
    """head.weight replaced by 64 MiB of zeros (declared so, or not)."""
    entries = read_entries(files["classifier"])
    meta = meta_of(entries)
    shape = (2**23,)
    if declared:
        meta["arrays"]["weights/head.weight.npy"] = {"dtype": "<f8", "shape": [2**23]}
    del entries["weights/head.weight.npy"]
    path = write_entries(tmp / "bomb.npz", entries, meta)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        _zeros_entry(zf, "weights/head.weight.npy", "<f8", shape)
    return path


def _consistent_bomb(files, tmp):
    """A consistent 600-unit LSTM of zeros (weights, Adam moments): 35 MB in 60 KB."""
    entries = read_entries(files["classifier"])
    meta = meta_of(entries)
    meta["fitted"]["hidden_layer_sizes_"] = [600]
    model = load(files["classifier"])
    model.hidden_layer_sizes_ = (600,)
    shapes = weight_shapes(model._arch())
    names = [
        f"{part}/{k}.npy"
        for part in ("weights", "training/ms", "training/vs")
        for k in shapes
    ]
    for name in names:
        del entries[name]
        shape = shapes[name.split("/")[-1][:-4]]
        meta["arrays"][name] = {"dtype": "<f8", "shape": list(shape)}
    path = write_entries(tmp / "bomb.npz", entries, meta)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            _zeros_entry(zf, name, "<f8", shapes[name.split("/")[-1][:-4]])
    return path


def _lying_npy_header(files, tmp):
    """head.bias whose .npy header claims 10**9 values (8 GB) but holds 8 bytes."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    data = buf.getvalue() + bytes(8)
    return _edit(
        files, "classifier", tmp / "m.npz", entries={"weights/head.bias.npy": data}
    )


def _patch_member(path, name, offset_local, offset_central, value, fmt="<H"):
    """Overwrite a field of member ``name`` in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    struct.pack_into(fmt, data, local + offset_local, value)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + n] == name.encode():
            struct.pack_into(fmt, data, pos + offset_central, value)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    return path


def _copy(files, which, tmp):
    out = tmp / "m.npz"
    out.write_bytes(files[which].read_bytes())
    return out


def _broken_deflate(files, tmp):
    """skrnn.json's compressed stream overwritten by an invalid block type."""
    path = _copy(files, "classifier", tmp)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("skrnn.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


def _duplicate_json(files, tmp):
    """A second, different and valid skrnn.json: which one is the model?"""
    path = _copy(files, "classifier", tmp)
    meta = meta_of(read_entries(path))
    meta["fitted"]["n_iter_"] = 99
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: duplicate name
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("skrnn.json", json.dumps(meta))
    return path


def _set(section, **values):
    return lambda m: m[section].update(values)


def _arrays(which, **arrays):
    """Replace entries with arrays, declared in the manifest."""

    def build(files, tmp):
        def edit(meta):
            for entry, array in arrays.items():
                declare(meta, entry, array)

        entries = {e: npy(a) for e, a in arrays.items()}
        return _edit(files, which, tmp / "m.npz", edit, entries)

    return build


def _meta(which, edit):
    return lambda files, tmp: _edit(files, which, tmp / "m.npz", edit)


def _shape(files, entry):
    return tuple(meta_of(read_entries(files["classifier"]))["arrays"][entry]["shape"])


_MEAN = "fitted/target_mean_.npy"
_CLASSES = "fitted/classes_.npy"
_VS = "training/vs/head.weight.npy"

# (what the file does, how to make it, what load must say). Each was run once in
# the format-1 layout against the load of skrnn 0.1.0.dev0 (issue 14): each was
# accepted, raised another type than ValueError, or broke the 1 s / 32 MiB bound
# (the 4000-unit claim ran > 5 min), except those marked "held before". Format-2
# only, not run there: "zip bomb, declared", "a curve declared with 2**40
# values"; "10**9 statal states" would allocate 8 GB there (make_cell), not run.
CRAFTED = {
    "zip bomb, undeclared": (
        lambda f, t: _zip_bomb(f, t, declared=False),
        "head.weight.npy holds .* bytes, but a float64 array of shape",
    ),
    "zip bomb, declared": (
        lambda f, t: _zip_bomb(f, t, declared=True),
        "more than 50 times the file's",
    ),
    "zip bomb of a consistent zero model": (_consistent_bomb, "a zip bomb"),
    "npy header claims 8 GB": (_lying_npy_header, "head.bias.npy holds"),
    "skrnn.json of 30 MB that deflates to nothing": (
        lambda f, t: _edit(
            f,
            "classifier",
            t / "m.npz",
            entries={"skrnn.json": b"[" + b"0," * 15_000_000 + b"0]"},
        ),
        r"skrnn.json holds \d+ bytes, more than the \d+ it may",
    ),
    "claims a 4000-unit network": (
        _meta("classifier", _set("fitted", hidden_layer_sizes_=[4000])),
        "describe a network larger than the .* weights it holds",
    ),
    "claims 10**9 statal states": (
        _meta("classifier", _set("params", cell="statal", n_states=10**9)),
        "describe a network larger",
    ),
    "NaN target_mean_": (
        _arrays("regressor", **{_MEAN: np.array([np.nan])}),
        "target_mean_ contains NaN or infinity",
    ),
    "5 target_mean_ entries for 1 output": (
        _arrays("regressor", **{_MEAN: np.zeros(5)}),
        r"target_mean_.npy has shape \(5,\); the model's architecture needs \(1,\)",
    ),
    "a level gain without a local level": (
        _meta("regressor", _set("fitted", level_gain_=[1.5])),
        "level_gain_ holds one gain per level feature",
    ),
    "a level gain that is not a number": (
        _meta("regressor", _set("fitted", level_gain_=["1.5"])),
        r"level_gain_\[0\] must be a finite number",
    ),
    "3 classes_ beside a binary head": (
        _arrays("classifier", **{_CLASSES: np.array([False, True, True])}),
        r"classes_.npy has shape \(3,\); the model's architecture needs \(2,\)",
    ),
    "multiclass label type on a 1-output head": (
        _meta(
            "classifier",
            lambda m: m["fitted"]["_label_binarizer"].update(y_type_="multiclass"),
        ),
        "multiclass classifier has one output per class",
    ),
    "unsorted classes_": (
        _arrays("classifier", **{_CLASSES: np.array([True, False])}),
        "must be sorted and unique",
    ),
    "_parameter_constraints in the file": (
        _meta("classifier", _set("fitted", _parameter_constraints={})),
        r"attributes \['_parameter_constraints'\] are not ones skrnn stores",
    ),
    "a private attribute off the list": (
        _meta("classifier", _set("fitted", _train_state=1)),
        "not ones skrnn stores",
    ),
    "an unknown public attribute": (
        _meta("classifier", _set("fitted", extra_=[1, 2])),
        "not ones skrnn stores",
    ),
    "an unknown top-level key": (
        _meta("classifier", lambda m: m.update(code="import os")),
        "unknown keys",
    ),
    "n_features_in_ not the weights' input width": (
        _meta("classifier", _set("fitted", n_features_in_=7)),
        "n_features_in_=7 does not fit _n_step_features=2",
    ),
    "wrong shape of Adam moments": (
        _arrays("classifier", **{_VS: np.zeros(1)}),
        r"vs/head.weight.npy has shape \(1,\); the model's architecture needs",
    ),
    "negative Adam second moments": (
        lambda f, t: _arrays("classifier", **{_VS: -np.ones(_shape(f, _VS))})(f, t),
        "vs. must not be negative",
    ),
    "a curve declared with 2**40 values": (
        _meta(
            "classifier",
            lambda m: m["arrays"].update(
                {"fitted/loss_curve_.npy": {"dtype": "<f8", "shape": [2**40]}}
            ),
        ),
        "would take .* bytes, more than 50 times",
    ),
    "damaged deflate stream (zlib.error)": (_broken_deflate, "zlib|damaged"),
    "unsupported compression (NotImplementedError)": (
        lambda f, t: _patch_member(_copy(f, "classifier", t), "skrnn.json", 8, 10, 99),
        "skrnn.json uses compression method 99",
    ),
    "encrypted entry (RuntimeError)": (
        lambda f, t: _patch_member(_copy(f, "classifier", t), "skrnn.json", 6, 8, 1),
        "skrnn.json is encrypted",
    ),
    "deeply nested JSON (RecursionError)": (
        lambda f, t: _edit(
            f,
            "classifier",
            t / "m.npz",
            entries={"skrnn.json": b"[" * 200_000 + b"]" * 200_000},
        ),
        "skrnn.json is not valid JSON",
    ),
    "NaN literal in the JSON": (
        lambda f, t: _edit(
            f,
            "classifier",
            t / "m.npz",
            entries={
                "skrnn.json": read_entries(f["classifier"])["skrnn.json"].replace(
                    b'"n_iter_": 2', b'"n_iter_": NaN'
                )
            },
        ),
        "literal NaN",
    ),
    "two skrnn.json entries": (_duplicate_json, "two entries of the same name"),
    "a bool for an int": (_meta("classifier", _set("fitted", n_iter_=True)), "n_iter_"),
    "big-endian weights (held before)": (
        _arrays("classifier", **{"weights/head.bias.npy": np.zeros(1, ">f8")}),
        "dtype '>f8'; plain numbers or text only",
    ),
    # held before: refused by skrnn 0.1.0.dev0 too
    "object array with a pickle (held before)": (
        lambda f, t: _edit(
            f,
            "classifier",
            t / "m.npz",
            edit=lambda m: m["arrays"].update(
                {"weights/head.bias.npy": {"dtype": "|O", "shape": [1]}}
            ),
            entries={"weights/head.bias.npy": npy(np.array([{}], dtype=object), True)},
        ),
        "dtype '|O'",
    ),
    "infinite weights (held before)": (
        _arrays("classifier", **{"weights/head.bias.npy": np.array([np.inf])}),
        "weights contain NaN or infinity",
    ),
    "int64 weights (held before)": (
        _arrays("classifier", **{"weights/head.bias.npy": np.zeros(1, np.int64)}),
        r"dtype int64; expected \['<f8'\]",
    ),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_file_is_refused_cheaply(case, models, tmp_path):
    build, message = CRAFTED[case]
    path = build(models[1], tmp_path)
    outcome = bounded_load(load, path)
    assert isinstance(outcome, ValueError), f"{case}: loaded"
    assert "is not a valid skrnn model file" in str(outcome)
    assert re.search(message, str(outcome)), str(outcome)


def test_a_huge_claimed_output_length_costs_nothing_at_load(models, tmp_path):
    # a model fitted on 10**7-step targets is possible: load never decodes that far
    fitted, files = models
    path = _edit(
        files, "seq2seq", tmp_path / "m.npz", _set("fitted", n_timesteps_out_=10**7)
    )
    loaded = bounded_load(load, path)
    assert loaded.n_timesteps_out_ == 10**7
    X, _ = _data()
    assert np.array_equal(loaded.transform(X), fitted["seq2seq"].transform(X))
    out = loaded.predict(X, n_timesteps=4)
    assert np.array_equal(out, fitted["seq2seq"].predict(X, n_timesteps=4))


# ------------------------------------------------------- random JSON edits
def _leaves(node, path=()):
    """Paths of every leaf of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node[:3]):  # the first few entries of long lists
            yield from _leaves(value, (*path, i))
    else:
        yield path


_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10),
    st.sampled_from([2**31, 10**7, 2**63, -(2**40)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
    st.just({}),
    st.just({"__float__": "inf"}),
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["classifier", "regressor", "seq2seq"]),
    index=st.integers(0, 10**6),
    value=_json_values,
)
def test_whatever_load_accepts_save_accepts_and_round_trips(
    which, index, value, models, tmp_path_factory
):
    # an edited value gives a ValueError, or a model as consistent as a fitted one
    _, files = models
    entries = read_entries(files[which])
    meta = meta_of(entries)
    paths = list(_leaves(meta))
    path = paths[index % len(paths)]
    node = meta
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    folder = tmp_path_factory.mktemp("edited")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an edited version string
        outcome = bounded_load(load, write_entries(folder / "m.npz", entries, meta))
    if isinstance(outcome, ValueError):
        assert "is not a valid skrnn model file" in str(outcome)
        return
    X, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an edited huge weight
        outcome.predict(X)  # on real data too, not only load's two steps
    assert_models_equal(load(save(outcome, folder / "again.npz")), outcome)
