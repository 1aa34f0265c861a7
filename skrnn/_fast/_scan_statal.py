"""The statal cell's compiled scan behind the interface of ``skrnn._scan``."""

from . import _kernels_statal
from ._cache import call


def forward_rows(cell, cache, rows, project, w_hh_t, b_hh, valid, mask):
    """Forward loop for the rows ``rows`` (a slice) of the whole-batch ``cache``.

    ``project`` is None when ``cache["gates"]`` holds every step's projection,
    else ``(X, w_ih_t, bias, chunk)`` to project ``chunk`` steps at a time.
    """
    r0, r1 = rows.start, rows.stop
    h = cache["h"]
    rho = cell.rho.astype(h.dtype)
    if project is None:
        call(
            _kernels_statal.statal_forward,
            cache["gates"],
            h,
            w_hh_t,
            rho,
            valid,
            mask,
            r0,
            r1,
        )
    else:
        X, w_ih_t, bias, chunk = project
        call(
            _kernels_statal.statal_predict,
            X,
            w_ih_t,
            bias,
            chunk,
            h,
            w_hh_t,
            rho,
            valid,
            mask,
            r0,
            r1,
        )


def backward_rows(cell, cache, rows, steps, w_hh, dg, dY, dh_rec, dcarry, valid, mask):
    """Reverse loop over ``steps`` for ``rows``: the gate buffer becomes ``dg``."""
    h = cache["h"]
    call(
        _kernels_statal.statal_backward,
        cache["gates"],
        h,
        steps.start,
        steps.stop,
        w_hh,
        cell.rho.astype(h.dtype),
        dY,
        dh_rec,
        valid,
        mask,
        rows.start,
        rows.stop,
    )
