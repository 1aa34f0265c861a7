"""Helpers to take skrnn model files apart and put tampered copies together."""

import io
import json
import time
import tracemalloc
import zipfile

import numpy as np


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


def bounded_load(load, path, seconds=1.0, mib=32):
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
