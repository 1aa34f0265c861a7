"""Loaders for the small real datasets shipped in ``skrnn/datasets/data``."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from ._series import _sliding_windows
from ._validation import check_bool, check_int

__all__ = ["load_airline", "load_japanese_vowels", "load_macrodata"]

_MACRO_FEATURES = [
    "realgdp",
    "realcons",
    "realinv",
    "realgovt",
    "realdpi",
    "cpi",
    "m1",
    "tbilrate",
    "unemp",
    "pop",
]


def _data_file(name):
    """Traversable for a file in the package's ``data`` directory."""
    return resources.files("skrnn.datasets").joinpath("data", name)


def _read_descr(name):
    return _data_file(name).read_text(encoding="utf-8")


def _read_csv(name):
    """Header and rows (lists of strings) of a small comma-separated file."""
    lines = _data_file(name).read_text(encoding="utf-8").splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:] if line]


def _import_pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas ships with the tests
        raise ImportError(
            "as_frame=True needs pandas, which is not installed. Install it with "
            "`pip install pandas` or pass as_frame=False."
        ) from exc
    return pd


def _forecasting_bunch(
    series, time, names, freq, descr, n_timesteps, horizon, return_X_y, as_frame
):
    """Validate the window arguments, cut windows and assemble the result."""
    n_timesteps = check_int(n_timesteps, "n_timesteps", min_value=1)
    horizon = check_int(horizon, "horizon", min_value=1)
    return_X_y = check_bool(return_X_y, "return_X_y")
    as_frame = check_bool(as_frame, "as_frame")
    n_points = len(series)
    if n_timesteps + horizon > n_points:
        raise ValueError(
            f"n_timesteps + horizon must be at most the series length {n_points} "
            f"so that at least one window fits, got n_timesteps={n_timesteps} and "
            f"horizon={horizon}. Pass smaller values."
        )
    X, y = _sliding_windows(series, n_timesteps, horizon)
    if return_X_y:
        return X, y

    frame = None
    if as_frame:
        pd = _import_pandas()
        index = pd.PeriodIndex(pd.DatetimeIndex(time).to_period(freq), name="time")
        values = series.reshape(n_points, -1)
        frame = pd.DataFrame(values, index=index, columns=list(names))
        series = frame.iloc[:, 0] if series.ndim == 1 else frame
    return Bunch(
        data=X,
        target=y,
        series=series,
        time=time,
        target_time=time[n_timesteps : n_points - horizon + 1].copy(),
        feature_names=list(names),
        target_names=list(names),
        frame=frame,
        DESCR=descr,
    )


def load_airline(*, n_timesteps=12, horizon=1, return_X_y=False, as_frame=False):
    """Load the monthly international airline passengers series (1949-1960).

    The classic Box & Jenkins "Series G": 144 monthly totals, in thousands of
    passengers, with a trend, yearly seasonality and a seasonal amplitude that
    grows with the level (a log transform makes it additive). The series is
    returned raw and also cut into forecasting windows ready for ``fit``.

    ================   ==============
    Points             144
    Frequency          monthly
    Period             1949-01 to 1960-12
    Values             integers 104 - 622 (thousands)
    ================   ==============

    Read more in ``DESCR``.

    Parameters
    ----------
    n_timesteps : int, default=12
        Length of each input window (12 = one year), with
        ``n_timesteps + horizon <= 144``.
    horizon : int, default=1
        Number of months to forecast after each window, >= 1.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``series`` is a pandas Series and ``frame`` a DataFrame, both
        indexed by a monthly ``PeriodIndex``. ``data`` and ``target`` stay NumPy
        arrays (windows have no natural table form). Needs pandas.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes

        data : ndarray of shape (n_windows, n_timesteps, 1)
            Overlapping input windows in time order, ``data[i, :, 0] =
            series[i : i + n_timesteps]``, with ``n_windows = 144 - n_timesteps
            - horizon + 1``.
        target : ndarray of shape (n_windows,) or (n_windows, horizon)
            The ``horizon`` values after each window; 1-D when ``horizon == 1``.
        series : ndarray of shape (144,) or pandas Series
            The raw series, float64.
        time : ndarray of shape (144,), dtype datetime64[M]
            Month of each point of ``series``.
        target_time : ndarray of shape (n_windows,), dtype datetime64[M]
            Month of the first target value of each window.
        feature_names, target_names : list of str
            ``["passengers"]``.
        frame : pandas DataFrame of shape (144, 1) or None
            The raw series as a table when ``as_frame=True``.
        DESCR : str
            Description, source and licence of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The windows and their targets as above.

    Notes
    -----
    Windows overlap, so split them in time order (for example the last 24
    windows as test set, or :class:`~sklearn.model_selection.TimeSeriesSplit`),
    never at random.

    Examples
    --------
    >>> from skrnn.datasets import load_airline
    >>> airline = load_airline()
    >>> airline.series.shape, airline.data.shape, airline.target.shape
    ((144,), (132, 12, 1), (132,))
    >>> str(airline.time[0]), float(airline.series[0])
    ('1949-01', 112.0)
    >>> X, y = load_airline(n_timesteps=24, horizon=12, return_X_y=True)
    >>> X.shape, y.shape
    ((109, 24, 1), (109, 12))
    """
    _, rows = _read_csv("airline.csv")
    time = np.array([row[0] for row in rows], dtype="datetime64[M]")
    series = np.array([float(row[1]) for row in rows])
    return _forecasting_bunch(
        series,
        time,
        ["passengers"],
        "M",
        _read_descr("airline.rst"),
        n_timesteps,
        horizon,
        return_X_y,
        as_frame,
    )


