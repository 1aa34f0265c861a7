"""Global configuration of skrnn: which implementation the recurrent scan runs."""

import contextlib
import importlib.util
import os

__all__ = ["config_context", "get_config", "set_config"]

#: Accepted values of ``fast_path``.
FAST_PATH_VALUES = ("auto", True, False)

#: Environment variable giving the starting value of ``fast_path`` ("auto", "1" or
#: "0"), read once at import; joblib's process workers inherit it.
FAST_PATH_ENV = "SKRNN_FAST_PATH"

_ENV_VALUES = {"auto": "auto", "1": True, "true": True, "0": False, "false": False}


def _from_env():
    raw = os.environ.get(FAST_PATH_ENV, "auto").strip().lower()
    if raw not in _ENV_VALUES:
        raise ValueError(
            f"{FAST_PATH_ENV}={raw!r} is not understood; set it to 'auto', '1' "
            "(compiled kernels) or '0' (NumPy scan), or unset it."
        )
    return _ENV_VALUES[raw]


_CONFIG = {"fast_path": _from_env()}


def _check_fast_path(value):
    if not (
        value is True or value is False or (isinstance(value, str) and value == "auto")
    ):
        raise ValueError(
            f"fast_path must be 'auto', True or False, got {value!r}; pass "
            "fast_path='auto' to use the compiled kernels when numba is installed."
        )
    if value is True and importlib.util.find_spec("numba") is None:
        raise ImportError(
            "fast_path=True needs numba, which is not installed; install the fast "
            "path with `pip install skrnn[fast]`, or pass fast_path='auto'."
        )


def get_config():
    """The current values of the global configuration.

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    Examples
    --------
    >>> import skrnn
    >>> sorted(skrnn.get_config())
    ['fast_path']
    """
    return dict(_CONFIG)


def set_config(fast_path=None):
    """Set the global configuration of skrnn (for the whole process).

    Parameters
    ----------
    fast_path : {"auto", True, False}, default=None
        Which implementation runs the recurrent scan (the loop over time of the
        ``"rnn"``, ``"lstm"``, ``"gru"`` and ``"statal"`` cells, forward and
        backward):

        - ``"auto"`` (the starting value): the compiled numba kernels when numba
          is installed (``pip install skrnn[fast]``), else the NumPy scan;
        - ``True``: the compiled kernels; raises ``ImportError`` without numba;
        - ``False``: the NumPy scan, the readable reference.

        The dilated convolutions (``"wavenet"``) follow the same rule with kernels
        of their own. ``None`` leaves the value unchanged. The starting value can be
        set with the environment variable ``SKRNN_FAST_PATH`` (``auto``, ``1``,
        ``0``), which joblib's worker processes inherit.

    See Also
    --------
    config_context : The same, for a block of code only.

    Examples
    --------
    >>> import skrnn
    >>> skrnn.set_config(fast_path=False)
    >>> skrnn.get_config()["fast_path"]
    False
    >>> skrnn.set_config(fast_path="auto")
    """
    if fast_path is not None:
        _check_fast_path(fast_path)
        _CONFIG["fast_path"] = fast_path


@contextlib.contextmanager
def config_context(*, fast_path=None):
    """Context manager: :func:`set_config` inside the block, restored after.

    Parameters
    ----------
    fast_path : {"auto", True, False}, default=None
        See :func:`set_config`.

    Examples
    --------
    >>> import numpy as np
    >>> import skrnn
    >>> X = np.random.RandomState(0).normal(size=(8, 5, 1))
    >>> y = X.sum(axis=(1, 2))
    >>> with skrnn.config_context(fast_path=False):  # the NumPy scan
    ...     model = skrnn.RNNRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    >>> skrnn.get_config()["fast_path"]
    'auto'
    """
    old = get_config()
    set_config(fast_path=fast_path)
    try:
        yield
    finally:
        _CONFIG.update(old)
