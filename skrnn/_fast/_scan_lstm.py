"""The LSTM cell's compiled scan behind the interface of ``skrnn._scan``."""

from . import _kernels
from ._cache import call


def forward_rows(cell, cache, rows, project, w_hh_t, b_hh, valid, mask):
    """Forward loop for the rows ``rows`` (a slice) of the whole-batch ``cache``.

    ``project`` is None when ``cache["gates"]`` holds every step's projection,
    else ``(X, w_ih_t, bias, chunk)`` to project ``chunk`` steps at a time.
    """
    r0, r1 = rows.start, rows.stop
    if project is None:
        call(
            _kernels.lstm_forward,
            cache["gates"],
            cache["h"],
            cache["c"],
            w_hh_t,
            valid,
            mask,
            r0,
            r1,
        )
    else:
        X, w_ih_t, bias, chunk = project
        call(
            _kernels.lstm_predict,
            X,
            w_ih_t,
            bias,
            chunk,
            cache["h"],
            cache["c"],
            w_hh_t,
            valid,
            mask,
            r0,
            r1,
        )


def backward_rows(cell, cache, rows, steps, w_hh, dg, dY, dh_rec, dcarry, valid, mask):
    """Reverse loop over ``steps`` for ``rows``: the gate buffer becomes ``dg``."""
    call(
        _kernels.lstm_backward,
        cache["gates"],
        cache["c"],
        steps.start,
        steps.stop,
        w_hh,
        dY,
        dh_rec,
        dcarry["c"],
        valid,
        mask,
        rows.start,
        rows.stop,
    )
