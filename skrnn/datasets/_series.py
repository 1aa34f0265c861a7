"""Synthetic forecasting series: noisy sines and the Mackey-Glass delay equation."""

import math
import numbers

import numpy as np
from scipy.signal import lfilter
from sklearn.utils import check_random_state

from .._windowing import make_windows
from ._validation import check_int, check_real

__all__ = ["mackey_glass", "make_mackey_glass", "make_noisy_sine"]

# Sampling interval of make_noisy_sine, in the time unit of its frequencies.
_SINE_DT = 0.1
# Largest integration sub-step of mackey_glass, in its time unit.
_MG_MAX_SUBSTEP = 0.01
# Relative half-width of the random jitter on the Mackey-Glass initial history.
_MG_JITTER = 0.1


def _sliding_windows(series, n_timesteps, horizon):
    """Cut a series into overlapping input windows and the values that follow.

    Parameters
    ----------
    series : ndarray of shape (n_points,) or (n_points, n_features)
        Time-ordered values.
    n_timesteps : int
        Window length, with ``n_timesteps + horizon <= n_points``.
    horizon : int
        Number of future values per window.

    Returns
    -------
    X : ndarray of shape (n_windows, n_timesteps, n_features)
        ``X[i] = series[i : i + n_timesteps]``, with
        ``n_windows = n_points - n_timesteps - horizon + 1``.
    y : ndarray
        ``series[i + n_timesteps : i + n_timesteps + horizon]`` for each window,
        of shape (n_windows,) for a 1-D series and horizon 1, (n_windows,
        horizon) for a 1-D series, (n_windows, n_features) for horizon 1 and
        (n_windows, horizon, n_features) otherwise. Neither is a view of ``series``.
    """
    series = np.asarray(series, dtype=np.float64)
    # a list of every feature keeps the target axis of a 2-D series
    target = None if series.ndim == 1 else list(range(series.shape[1]))
    return make_windows(series, n_timesteps, horizon, target=target)


