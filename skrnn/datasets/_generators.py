"""Synthetic long-memory sequence tasks: adding, copy, memory and marker problems."""

import numpy as np
from sklearn.utils import check_random_state

from ._validation import check_int, check_real

__all__ = [
    "make_adding_problem",
    "make_copy_task",
    "make_marker_task",
    "make_memory_task",
]


def make_adding_problem(n_samples=1000, n_timesteps=50, *, random_state=None):
    """Generate the adding problem, a long-range regression benchmark.

    Every sequence has two channels. Channel 0 holds values drawn uniformly
    from ``[0, 1)``; channel 1 is a marker that equals 1 at exactly two time
    steps, one in the first half ``[0, n_timesteps // 2)`` and one in the second
    half ``[n_timesteps // 2, n_timesteps)``, and 0 elsewhere. The target is the
    sum of the two marked values, so the network has to remember the first
    marked value across up to ``n_timesteps`` steps.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, >= 1.
    n_timesteps : int, default=50
        Sequence length, >= 2. This is the difficulty knob: the longer the
        sequence, the longer the first value must be carried (Le et al. use
        150 to 750).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for every random draw; pass an int for
        reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 2), dtype float64
        Values (channel 0) and markers (channel 1).
    y : ndarray of shape (n_samples,), dtype float64
        Sum of the two marked values, in ``[0, 2)``.

    Notes
    -----
    The target is a sum of two independent uniform variables, so always
    predicting ``1.0`` gives a mean squared error of ``1/6 ~= 0.167``. That is
    the baseline a model must beat to show it uses memory at all.

    References
    ----------
    .. [1] S. Hochreiter and J. Schmidhuber, "Long short-term memory",
       Neural Computation 9(8), 1997 (experiment 4).
    .. [2] Q. V. Le, N. Jaitly and G. E. Hinton, "A simple way to initialize
       recurrent networks of rectified linear units", arXiv:1504.00941, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.datasets import make_adding_problem
    >>> X, y = make_adding_problem(n_samples=3, n_timesteps=10, random_state=0)
    >>> X.shape, y.shape
    ((3, 10, 2), (3,))
    >>> X[:, :, 1].sum(axis=1)
    array([2., 2., 2.])
    >>> bool(np.allclose(y, (X[:, :, 0] * X[:, :, 1]).sum(axis=1)))
    True
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_timesteps = check_int(
        n_timesteps,
        "n_timesteps",
        min_value=2,
        hint=" (one marker goes in each half of the sequence)",
    )
    rng = check_random_state(random_state)

    values = rng.uniform(0.0, 1.0, size=(n_samples, n_timesteps))
    half = n_timesteps // 2
    first = rng.randint(0, half, size=n_samples)
    second = rng.randint(half, n_timesteps, size=n_samples)

    rows = np.arange(n_samples)
    X = np.zeros((n_samples, n_timesteps, 2))
    X[:, :, 0] = values
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = values[rows, first] + values[rows, second]
    return X, y


def make_copy_task(
    n_samples=1000, n_symbols=8, sequence_length=5, lag=10, *, random_state=None
):
    """Generate the copy task: memorise a symbol sequence, reproduce it later.

    Each input sequence has ``n_timesteps = 2 * sequence_length + lag`` steps
    and is one-hot encoded over ``n_symbols + 2`` classes: the symbols
    ``0 .. n_symbols - 1``, the blank ``n_symbols`` and the delimiter
    ``n_symbols + 1``. The layout in time is::

        input : s1 .. sL | blank .. blank  delimiter | blank .. blank
        target: blank .. blank ........................ | s1 .. sL
                <- L ->    <------- lag ------->          <- L ->

    The first ``L = sequence_length`` steps show random symbols, then come
    ``lag - 1`` blanks and one delimiter that says "start copying now", then
    ``L`` more blanks during which the network must output the memorised
    symbols in order. The target is the blank at every other step.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, >= 1.
    n_symbols : int, default=8
        Size of the alphabet to memorise, >= 1. More symbols make each step
        carry more information.
    sequence_length : int, default=5
        Number of symbols to memorise and reproduce, >= 1.
    lag : int, default=10
        Number of steps between the end of the symbols and the start of the
        reproduction (the last of them is the delimiter), >= 1. The main
        difficulty knob: Arjovsky et al. use lags up to 500 with 10 symbols.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_symbols + 2), dtype float64
        One-hot inputs, with ``n_timesteps = 2 * sequence_length + lag``.
    Y : ndarray of shape (n_samples, n_timesteps), dtype int64
        Target class at every step: ``n_symbols`` (blank) except in the last
        ``sequence_length`` steps, where ``Y[:, -L:]`` repeats the input symbols
        ``X[:, :L].argmax(-1)``. The delimiter class never occurs in ``Y``.

    Notes
    -----
    A memoryless model that outputs the blank until the delimiter and then
    guesses uniformly among the symbols reaches a mean cross-entropy per step
    of ``sequence_length * log(n_symbols) / n_timesteps`` (0.52 nats with the
    defaults). A model that beats it is using memory.

    References
    ----------
    .. [1] S. Hochreiter and J. Schmidhuber, "Long short-term memory",
       Neural Computation 9(8), 1997.
    .. [2] M. Arjovsky, A. Shah and Y. Bengio, "Unitary evolution recurrent
       neural networks", ICML 2016.

    Examples
    --------
    >>> from skrnn.datasets import make_copy_task
    >>> X, Y = make_copy_task(n_samples=2, n_symbols=4, sequence_length=3,
    ...                       lag=2, random_state=0)
    >>> X.shape, Y.shape
    ((2, 8, 6), (2, 8))
    >>> X[0].argmax(axis=1)
    array([0, 3, 1, 4, 5, 4, 4, 4])
    >>> Y[0]
    array([4, 4, 4, 4, 4, 0, 3, 1])
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_symbols = check_int(n_symbols, "n_symbols", min_value=1)
    length = check_int(sequence_length, "sequence_length", min_value=1)
    lag = check_int(lag, "lag", min_value=1, hint=" (the delimiter needs one step)")
    rng = check_random_state(random_state)

    blank, delimiter = n_symbols, n_symbols + 1
    n_timesteps = 2 * length + lag
    symbols = rng.randint(0, n_symbols, size=(n_samples, length))

    inputs = np.full((n_samples, n_timesteps), blank, dtype=np.int64)
    inputs[:, :length] = symbols
    inputs[:, length + lag - 1] = delimiter
    X = np.zeros((n_samples, n_timesteps, n_symbols + 2))
    np.put_along_axis(X, inputs[:, :, np.newaxis], 1.0, axis=2)

    Y = np.full((n_samples, n_timesteps), blank, dtype=np.int64)
    Y[:, n_timesteps - length :] = symbols
    return X, Y


