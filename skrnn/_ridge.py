"""The weighted ridge regression that the linear skip and the level gain solve."""

import numpy as np
from sklearn.linear_model import Ridge, RidgeCV

from ._scaling import target_scaling

__all__ = ["RIDGE_ALPHAS", "weighted_ridge"]

#: Ridge penalties tried, on standardised columns, by generalised cross-validation.
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def weighted_ridge(L, T, w, what, off, alpha=None):
    """``(coef, bias)`` of the ridge regression of ``T`` on ``L``, in float64.

    The columns of ``L`` are standardised (weighted) before the fit, so the
    penalty treats them alike; its strength is ``alpha``, or by default
    chosen over :data:`RIDGE_ALPHAS` by scikit-learn's ``RidgeCV``
    (generalised cross-validation, which counts a row of weight 2 once: only
    a fixed ``alpha`` makes integer weights equal repeated rows). Rows of
    zero weight are left out.

    Parameters
    ----------
    L : ndarray of shape (n_rows, n_columns)
    T : ndarray of shape (n_rows, n_targets)
    w : ndarray of shape (n_rows,)
    what, off : str
        The model being solved and the setting that switches it off, both
        named by the error raised when the sums of squares overflow.
    alpha : float or None, default=None
        A fixed penalty instead of the cross-validated one.

    Returns
    -------
    coef : ndarray of shape (n_targets, n_columns)
    bias : ndarray of shape (n_targets,)
    """
    L, T, w = (np.asarray(a, np.float64) for a in (L, T, w))
    keep = w > 0
    L, T, w = L[keep], T[keep], w[keep]
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        mean, scale = target_scaling(L, w, np.float64)  # weighted, 1 if constant
        Z = (L - mean) / scale
        finite = all(np.isfinite(a).all() for a in (scale, Z, T))
        if finite:
            ridge = RidgeCV(alphas=RIDGE_ALPHAS) if alpha is None else Ridge(alpha)
            ridge.fit(Z, T, sample_weight=w)
            coef = np.atleast_2d(ridge.coef_) / scale
            bias = np.atleast_1d(ridge.intercept_) - coef @ mean
            finite = np.isfinite(coef).all() and np.isfinite(bias).all()
    if not finite:
        raise ValueError(
            f"the {what} overflowed: the inputs are too large for float64 sums "
            "of squares. Scale them (for example with "
            f"skrnn.preprocessing.SequenceScaler) or {off}."
        )
    return coef, bias
