"""The real datasets of bench_learning.py: standard splits, scaling, published figures.

Every loader reads only data bundled offline in a package wheel (sktime's
``datasets/data`` folder, skrnn's ``skrnn/datasets/data``) and returns a
:class:`Task`: train / test arrays already scaled as a user would, the problem
shape, the cell the skrnn row uses and the best published deep-learning figure,
where one is known with its source.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from skrnn.preprocessing import SequenceScaler, make_windows

#: What each kind of task is scored by; accuracy is higher-better, RMSE lower.
METRIC = {
    "classify": "accuracy",
    "regress": "RMSE",
    "one_step": "RMSE",
    "forecast": "RMSE",
    "seq2seq": "RMSE",
    "per_step": "RMSE",
}

# Published deep-learning figures, best of the networks listed, on the standard
# split. Sources (numbers copied from the result files named, not from memory):
# [F19] Ismail Fawaz et al. (2019), "Deep learning for time series classification:
#   a review", DMKD 33(4); github.com/hfawaz/dl-4-tsc results/results-uea-avg-std.csv
#   (UCR 2015 archive, mean of 10 runs) and results-mts-avg-std.csv (Baydogan's
#   MTS archive, mean of 10 runs).
# [F19-128] the same repository's results/results-ucr-128.csv (UCR 2018 archive,
#   5 runs per network; the mean of the 5 is given).
# [R21] Ruiz et al. (2021), "The great multivariate time series classification bake
#   off", DMKD 35(2); tsml-eval results/classification/Multivariate/ResNet_accuracy.csv,
#   fold 0 (the default train/test split).
# [G23] Guijo-Rubio et al. (2023), "Unsupervised feature based algorithms for time
#   series extrinsic regression"; tsml-eval results/regression/FCN_rmse.csv, fold 0.
PUBLISHED = {
    "ArrowHead": ("ResNet 0.845 [F19]", 0.845),  # FCN 0.843
    "GunPoint": ("FCN 1.000 [F19]", 1.0),  # ResNet 0.991
    "ItalyPowerDemand": ("ResNet 0.963 [F19]", 0.963),  # FCN 0.961
    "OSULeaf": ("ResNet 0.979 [F19]", 0.979),  # FCN 0.977
    "ACSF1": ("ResNet 0.916 [F19-128]", 0.916),  # FCN 0.898
    "PLAID": ("ResNet 0.940 [F19-128]", 0.940),  # FCN 0.904
    "JapaneseVowels": ("FCN 0.993 [F19]", 0.993),  # ResNet 0.992
    "BasicMotions": ("ResNet 1.000 [R21]", 1.0),
    "Covid3Month": ("FCN 0.0436 [G23]", 0.0436),  # InceptionTime 0.0547
}


@dataclass
class Task:
    """One panel row: data, how skrnn is fitted on it, and what it is compared with.

    ``data`` holds, by ``kind``:

    - ``classify`` / ``regress``: ``X_train, y_train, X_test, y_test`` (3-D arrays
      or lists of 2-D sequences for variable length).
    - ``one_step``: ``series`` (n_points, n_features) scaled, ``target`` (column),
      ``n_test``, ``window``, ``m`` (season), ``unscale`` (scaled -> units).
    - ``forecast`` / ``seq2seq``: the same, forecasting the last ``n_test`` points
      from the end of the training part in one go.
    - ``per_step``: ``series``, ``target``, ``n_test``, ``window``, ``unscale``.
    """

    name: str
    kind: str
    shape: str
    cell: str
    data: dict
    split: str
    published: tuple | None = None

    @property
    def metric(self):
        return METRIC[self.kind]

    @property
    def higher_is_better(self):
        return self.metric == "accuracy"


# ---------------------------------------------------------------- sktime access
def _sktime():
    try:
        import sktime.datasets as sd
    except ImportError as exc:
        raise ImportError(
            "bench_learning.py reads sktime's bundled archive data; install it with "
            '`pip install ".[benchmark]"` (or `pip install sktime`).'
        ) from exc
    return sd


def _ucr(name, return_type="numpy3D"):
    """Standard train / test split of a bundled UCR/UEA dataset (no download)."""
    sd = _sktime()
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for split in ("train", "test"):
            X, y = sd.load_UCR_UEA_dataset(name, split=split, return_type=return_type)
            out += [X, np.asarray(y)]
    return out


def _znorm(X):
    """Per series and channel z-normalisation, as the UCR archive does; (n, T, F)."""
    X = np.asarray(X, dtype=np.float64).transpose(0, 2, 1)
    std = X.std(axis=1, keepdims=True)
    X = (X - X.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return X.astype(np.float32)


def _znorm_list(seqs):
    out = []
    for s in seqs:
        s = np.asarray(s, dtype=np.float64)
        std = s.std(axis=0, keepdims=True)
        out.append(((s - s.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype("f4"))
    return out


def _classify(name, shape, per_series=True):
    """Univariate UCR data z-normalised per series (as the archive is); others by
    a SequenceScaler fitted on train (per-series scaling would erase the levels
    and amplitudes that tell multivariate UEA classes apart)."""
    Xtr, ytr, Xte, yte = _ucr(name)
    if per_series:
        Xtr, Xte, how = _znorm(Xtr), _znorm(Xte), "z-normalised per series"
    else:
        Xtr, Xte = (np.asarray(X).transpose(0, 2, 1).astype("f4") for X in (Xtr, Xte))
        scaler = SequenceScaler().fit(Xtr)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
        how = "SequenceScaler fitted on train"
    data = dict(X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    return Task(
        name,
        "classify",
        shape,
        "gru",
        data,
        f"archive train/test, {how}",
        PUBLISHED.get(name),
    )


def arrowhead():
    return _classify("ArrowHead", "univariate classification, 3 classes")


def gunpoint():
    return _classify("GunPoint", "univariate classification, 2 classes")


def italy_power():
    return _classify("ItalyPowerDemand", "univariate classification, 2 classes")


def osuleaf():
    # 200 + 242 series of 427 steps: 1.8 s per default epoch, one default GRU fit
    # (160 epochs) 350 s on 2 busy cores; 3 seeds would be most of the budget.
    return _classify("OSULeaf", "univariate classification, 6 classes")


def acsf1():
    # 100 + 100 series of 1460 steps: 1.7 s per default epoch on 2 busy cores,
    # minutes per fit, so it stays out of the default panel (--only or --all).
    return _classify("ACSF1", "univariate classification, 10 classes")


def basic_motions():
    return _classify(
        "BasicMotions", "multivariate classification, 6 channels", per_series=False
    )


def japanese_vowels():
    from skrnn.datasets import load_japanese_vowels

    b = load_japanese_vowels()
    seqs = [np.asarray(s, dtype=np.float32) for s in b.data]
    tr, te = b.train_indices, b.test_indices
    scaler = SequenceScaler().fit([seqs[i] for i in tr])
    data = dict(
        X_train=scaler.transform([seqs[i] for i in tr]),
        y_train=np.asarray(b.target)[tr],
        X_test=scaler.transform([seqs[i] for i in te]),
        y_test=np.asarray(b.target)[te],
    )
    return Task(
        "JapaneseVowels",
        "classify",
        "variable-length classification, 12 features, 7-29 steps",
        "gru",
        data,
        "UCI 270/370, SequenceScaler fitted on train",
        PUBLISHED["JapaneseVowels"],
    )


def plaid():
    # 537 + 537 series of 100-1344 steps (mean 324): 27 s per default epoch on 2
    # busy cores, far too long for the default panel (--only or --all).
    Xtr, ytr, Xte, yte = _ucr("PLAID", return_type="nested_univ")

    def seqs(df):
        return _znorm_list(np.asarray(v, float)[:, None] for v in df.iloc[:, 0])

    data = dict(X_train=seqs(Xtr), y_train=ytr, X_test=seqs(Xte), y_test=yte)
    return Task(
        "PLAID",
        "classify",
        "variable-length classification, 11 classes, 100-1344 steps",
        "gru",
        data,
        "archive train/test, z-normalised per series",
        PUBLISHED["PLAID"],
    )


def _regress(name, shape):
    Xtr, ytr, Xte, yte = _ucr(name)
    Xtr, Xte = (np.asarray(X).transpose(0, 2, 1).astype("f4") for X in (Xtr, Xte))
    scaler = SequenceScaler().fit(Xtr)
    data = dict(
        X_train=scaler.transform(Xtr),
        y_train=ytr.astype(float),
        X_test=scaler.transform(Xte),
        y_test=yte.astype(float),
    )
    return Task(
        name,
        "regress",
        shape,
        "gru",
        data,
        "archive train/test, SequenceScaler fitted on train",
        PUBLISHED.get(name),
    )


def tecator():
    return _regress("Tecator", "sequence regression: NIR spectrum (100) -> fat")


def covid3month():
    return _regress("Covid3Month", "sequence regression: 84 days of cases -> deaths")


# ---------------------------------------------------------------- forecasting
def _series_task(name, kind, shape, series, n_test, window, m, split):
    """Scale a (n_points, n_features) series on its training part; target column 0."""
    series = np.asarray(series, dtype=np.float64).reshape(len(series), -1)
    train = series[:-n_test]
    mean, std = train.mean(axis=0), train.std(axis=0)
    scaled = ((series - mean) / std).astype(np.float32)
    data = dict(
        series=scaled,
        n_test=n_test,
        window=window,
        m=m,
        unscale=(float(mean[0]), float(std[0])),
        raw=series[:, 0],
    )
    cell = "gru" if kind == "per_step" else "lstm"
    return Task(name, kind, shape, cell, data, split, None)


def _sk_series(loader):
    sd = _sktime()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(sd, loader)()


def lynx():
    s = np.log10(_sk_series("load_lynx").to_numpy(float))
    return _series_task(
        "Lynx",
        "one_step",
        "yearly, one-step-ahead, log10 trappings",
        s,
        14,
        10,
        None,
        "last 14 years (1921-34) as in Zhang (2003), log10, window 10",
    )


def shampoo():
    s = _sk_series("load_shampoo_sales").to_numpy(float)
    return _series_task(
        "ShampooSales",
        "one_step",
        "monthly, one-step-ahead, 36 points",
        s,
        12,
        6,
        12,
        "last 12 months, walk-forward one step, window 6",
    )


def uschange():
    y, X = _sk_series("load_uschange")
    s = np.column_stack([y.to_numpy(float), X.to_numpy(float)])
    return _series_task(
        "Uschange",
        "one_step",
        "quarterly, one-step-ahead, 5 series in, consumption out",
        s,
        24,
        8,
        4,
        "last 24 quarters, walk-forward one step, window 8",
    )


def airline_forecast():
    from skrnn.datasets import load_airline

    return _series_task(
        "Airline",
        "forecast",
        "monthly, 24 months ahead with .forecast()",
        load_airline().series,
        24,
        24,
        12,
        "last 24 months (1959-60) from one origin, window 24",
    )


def airline_seq2seq():
    from skrnn.datasets import load_airline

    return _series_task(
        "Airline-s2s",
        "seq2seq",
        "monthly, 24 months ahead with Seq2SeqTransformer",
        load_airline().series,
        24,
        24,
        12,
        "last 24 months (1959-60) from one origin, window 24",
    )


def lynx_seq2seq():
    s = np.log10(_sk_series("load_lynx").to_numpy(float))
    return _series_task(
        "Lynx-s2s",
        "seq2seq",
        "yearly, 14 years ahead with Seq2SeqTransformer, log10",
        s,
        14,
        20,
        10,
        "last 14 years (1921-34) from one origin, window 20; 'seasonal' naive "
        "repeats the last 10-year cycle",
    )


def macro_per_step():
    from skrnn.datasets import load_macrodata

    raw = load_macrodata().series
    cols = [0, 1, 2]  # realgdp, realcons, realinv
    growth = 100 * np.diff(np.log(raw[:, cols]), axis=0)
    return _series_task(
        "Macro-per-step",
        "per_step",
        "quarterly, return_sequences: next GDP growth at every step",
        growth,
        40,
        16,
        None,
        "last 40 quarters, windows of 16 (3 growth rates in, next GDP growth "
        "at each step out)",
    )


#: Panel order.
LOADERS = {
    "ArrowHead": arrowhead,
    "GunPoint": gunpoint,
    "ItalyPowerDemand": italy_power,
    "OSULeaf": osuleaf,
    "BasicMotions": basic_motions,
    "JapaneseVowels": japanese_vowels,
    "Tecator": tecator,
    "Covid3Month": covid3month,
    "Lynx": lynx,
    "ShampooSales": shampoo,
    "Uschange": uschange,
    "Airline": airline_forecast,
    "Airline-s2s": airline_seq2seq,
    "Lynx-s2s": lynx_seq2seq,
    "Macro-per-step": macro_per_step,
    "ACSF1": acsf1,
    "PLAID": plaid,
}
#: Long rows, run only with --all or --only (see osuleaf, acsf1 and plaid above).
HEAVY = {"OSULeaf", "ACSF1", "PLAID"}
#: Rows of --quick: small or short ones, one of every problem shape.
QUICK = [
    "GunPoint",
    "ItalyPowerDemand",
    "BasicMotions",
    "JapaneseVowels",
    "Covid3Month",
    "Lynx",
    "Airline",
    "Airline-s2s",
    "Macro-per-step",
]


# ------------------------------------------------------- windows of a series task
def train_windows(task, horizon=1):
    """Training windows of a series task: inputs and targets before the test part."""
    d = task.data
    train = d["series"][: -d["n_test"]]
    return make_windows(train, d["window"], horizon, target=0)


def one_step_test_windows(task):
    """Windows ending just before each test point (true history), and the targets."""
    d = task.data
    s, w, n = d["series"], d["window"], d["n_test"]
    start = len(s) - n - w
    return make_windows(s[start:], w, 1, target=0)


def per_step_windows(task):
    """(X_train, Y_train, X_test, Y_test): Y[:, t] is the target one step after t."""
    d = task.data
    s, w, n = d["series"], d["window"], d["n_test"]

    def cut(part):
        X = sliding_window_view(part[:-1], w, axis=0).transpose(0, 2, 1)
        Y = sliding_window_view(part[1:, 0], w)
        return np.ascontiguousarray(X), np.ascontiguousarray(Y)

    Xtr, Ytr = cut(s[:-n])
    Xte, Yte = cut(s[-n:])
    return Xtr, Ytr, Xte, Yte


def unscale(task, values):
    mean, std = task.data["unscale"]
    return np.asarray(values, dtype=np.float64) * std + mean


def rmse(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.sqrt(np.mean((a.ravel() - b.ravel()) ** 2)))
