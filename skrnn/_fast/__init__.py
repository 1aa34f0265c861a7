"""Compiled (numba) kernels of the recurrent scan, and the choice of path."""

import importlib.util

import numpy as np

from .. import _parallel
from .._cells import GRUCell, LSTMCell, RNNCell, StatalCell
from .._config import get_config
from .._parallel import run_shards

__all__ = [
    "backward_arrays",
    "fast_shards",
    "forward_shards",
    "kernels_for",
    "numba_available",
]

#: Cells with compiled kernels: cell class -> adapter module of ``skrnn._fast``.
#: The dilated convolutions have kernels of their own (``skrnn._fast._wavenet``).
KERNELS = {
    RNNCell: "skrnn._fast._scan_rnn",
    LSTMCell: "skrnn._fast._scan_lstm",
    GRUCell: "skrnn._fast._scan_gru",
    StatalCell: "skrnn._fast._scan_statal",
}

#: dtypes the kernels are compiled for.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_NUMBA = None


def numba_available():
    """Whether numba can be imported (checked once, without importing it)."""
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = importlib.util.find_spec("numba") is not None
    return _NUMBA


def kernels_for(cell, dtype):
    """The adapter module of ``cell``'s compiled kernels, or None for NumPy.

    Follows ``skrnn.get_config()["fast_path"]``: ``False`` gives None; ``"auto"``
    gives the kernels when numba is installed; ``True`` raises ``ImportError``
    without numba. Cells without kernels and dtypes other than float32 and
    float64 always give None.
    """
    mode = get_config()["fast_path"]
    if mode is False:
        return None
    if not numba_available():
        if mode is True:
            raise ImportError(
                "fast_path=True needs numba, which is not installed; install the "
                "fast path with `pip install skrnn[fast]`, or pass fast_path='auto'."
            )
        return None
    name = KERNELS.get(type(cell))
    if name is None or np.dtype(dtype) not in DTYPES:
        return None
    from . import _cache  # imports numba

    return _cache.import_kernels(name)


#: Fewest multiply-adds of a layer's recurrent products over the sequence
#: (steps x batch x gate width x state width) worth two shards: below it,
#: starting a second thread per call costs about what it saves, and on a loaded
#: machine much more (measured on 2 cores: an LSTM of 32 units at batch 16 and
#: 20 steps, 1.3 million, trained 2-10x slower in two shards than in one).
MIN_FAST_SHARD_WORK = 2**23


def fast_shards(batch, work=None):
    """Fixed split of the batch for the compiled scan: two halves, or one shard.

    Depends on the shape only (never on the machine or the thread count), so
    the same data give the same numbers bit for bit everywhere. The halves run
    their whole loop over time side by side on two threads (the kernels release
    the GIL). Each half has at least ``skrnn._parallel.MIN_SHARD_ROWS`` rows,
    and ``work`` (the multiply-adds of the recurrent products, if given) must
    reach :data:`MIN_FAST_SHARD_WORK`.

    Examples
    --------
    >>> from skrnn._fast import fast_shards
    >>> fast_shards(10)
    [slice(0, 10, None)]
    >>> fast_shards(33)
    [slice(0, 17, None), slice(17, 33, None)]
    >>> fast_shards(33, work=1000)
    [slice(0, 33, None)]
    """
    few = work is not None and work < MIN_FAST_SHARD_WORK
    if batch < 2 * _parallel.MIN_SHARD_ROWS or few:
        return [slice(0, batch)]
    half = (batch + 1) // 2
    return [slice(0, half), slice(half, batch)]


def _arg(array, dtype=None):
    """``array`` as the kernels take it: C-contiguous and writeable (numba
    compiles a read-only array, such as joblib's memory-mapped data, into a
    signature of its own; a copy is cheaper than a second compilation)."""
    return np.require(array, dtype, ["C", "W"])


def _valid(valid, shape):
    if valid is None:
        return np.ones(shape, bool)
    return _arg(valid, bool)


def _mask(rec_mask, width, dtype):
    if rec_mask is None:
        return np.empty((0, width), dtype)
    return _arg(rec_mask, dtype)


def forward_shards(fast, cell, cache, project, w_hh_t, b_hh, valid, rec_mask):
    """Run the compiled forward loop of every shard of ``cache``'s batch.

    ``cache`` is what ``skrnn._scan.scan_forward`` prepared (initial
    carries written, gate buffer projected unless ``project`` is given as
    ``(X, w_ih_t, bias, chunk_bytes)``). Returns ``cache["shards"]``: one
    ``(rows, None)`` per shard.
    """
    h = cache["h"]
    T, B, V = h.shape[0] - 1, h.shape[1], h.shape[2]
    w_hh_t = _arg(w_hh_t)
    shards = fast_shards(B, T * B * V * w_hh_t.shape[1])
    ok, mask = _valid(valid, (T, B)), _mask(rec_mask, V, h.dtype)
    if project is not None:
        X, w_ih_t, bias, chunk_bytes = project
        GH = w_ih_t.shape[1]
        # the shards' buffers together hold about chunk_bytes
        chunk = max(1, min(T, chunk_bytes // (B * GH * h.dtype.itemsize)))
        project = (_arg(X), _arg(w_ih_t), _arg(bias), chunk)

    def run(rows):
        fast.forward_rows(cell, cache, rows, project, w_hh_t, b_hh, ok, mask)

    run_shards(run, shards, (B, V, w_hh_t.shape[1], w_hh_t.dtype))
    return [(rows, None) for rows in shards]


def backward_arrays(cache, w_hh, dY):
    """``(w_hh, dY, valid, mask)`` as the compiled backward loop reads them."""
    h = cache["h"]
    T, B, V = h.shape[0] - 1, h.shape[1], h.shape[2]
    w_hh = _arg(w_hh, h.dtype)
    if dY is None:
        dY = np.empty((0, B, V), h.dtype)
    else:
        dY = _arg(dY, h.dtype)
    ok = _valid(cache["valid"], (T, B))
    return w_hh, dY, ok, _mask(cache["rec_mask"], V, h.dtype)
