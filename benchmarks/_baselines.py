"""The simple baselines of bench_learning.py, one function per kind of task.

Each returns ``{name: score}`` in the task's metric (accuracy or RMSE in the
series' own units). Models with a random state (the MLPs) take ``seed``; the
caller averages them over the same seeds as skrnn.
"""

import warnings

import numpy as np
from _panel import (
    one_step_test_windows,
    per_step_windows,
    rmse,
    train_windows,
    unscale,
)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: Ridge penalties tried by leave-one-out (RidgeCV), as a user would grid them.
ALPHAS = np.logspace(-3, 3, 13)
#: Lags of the per-step ridge / MLP baselines.
PER_STEP_LAGS = 4


def _logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _mlp_classifier(seed):
    return make_pipeline(
        StandardScaler(), MLPClassifier(max_iter=1000, random_state=seed)
    )


def _mlp_regressor(seed):
    mlp = MLPRegressor(max_iter=1000, random_state=seed)
    return make_pipeline(StandardScaler(), mlp)


def _ridge():
    return make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))


def summaries(X):
    """Mean, std, min and max of every feature over each sequence's steps."""
    return np.array(
        [
            np.concatenate([s.mean(0), s.std(0), s.min(0), s.max(0)])
            for s in (np.asarray(x, dtype=np.float64) for x in X)
        ]
    )


def flatten(X, length=None):
    """(n, T * F) table; variable-length sequences are resampled to ``length``."""
    if isinstance(X, np.ndarray):
        return X.reshape(len(X), -1)
    rows = []
    for s in X:
        s = np.asarray(s, dtype=np.float64)
        old = np.linspace(0.0, 1.0, len(s))
        new = np.linspace(0.0, 1.0, length)
        rows.append(np.column_stack([np.interp(new, old, c) for c in s.T]).ravel())
    return np.array(rows)


def _common_length(X):
    return None if isinstance(X, np.ndarray) else int(np.median([len(s) for s in X]))


def _fit_score(model, Xtr, ytr, Xte, yte, classify):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xtr, ytr)
    pred = model.predict(Xte)
    return float(np.mean(pred == yte)) if classify else rmse(pred, yte)


def sequence_baselines(task, seed, deterministic=True):
    """1-NN, linear models on the flat series and on summaries, MLP on it."""
    d = task.data
    classify = task.kind == "classify"
    length = _common_length(d["X_train"])
    Ftr, Fte = flatten(d["X_train"], length), flatten(d["X_test"], length)
    Str, Ste = summaries(d["X_train"]), summaries(d["X_test"])
    ytr, yte = d["y_train"], d["y_test"]
    out = {}
    if deterministic:
        knn = KNeighborsClassifier(1) if classify else KNeighborsRegressor(1)
        lin = "logreg" if classify else "ridge"
        out["1-NN"] = _fit_score(knn, Ftr, ytr, Fte, yte, classify)
        model = _logreg() if classify else _ridge()
        out[f"{lin} flat"] = _fit_score(model, Ftr, ytr, Fte, yte, classify)
        model = _logreg() if classify else _ridge()
        out[f"{lin} summary"] = _fit_score(model, Str, ytr, Ste, yte, classify)
    mlp = _mlp_classifier(seed) if classify else _mlp_regressor(seed)
    out["MLP flat"] = _fit_score(mlp, Ftr, ytr, Fte, yte, classify)
    return out


def sequence_floor(task):
    """Majority class (accuracy) or the training mean (RMSE)."""
    d = task.data
    if task.kind == "classify":
        values, counts = np.unique(d["y_train"], return_counts=True)
        return float(np.mean(d["y_test"] == values[np.argmax(counts)]))
    return rmse(np.full(len(d["y_test"]), np.mean(d["y_train"])), d["y_test"])


def one_step_baselines(task, seed, deterministic=True):
    """Naive, seasonal naive, AR (ridge on the window's lags), MLP on the window."""
    d = task.data
    Xtr, ytr = train_windows(task)
    Xte, yte = one_step_test_windows(task)
    truth = unscale(task, yte)
    Ftr, Fte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    out = {}
    if deterministic:
        out["naive"] = rmse(unscale(task, Xte[:, -1, 0]), truth)
        m, s = d["m"], d["series"][:, 0]
        if m:
            idx = np.arange(len(s) - d["n_test"], len(s)) - m
            out["seasonal naive"] = rmse(unscale(task, s[idx]), truth)
        ridge = _ridge().fit(Ftr, ytr)
        out["AR ridge"] = rmse(unscale(task, ridge.predict(Fte)), truth)
    mlp = _mlp_regressor(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Ftr, ytr)
    out["MLP flat"] = rmse(unscale(task, mlp.predict(Fte)), truth)
    return out


