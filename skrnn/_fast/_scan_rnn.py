"""The Elman cell's compiled scan behind the interface of ``skrnn._scan``."""

from . import _kernels
from ._cache import call


def forward_rows(cell, cache, rows, project, w_hh_t, b_hh, valid, mask):
    """Forward loop for the rows ``rows`` (a slice) of the whole-batch ``cache``.

    The Elman cell's gates are its output buffer, so ``project`` is always None.
    """
    relu = cell.nonlinearity == "relu"
    call(
        _kernels.rnn_forward,
        cache["h"],
        w_hh_t,
        valid,
        mask,
        relu,
        rows.start,
        rows.stop,
    )


def backward_rows(cell, cache, rows, steps, w_hh, dg, dY, dh_rec, dcarry, valid, mask):
    """Reverse loop over ``steps`` for ``rows``; ``dg`` holds one row per step."""
    relu = cell.nonlinearity == "relu"
    call(
        _kernels.rnn_backward,
        cache["h"],
        dg,
        steps.start,
        steps.stop,
        w_hh,
        dY,
        dh_rec,
        valid,
        mask,
        relu,
        rows.start,
        rows.stop,
    )
