"""The GRU cell's compiled scan behind the interface of ``skrnn._scan``."""

import numpy as np

from . import _kernels
from ._cache import call


def _b_hn(b_hh, H, dtype):
    return np.array(b_hh[2 * H :], dtype=dtype)


def forward_rows(cell, cache, rows, project, w_hh_t, b_hh, valid, mask):
    """Forward loop for the rows ``rows`` (a slice) of the whole-batch ``cache``.

    ``project`` is None when ``cache["gates"]`` holds every step's projection,
    else ``(X, w_ih_t, bias, chunk)`` to project ``chunk`` steps at a time.
    """
    r0, r1 = rows.start, rows.stop
    h = cache["h"]
    b_hn = _b_hn(b_hh, h.shape[2], h.dtype)
    if project is None:
        call(
            _kernels.gru_forward,
            cache["gates"],
            cache["hn"],
            h,
            w_hh_t,
            b_hn,
            valid,
            mask,
            r0,
            r1,
        )
    else:
        X, w_ih_t, bias, chunk = project
        call(
            _kernels.gru_predict,
            X,
            w_ih_t,
            bias,
            chunk,
            h,
            w_hh_t,
            b_hn,
            valid,
            mask,
            r0,
            r1,
        )


def backward_rows(cell, cache, rows, steps, w_hh, dg, dY, dh_rec, dcarry, valid, mask):
    """Reverse loop over ``steps`` for ``rows``: the gate buffer becomes ``dg``
    and the step buffer ``hn`` the candidate's hidden-side gradient."""
    call(
        _kernels.gru_backward,
        cache["gates"],
        cache["hn"],
        cache["h"],
        steps.start,
        steps.stop,
        w_hh,
        dY,
        dh_rec,
        valid,
        mask,
        rows.start,
        rows.stop,
    )