def make_noisy_sine(
    n_samples=200,
    n_timesteps=50,
    *,
    noise=0.1,
    frequency_range=(0.5, 2.0),
    horizon=1,
    random_state=None,
):
    """Generate noisy sine windows and the clean values that follow them.

    Each sample is a unit-amplitude sine ``sin(2 pi f t + phi)`` with its own
    frequency ``f`` drawn uniformly from ``frequency_range`` and phase ``phi``
    uniform on ``[0, 2 pi)``, sampled every 0.1 time units (so ``f = 1`` is one
    cycle every 10 steps). The input window carries additive Gaussian noise; the
    target is the *clean* sine over the next ``horizon`` steps, so a perfect
    model denoises and extrapolates.

    Parameters
    ----------
    n_samples : int, default=200
        Number of windows, >= 1.
    n_timesteps : int, default=50
        Window length, >= 1.
    noise : float, default=0.1
        Standard deviation of the input noise, >= 0. Difficulty knob: the
        signal-to-noise ratio is ``0.5 / noise ** 2``.
    frequency_range : tuple of two floats, default=(0.5, 2.0)
        ``(low, high)`` bounds of the frequency, ``0 < low <= high < 5`` (5 is
        the Nyquist frequency at this sampling rate). A wider range forces the
        model to infer the frequency from the window.
    horizon : int, default=1
        Number of future clean values to predict, >= 1.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for every random draw. The noise is drawn after the
        frequencies and phases, so one seed gives the same clean sines (and the
        same ``y``) at every noise level.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 1), dtype float64
        Noisy windows.
    y : ndarray of shape (n_samples,) or (n_samples, horizon), dtype float64
        Clean values at the ``horizon`` steps after each window; 1-D when
        ``horizon == 1``.

    Examples
    --------
    >>> from skrnn.datasets import make_noisy_sine
    >>> X, y = make_noisy_sine(n_samples=5, n_timesteps=30, random_state=0)
    >>> X.shape, y.shape
    ((5, 30, 1), (5,))
    >>> X, Y = make_noisy_sine(n_samples=5, horizon=3, noise=0.0, random_state=0)
    >>> Y.shape
    (5, 3)
    >>> bool(abs(Y).max() <= 1.0)
    True
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_timesteps = check_int(n_timesteps, "n_timesteps", min_value=1)
    noise = check_real(noise, "noise", low=0.0)
    nyquist = 0.5 / _SINE_DT
    if (
        isinstance(frequency_range, (str, bytes))
        or not hasattr(frequency_range, "__len__")
        or len(frequency_range) != 2
    ):
        raise TypeError(
            f"frequency_range must be a pair (low, high), got {frequency_range!r}. "
            f"Pass for example frequency_range=(0.5, 2.0)."
        )
    low, high = frequency_range
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"frequency_range must hold two real numbers, but its {name} "
                f"bound is {value!r}. Pass for example frequency_range=(0.5, 2.0)."
            )
    if not 0 < low <= high < nyquist:
        raise ValueError(
            f"frequency_range must satisfy 0 < low <= high < {nyquist:g} (the "
            f"Nyquist frequency at a sampling step of {_SINE_DT}), got "
            f"{tuple(frequency_range)}. Pass for example frequency_range=(0.5, 2.0)."
        )
    horizon = check_int(horizon, "horizon", min_value=1)
    rng = check_random_state(random_state)

    frequency = rng.uniform(low, high, size=(n_samples, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_samples, 1))
    t = _SINE_DT * np.arange(n_timesteps + horizon)
    clean = np.sin(2.0 * np.pi * frequency * t + phase)
    X = clean[:, :n_timesteps] + noise * rng.standard_normal((n_samples, n_timesteps))
    y = clean[:, n_timesteps:]
    return X[:, :, np.newaxis], (y[:, 0] if horizon == 1 else y)


def mackey_glass(
    n_points=1000,
    *,
    tau=17,
    beta=0.2,
    gamma=0.1,
    n=10,
    dt=1.0,
    x0=1.2,
    discard=250,
    random_state=None,
):
    """Integrate the Mackey-Glass delay differential equation.

    The series solves

    .. math:: \\frac{dx}{dt} = \\beta \\frac{x(t - \\tau)}{1 + x(t - \\tau)^n}
              - \\gamma x(t),

    a classic chaotic forecasting benchmark (chaotic for ``tau > 16.8`` with the
    default ``beta``, ``gamma`` and ``n``; ``tau=17`` and ``tau=30`` are the usual
    choices).

    Parameters
    ----------
    n_points : int, default=1000
        Number of returned samples, >= 1.
    tau : float, default=17
        Delay, >= 0.1. Larger delays give a higher-dimensional attractor.
    beta : float, default=0.2
        Gain of the delayed feedback, > 0.
    gamma : float, default=0.1
        Decay rate, > 0.
    n : float, default=10
        Exponent of the feedback nonlinearity, > 0.
    dt : float, default=1.0
        Time between returned samples, > 0.
    x0 : float, default=1.2
        Centre of the initial history on ``[-tau, 0]``, > 0.
    discard : int, default=250
        Number of leading samples (spaced ``dt`` apart) to drop so that the
        series starts on the attractor rather than in the transient, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the initial history, which is piecewise linear
        on ``[-tau, 0]`` between knots one time unit apart, each knot drawn
        uniformly from ``[0.9 * x0, 1.1 * x0]``. The system is chaotic, so
        different seeds give different series.

    Returns
    -------
    x : ndarray of shape (n_points,), dtype float64
        ``x[k]`` is the solution at time ``(discard + k) * dt``.

    Notes
    -----
    The equation is integrated on a fine grid of sub-steps
    ``h = dt / ceil(dt / 0.01)`` (at most 0.01 time units). On each sub-step the
    decay term is integrated exactly (exponential integrator) and the delayed
    feedback is taken as linear in time between grid values, itself linearly
    interpolated when ``tau`` is not a multiple of ``h``. The scheme is
    second-order accurate: over 200 time units it agrees with a fourth-order
    Runge-Kutta solution on a five times finer grid to about ``1e-5``. Because
    the delayed term over the next ``tau`` time units depends only on values
    already computed, each such stretch is a linear recurrence solved in one
    vectorized :func:`scipy.signal.lfilter` call. Memory grows as
    ``(discard + n_points) * dt / h`` floats.

    References
    ----------
    .. [1] M. C. Mackey and L. Glass, "Oscillation and chaos in physiological
       control systems", Science 197(4300), 1977.

    Examples
    --------
    >>> from skrnn.datasets import mackey_glass
    >>> x = mackey_glass(n_points=500, random_state=0)
    >>> x.shape
    (500,)
    >>> bool(0.2 < x.min() and x.max() < 1.5)
    True
    """
    n_points = check_int(n_points, "n_points", min_value=1)
    tau = check_real(tau, "tau", low=0.1)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    gamma = check_real(gamma, "gamma", low=0.0, low_open=True)
    n = check_real(n, "n", low=0.0, low_open=True)
    dt = check_real(dt, "dt", low=0.0, low_open=True)
    x0 = check_real(x0, "x0", low=0.0, low_open=True)
    discard = check_int(discard, "discard", min_value=0)
    rng = check_random_state(random_state)

    substeps = math.ceil(dt / _MG_MAX_SUBSTEP - 1e-9)
    h = dt / substeps
    delay = tau / h  # delay in sub-steps, >= 10
    if abs(delay - round(delay)) < 1e-9:  # tau a multiple of h up to rounding
        delay = float(round(delay))
    n_history = math.ceil(delay)
    n_steps = (discard + n_points - 1) * substeps

    x = np.empty(n_history + 1 + n_steps)  # x[n_history + i] is x(i h)
    x[: n_history + 1] = _mg_history(rng, tau, x0, h, n_history)
    _mg_integrate(x, n_history, delay, beta, gamma, n, h)

    first = n_history + discard * substeps
    return x[first : first + (n_points - 1) * substeps + 1 : substeps].copy()


def _mg_history(rng, tau, x0, h, n_history):
    """Random history on ``[-tau, 0]``: piecewise linear between knots one time
    unit apart, on the grid ``h * (-n_history .. 0)``."""
    knot_times = -np.arange(math.ceil(tau) + 1.0)[::-1]
    knots = x0 * (1.0 + _MG_JITTER * rng.uniform(-1.0, 1.0, len(knot_times)))
    return np.interp(h * np.arange(-n_history, 1), knot_times, knots)


def _mg_integrate(x, n_history, delay, beta, gamma, n, h):
    """Fill ``x[n_history + 1:]`` from its history, ``delay`` sub-steps long.

    Each stretch of ``floor(delay)`` sub-steps is one linear recurrence (the
    decay integrated exactly, the delayed feedback linear in between grid
    values), solved by one :func:`scipy.signal.lfilter` call.
    """
    n_steps = len(x) - n_history - 1
    feedback = np.empty_like(x)  # beta x / (1 + x^n) on the same grid
    feedback[: n_history + 1] = (
        beta * x[: n_history + 1] / (1.0 + x[: n_history + 1] ** n)
    )

    decay = math.exp(-gamma * h)
    one_minus_decay = -math.expm1(-gamma * h)
    # Exact integral of exp(-gamma (h - s)) times the linear ramp from g_i to g_{i+1}.
    weight_next = 1.0 / gamma - one_minus_decay / (gamma * gamma * h)
    weight_now = one_minus_decay / gamma - weight_next

    # The delayed time of grid index j sits at index j - delay = lo + frac.
    # Steps within one chunk only need delayed values that are already known.
    offset = n_history - delay
    lo0 = math.floor(offset)
    frac = offset - lo0
    chunk = math.floor(delay)
    step = 0
    while step < n_steps:
        size = min(chunk, n_steps - step)
        lo = lo0 + step
        delayed = feedback[lo : lo + size + 1]
        if frac > 0:
            delayed = (1.0 - frac) * delayed + frac * feedback[lo + 1 : lo + size + 2]
        forcing = weight_now * delayed[:-1] + weight_next * delayed[1:]
        start = n_history + step
        x[start + 1 : start + 1 + size] = lfilter(
            [1.0], [1.0, -decay], forcing, zi=[decay * x[start]]
        )[0]
        new = x[start + 1 : start + 1 + size]
        feedback[start + 1 : start + 1 + size] = beta * new / (1.0 + new**n)
        step += size


def make_mackey_glass(
    n_samples=1000, n_timesteps=50, *, horizon=1, tau=17, random_state=None
):
    """Generate forecasting windows cut from one Mackey-Glass series.

    One series of ``n_samples + n_timesteps + horizon - 1`` points is integrated
    with :func:`mackey_glass` (``dt=1``, default constants) and cut into
    overlapping windows with stride 1. Consecutive samples therefore share all
    but one step: evaluate with a time-ordered split (for example the last 20%
    of the samples), never a shuffled one.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of windows, >= 1.
    n_timesteps : int, default=50
        Window length, >= 1.
    horizon : int, default=1
        Number of future values to predict, >= 1. Difficulty knob: errors
        grow quickly with the horizon on a chaotic series.
    tau : float, default=17
        Delay of the equation, >= 0.1; 30 gives a harder, higher-dimensional
        attractor.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the initial history of the series.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 1), dtype float64
        ``X[i, :, 0] = x[i : i + n_timesteps]``.
    y : ndarray of shape (n_samples,) or (n_samples, horizon), dtype float64
        ``x[i + n_timesteps : i + n_timesteps + horizon]``; 1-D when
        ``horizon == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.datasets import make_mackey_glass
    >>> X, y = make_mackey_glass(n_samples=100, n_timesteps=20, random_state=0)
    >>> X.shape, y.shape
    ((100, 20, 1), (100,))
    >>> bool(np.array_equal(X[1:, -1, 0], y[:-1]))
    True
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_timesteps = check_int(n_timesteps, "n_timesteps", min_value=1)
    horizon = check_int(horizon, "horizon", min_value=1)
    series = mackey_glass(
        n_samples + n_timesteps + horizon - 1, tau=tau, random_state=random_state
    )
    return _sliding_windows(series, n_timesteps, horizon)