def _recursive(model, history, n_steps):
    """Feed one-step predictions back in (univariate windows)."""
    window = list(history)
    out = []
    for _ in range(n_steps):
        nxt = float(model.predict(np.asarray(window)[None, :])[0])
        out.append(nxt)
        window = window[1:] + [nxt]
    return np.array(out)


def multi_step_baselines(task, seed, deterministic=True):
    """Seasonal naive, AR ridge (recursive), ridge and MLP predicting all steps."""
    d = task.data
    s, n, w, m = d["series"][:, 0], d["n_test"], d["window"], d["m"]
    history, truth = s[-n - w : -n], d["raw"][-n:]
    X1, y1 = train_windows(task)
    Xh, yh = train_windows(task, horizon=n)
    F1, Fh = X1.reshape(len(X1), -1), Xh.reshape(len(Xh), -1)
    out = {}
    if deterministic:
        season = s[-n - m : -n]
        out["seasonal naive"] = rmse(unscale(task, np.resize(season, n)), truth)
        ar = _ridge().fit(F1, y1)
        out["AR ridge"] = rmse(unscale(task, _recursive(ar, history, n)), truth)
        direct = _ridge().fit(Fh, yh)
        out["ridge direct"] = rmse(unscale(task, direct.predict(history[None])), truth)
    mlp = _mlp_regressor(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Fh, yh)
    out["MLP direct"] = rmse(unscale(task, mlp.predict(history[None])), truth)
    return out


def _lagged(series, lags):
    """Row t: series[t - lags + 1 .. t] flattened (rows before ``lags - 1`` padded)."""
    padded = np.concatenate([np.repeat(series[:1], lags - 1, axis=0), series])
    idx = np.arange(len(series))[:, None] + np.arange(lags)[None, :]
    return padded[idx].reshape(len(series), -1)


def per_step_baselines(task, seed, deterministic=True):
    """Persistence, ridge and MLP on the last few steps at every step."""
    d = task.data
    s, n = d["series"], d["n_test"]
    _, _, Xte, Yte = per_step_windows(task)
    truth = unscale(task, Yte)
    L = _lagged(s, PER_STEP_LAGS)
    Ltr, ytr = L[: len(s) - n - 1], s[1 : len(s) - n, 0]
    # the test windows cover steps len(s) - n + k + t; gather per-step predictions
    w = d["window"]
    steps = len(s) - n + np.arange(len(Xte))[:, None] + np.arange(w)[None, :]
    out = {}
    if deterministic:
        out["persistence"] = rmse(unscale(task, Xte[:, :, 0]), truth)
        ridge = _ridge().fit(Ltr, ytr)
        out["ridge lags"] = rmse(unscale(task, ridge.predict(L)[steps]), truth)
    mlp = _mlp_regressor(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Ltr, ytr)
    out["MLP lags"] = rmse(unscale(task, mlp.predict(L)[steps]), truth)
    return out


def series_floor(task):
    """RMSE of predicting the training mean of the target everywhere."""
    d = task.data
    mean = unscale(task, 0.0)
    n = d["n_test"]
    if task.kind == "per_step":
        truth = unscale(task, per_step_windows(task)[3])
    elif task.kind == "one_step":
        truth = unscale(task, one_step_test_windows(task)[1])
    else:
        truth = d["raw"][-n:]
    return rmse(np.full(truth.shape, mean), truth)


BASELINES = {
    "classify": sequence_baselines,
    "regress": sequence_baselines,
    "one_step": one_step_baselines,
    "forecast": multi_step_baselines,
    "seq2seq": multi_step_baselines,
    "per_step": per_step_baselines,
}


def floor(task):
    """What a model that learned nothing scores."""
    if task.kind in ("classify", "regress"):
        return sequence_floor(task)
    return series_floor(task)