def make_memory_task(
    n_samples=1000,
    n_timesteps=50,
    lag=10,
    *,
    n_features=1,
    noise=0.0,
    random_state=None,
):
    """Generate the delayed-recall task used to probe memory capacity.

    Inputs are i.i.d. uniform on ``[-1, 1)``. The target is the value that
    channel 0 held ``lag`` steps before the last step,
    ``y = X[:, n_timesteps - 1 - lag, 0]``, plus optional Gaussian noise.
    Sweeping ``lag`` and recording the :math:`R^2` of a model at each lag gives
    the memory-capacity curve of Jaeger (2001).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, >= 1.
    n_timesteps : int, default=50
        Sequence length, >= 1.
    lag : int, default=10
        How far back to recall, in ``[0, n_timesteps - 1]``. ``lag=0`` asks for
        the current input; larger lags need longer memory.
    n_features : int, default=1
        Number of input channels, >= 1. Channels other than 0 are
        distractors with the same distribution, so the model must also learn
        which channel to remember.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``, >= 0. It sets
        an irreducible error of ``noise ** 2``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features), dtype float64
        Uniform random inputs.
    y : ndarray of shape (n_samples,), dtype float64
        Lagged value of channel 0 plus noise.

    Notes
    -----
    Always predicting 0 gives a mean squared error of ``1/3 + noise ** 2``
    (the variance of the uniform distribution on ``[-1, 1)`` plus the noise).

    References
    ----------
    .. [1] H. Jaeger, "Short term memory in echo state networks", GMD Report
       152, German National Research Center for Information Technology, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.datasets import make_memory_task
    >>> X, y = make_memory_task(n_samples=4, n_timesteps=20, lag=5,
    ...                         random_state=0)
    >>> X.shape, y.shape
    ((4, 20, 1), (4,))
    >>> bool(np.array_equal(y, X[:, 20 - 1 - 5, 0]))
    True
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_timesteps = check_int(n_timesteps, "n_timesteps", min_value=1)
    lag = check_int(lag, "lag", min_value=0)
    if lag > n_timesteps - 1:
        raise ValueError(
            f"lag must be at most n_timesteps - 1 = {n_timesteps - 1} (the "
            f"recalled step must lie inside the sequence), got lag={lag}. Pass a "
            f"smaller lag or n_timesteps >= {lag + 1}."
        )
    n_features = check_int(n_features, "n_features", min_value=1)
    noise = check_real(noise, "noise", low=0.0)
    rng = check_random_state(random_state)

    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_timesteps, n_features))
    y = X[:, n_timesteps - 1 - lag, 0].copy()
    if noise > 0:
        y += noise * rng.standard_normal(n_samples)
    return X, y


def make_marker_task(
    n_samples=1000,
    n_timesteps=500,
    *,
    n_features=4,
    marker_prob=0.5,
    n_distractors=5,
    noise=0.1,
    random_state=None,
):
    """Generate the marker-detection task: did channel 0 ever spike?

    Every channel carries small uniform noise on ``[-noise, noise)``. In a
    positive sequence, channel 0 holds one spike of value exactly 1 at a random
    step; negative sequences have none. Every sequence, positive or negative,
    also receives ``n_distractors`` spikes of the same value 1 at random steps
    in the *other* channels, so a model that reacts to any spike scores at
    chance: it has to watch the right feature and keep the answer until the
    end of the sequence.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, >= 1.
    n_timesteps : int, default=500
        Sequence length, >= 1. The main difficulty knob: a marker early in a
        long sequence must be remembered for many steps.
    n_features : int, default=4
        Number of channels, >= 1. Channel 0 carries the marker.
    marker_prob : float, default=0.5
        Fraction of positive sequences, in ``[0, 1]``. Exactly
        ``round(marker_prob * n_samples)`` sequences are positive, in random
        order, so the default gives balanced classes.
    n_distractors : int, default=5
        Number of distractor spikes per sequence, >= 0, placed at random
        (step, channel) pairs in channels ``1 .. n_features - 1``. Two draws may
        land on the same cell. Needs ``n_features >= 2`` when positive.
    noise : float, default=0.1
        Half-width of the uniform background noise, in ``[0, 0.5)``. Keeping it
        below 0.5 makes the marker unambiguous: channel 0 exceeds 0.5 exactly
        at the marker.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features), dtype float64
        Noisy channels with the marker and distractor spikes.
    y : ndarray of shape (n_samples,), dtype int64
        1 if channel 0 contains the marker, else 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.datasets import make_marker_task
    >>> X, y = make_marker_task(n_samples=6, n_timesteps=30, random_state=0)
    >>> X.shape, y.shape
    ((6, 30, 4), (6,))
    >>> int(y.sum())
    3
    >>> bool(np.array_equal(y, (X[:, :, 0] > 0.5).any(axis=1)))
    True
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    n_timesteps = check_int(n_timesteps, "n_timesteps", min_value=1)
    n_features = check_int(n_features, "n_features", min_value=1)
    marker_prob = check_real(marker_prob, "marker_prob", low=0.0, high=1.0)
    n_distractors = check_int(n_distractors, "n_distractors", min_value=0)
    if n_distractors > 0 and n_features < 2:
        raise ValueError(
            f"n_distractors={n_distractors} needs n_features >= 2, because "
            f"distractors go in channels other than the marker channel 0; got "
            f"n_features={n_features}. Pass n_features >= 2 or n_distractors=0."
        )
    noise = check_real(
        noise,
        "noise",
        low=0.0,
        high=0.5,
        high_open=True,
        hint=" (so the spike of 1 stays distinguishable from the noise)",
    )
    rng = check_random_state(random_state)

    n_positive = int(round(marker_prob * n_samples))
    y = np.zeros(n_samples, dtype=np.int64)
    y[:n_positive] = 1
    y = y[rng.permutation(n_samples)]

    X = rng.uniform(-noise, noise, size=(n_samples, n_timesteps, n_features))
    if n_distractors > 0:
        steps = rng.randint(0, n_timesteps, size=(n_samples, n_distractors))
        channels = rng.randint(1, n_features, size=(n_samples, n_distractors))
        rows = np.repeat(np.arange(n_samples), n_distractors)
        X[rows, steps.ravel(), channels.ravel()] = 1.0
    marker_step = rng.randint(0, n_timesteps, size=n_samples)
    positive = np.flatnonzero(y)
    X[positive, marker_step[positive], 0] = 1.0
    return X, y