def load_macrodata(*, n_timesteps=8, horizon=1, return_X_y=False, as_frame=False):
    """Load ten quarterly US macroeconomic series (1959Q1-2009Q3).

    A small multivariate forecasting set: real GDP and its components, prices,
    money, interest and unemployment rates and population, 203 quarters. Most
    series trend strongly; differencing or growth rates (for example
    ``np.diff(np.log(series), axis=0)``) are the usual first step.

    ================   ==============
    Points             203
    Variables          10
    Frequency          quarterly
    Period             1959Q1 to 2009Q3
    ================   ==============

    Read more in ``DESCR``.

    Parameters
    ----------
    n_timesteps : int, default=8
        Length of each input window (8 = two years), with
        ``n_timesteps + horizon <= 203``.
    horizon : int, default=1
        Number of quarters to forecast after each window, >= 1.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``series`` and ``frame`` are a pandas DataFrame indexed by a
        quarterly ``PeriodIndex``. ``data`` and ``target`` stay NumPy arrays.
        Needs pandas.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes

        data : ndarray of shape (n_windows, n_timesteps, 10)
            Overlapping input windows of all ten variables in time order, with
            ``n_windows = 203 - n_timesteps - horizon + 1``.
        target : ndarray of shape (n_windows, 10) or (n_windows, horizon, 10)
            The values of all variables at the ``horizon`` quarters after each
            window; the horizon axis is dropped when ``horizon == 1``.
        series : ndarray of shape (203, 10) or pandas DataFrame
            The raw series, float64.
        time : ndarray of shape (203,), dtype datetime64[M]
            First month of each quarter.
        target_time : ndarray of shape (n_windows,), dtype datetime64[M]
            Quarter of the first target value of each window.
        feature_names, target_names : list of str
            The ten variable names, in column order (see ``DESCR``).
        frame : pandas DataFrame of shape (203, 10) or None
            The raw series as a table when ``as_frame=True``.
        DESCR : str
            Description, source and licence of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The windows and their targets as above.

    Examples
    --------
    >>> from skrnn.datasets import load_macrodata
    >>> macro = load_macrodata()
    >>> macro.series.shape, macro.data.shape, macro.target.shape
    ((203, 10), (195, 8, 10), (195, 10))
    >>> macro.feature_names[:3]
    ['realgdp', 'realcons', 'realinv']
    >>> str(macro.time[1])
    '1959-04'
    """
    header, rows = _read_csv("macrodata.csv")
    columns = [header.index(name) for name in _MACRO_FEATURES]
    time = np.array(
        [f"{row[0]}-{3 * int(row[1]) - 2:02d}" for row in rows], dtype="datetime64[M]"
    )
    series = np.array([[float(row[j]) for j in columns] for row in rows])
    return _forecasting_bunch(
        series,
        time,
        _MACRO_FEATURES,
        "Q",
        _read_descr("macrodata.rst"),
        n_timesteps,
        horizon,
        return_X_y,
        as_frame,
    )


def load_japanese_vowels(*, return_X_y=False):
    """Load the Japanese Vowels speaker-recognition dataset (UCI).

    Nine male speakers each uttered the Japanese vowels /ae/; every utterance is
    a sequence of 7 to 29 frames of 12 LPC cepstrum coefficients. The task is to
    recognise the speaker. Sequences have different lengths, so ``data`` is a
    list of 2-D arrays rather than one 3-D array.

    =================   ==============
    Sequences           640 (270 train, 370 test)
    Classes             9 speakers, labelled 1 - 9
    Features            12
    Length              7 - 29 frames
    =================   ==============

    Read more in ``DESCR``.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes

        data : list of 640 ndarrays of shape (n_timesteps_i, 12)
            The utterances, float64, training ones first.
        target : ndarray of shape (640,), dtype int64
            Speaker label of each utterance, 1 to 9.
        lengths : ndarray of shape (640,), dtype int64
            ``n_timesteps_i`` of each utterance.
        train_indices : ndarray of shape (270,), dtype int64
            Positions of the original training set (30 utterances per speaker).
        test_indices : ndarray of shape (370,), dtype int64
            Positions of the original test set (24 to 88 utterances per
            speaker, recorded on other occasions).
        feature_names : list of str
            ``["lpc_cepstrum_1", ..., "lpc_cepstrum_12"]``.
        DESCR : str
            Description, source and licence of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The list of sequences and the labels as above.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.datasets import load_japanese_vowels
    >>> vowels = load_japanese_vowels()
    >>> len(vowels.data), vowels.data[0].shape, vowels.target.shape
    (640, (20, 12), (640,))
    >>> np.bincount(vowels.target[vowels.train_indices])[1:]
    array([30, 30, 30, 30, 30, 30, 30, 30, 30])
    >>> X_train = [vowels.data[i] for i in vowels.train_indices]
    """
    return_X_y = check_bool(return_X_y, "return_X_y")
    with _data_file("japanese_vowels.npz").open("rb") as file:
        with np.load(file) as archive:
            # Stored exactly as integers in units of 1e-6 (the source has six
            # decimals); dividing restores the published values.
            values = archive["values"] / 1e6
            lengths = archive["lengths"].astype(np.int64)
            target = archive["target"].astype(np.int64)
            train_indices = archive["train_indices"].astype(np.int64)
            test_indices = archive["test_indices"].astype(np.int64)
    data = np.split(values, np.cumsum(lengths)[:-1])
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        lengths=lengths,
        train_indices=train_indices,
        test_indices=test_indices,
        feature_names=[f"lpc_cepstrum_{i}" for i in range(1, 13)],
        DESCR=_read_descr("japanese_vowels.rst"),
    )
