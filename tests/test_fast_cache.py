"""Tests of skrnn._fast._cache: where the kernels are cached, one compile each."""

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled fast path needs numba (skrnn[fast])")
fcntl = pytest.importorskip("fcntl", reason="the compile lock needs fcntl (POSIX)")

import numba  # noqa: E402
from numba.core.registry import CPUDispatcher  # noqa: E402

import skrnn  # noqa: E402
from skrnn._cells import CELLS  # noqa: E402
from skrnn._fast import _cache, _kernels, _kernels_statal  # noqa: E402
from skrnn._recurrent import init_direction, make_cell  # noqa: E402
from skrnn._scan import scan_backward, scan_forward  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _scan(name, dtype, for_backward=True, read_only=False):
    """A small training (or prediction) pass of ``name`` on the compiled path."""
    cell = make_cell(name)
    rng = np.random.RandomState(0)
    params = init_direction(rng, cell, 2, 3, dtype)
    X = rng.standard_normal((4, 5, 2)).astype(dtype)
    for array in (X, *params) if read_only else ():
        array.setflags(write=False)  # as joblib's memory-mapped data
    with skrnn.config_context(fast_path=True):
        cache = scan_forward(cell, params, X, for_backward=for_backward)
        assert cache["fast"] is not None
        if for_backward:
            scan_backward(cell, params, X, cache)


def test_each_kernel_has_one_signature_per_dtype():
    # the signature compiled under the lock is the one the calls dispatch to
    for name in CELLS:
        for dtype in (np.float32, np.float64):
            _scan(name, dtype)
            _scan(name, dtype, for_backward=False)
            _scan(name, dtype, read_only=True)
            _scan(name, dtype, for_backward=False, read_only=True)
    ready = {kernel for kernel, _ in _cache._READY}
    entries = [
        kernel
        for module in (_kernels, _kernels_statal)
        for kernel in vars(module).values()
        if isinstance(kernel, CPUDispatcher) and kernel in ready
    ]
    assert len(entries) == 11  # every forward, prediction and backward loop
    for kernel in entries:
        dtypes = [sig[0].dtype for sig in kernel.signatures]
        assert sorted(map(str, dtypes)) == ["float32", "float64"], kernel


def test_first_call_of_a_kernel_waits_for_the_lock_of_other_processes(monkeypatch):
    _scan("rnn", np.float64)  # compiled in this process: only the lock is left
    monkeypatch.setattr(_cache, "_READY", set())
    kernel = _kernels.rnn_forward
    lock = Path(kernel._cache._cache_path) / "rnn_forward-float64.skrnn-lock"
    thread = threading.Thread(target=_scan, args=("rnn", np.float64))
    with open(lock, "a") as other:  # another process compiling
        fcntl.flock(other, fcntl.LOCK_EX)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()
        assert (kernel, np.dtype(np.float64)) not in _cache._READY
        fcntl.flock(other, fcntl.LOCK_UN)
    thread.join(30)
    assert not thread.is_alive()
    assert (kernel, np.dtype(np.float64)) in _cache._READY


def test_fallback_cache_dir_must_be_private(monkeypatch, tmp_path):
    def no_locator(name):
        if not numba.config.CACHE_DIR:
            raise RuntimeError("cannot cache function: no locator available")
        return name

    monkeypatch.setattr(_cache.importlib, "import_module", no_locator)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # anyone could plant machine code there
    monkeypatch.setattr(_cache, "fallback_cache_dir", lambda: str(shared))
    with pytest.raises(RuntimeError, match="no locator"):
        _cache.import_kernels("skrnn._fast._scan_rnn")
    assert numba.config.CACHE_DIR == ""
    private = tmp_path / "private"
    monkeypatch.setattr(_cache, "fallback_cache_dir", lambda: str(private))
    assert _cache.import_kernels("skrnn._fast._scan_rnn") == "skrnn._fast._scan_rnn"
    assert numba.config.CACHE_DIR == str(private)
    assert (private.stat().st_mode & 0o777) == 0o700


FIT = """
import warnings
import numpy as np
import skrnn
X = np.random.default_rng(0).standard_normal((8, 6, 2))
warnings.simplefilter("ignore")
with skrnn.config_context(fast_path=True):
    skrnn.RNNRegressor("rnn", hidden_layer_sizes=(3,), max_iter=1).fit(X, X.sum((1, 2)))
import numba
print(numba.config.CACHE_DIR)
"""


def _fit_in_new_process(env, root=ROOT):
    env = {**os.environ, **env, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", FIT],
        env=env,
        cwd=root,  # "-c" puts the working directory first on the path
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _cached(folder, name):
    return sorted(p.name for p in Path(folder).rglob(name))


@pytest.mark.slow
def test_a_new_process_loads_the_cache_and_its_lock_files_stay(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    _fit_in_new_process(env)
    index = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nbi")}
    assert {"rnn_forward-float64.skrnn-lock", "rnn_backward-float64.skrnn-lock"} <= set(
        _cached(tmp_path, "*.skrnn-lock")
    )
    assert any(p.name.startswith("_kernels.rnn_forward") for p in index)
    data = _cached(tmp_path, "*.nbc")
    _fit_in_new_process(env)
    # loaded, not compiled again: no index rewritten, no code added
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nbi")} == index
    assert _cached(tmp_path, "*.nbc") == data


@pytest.mark.slow
def test_kernels_cache_in_the_temporary_directory_where_nothing_else_is_writable(
    tmp_path,
):
    # a copy of the package whose __pycache__ cannot be a directory, a home
    # directory that cannot exist, no NUMBA_CACHE_DIR: numba has no locator
    root = tmp_path / "site"
    shutil.copytree(
        ROOT / "skrnn", root / "skrnn", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "skrnn" / "_fast" / "__pycache__").write_text("")
    blocked = tmp_path / "file"
    blocked.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "HOME": str(blocked / "home"),
        "XDG_CACHE_HOME": str(blocked / "cache"),
        "TMPDIR": str(temp),
        "NUMBA_CACHE_DIR": "",
    }
    cache_dir = _fit_in_new_process(env, root)
    assert Path(cache_dir).parent == temp
    assert _cached(cache_dir, "_kernels.rnn_forward-*.nbi")
