"""``python -m skrnn``: a grid search over cell types on a dataset shipped with it."""

import argparse
import sys
import time

import numpy as np
from sklearn.model_selection import (
    ParameterGrid,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_validate,
)
from sklearn.pipeline import make_pipeline

from . import RNNClassifier, RNNRegressor
from .datasets import load_airline, load_japanese_vowels
from .preprocessing import SequenceScaler, make_windows


def _vowels():
    data = load_japanese_vowels()
    X = data.data
    train, test = data.train_indices, data.test_indices
    return (
        "Japanese vowels: which of 9 speakers said /ae/ (variable-length, "
        "12 LPC features per step)",
        [X[i] for i in train],
        data.target[train],
        [X[i] for i in test],
        data.target[test],
        RNNClassifier,
        StratifiedKFold(3, shuffle=True, random_state=0),
        "accuracy",
    )


def _airline():
    # The series trends upward, so later folds would leave the training range;
    # monthly log-changes are stationary and keep the yearly seasonality.
    changes = np.diff(np.log(np.asarray(load_airline().series, dtype=float)))
    X, y = make_windows(changes, window=13)
    n_test = len(X) // 5
    return (
        "Airline passengers: next month's log-change from the previous 13 "
        "(monthly, 1949-1960)",
        X[:-n_test],
        y[:-n_test],
        X[-n_test:],
        y[-n_test:],
        RNNRegressor,
        TimeSeriesSplit(3),
        "r2",
    )


DATASETS = {"vowels": _vowels, "airline": _airline}


def _n_jobs(text):
    """An argparse type: joblib's n_jobs, refusing 0 before any work."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int, got {text!r}") from None
    if n == 0:
        raise argparse.ArgumentTypeError(
            "must not be 0: give the number of parallel fits (1 for none), or -1 "
            "for every core"
        )
    return n


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skrnn",
        description=(
            "Grid search over recurrent cell types, every other parameter at its "
            "default, with cross-validation on a dataset shipped with skrnn, then "
            "the best model's held-out score."
        ),
    )
    parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="vowels",
        help="vowels: sequence classification; airline: forecasting (default vowels)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="two cells instead of three"
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=2,
        help="parallel CV fits, -1 for every core (default 2)",
    )
    return parser


def _search(candidates, X, y, Estimator, cv, scoring, n_jobs):
    """Cross-validate each candidate; ``(score, params, fit time, model)`` rows."""
    rows = []
    for i, params in enumerate(candidates, 1):
        model = make_pipeline(SequenceScaler(), Estimator(**params, random_state=0))
        label = f"cell={params['cell']:<5}"
        print(f"[{i}/{len(candidates)}] {label} ...", end=" ", flush=True)
        t0 = time.perf_counter()
        res = cross_validate(model, X, y, cv=cv, scoring=scoring, n_jobs=n_jobs)
        elapsed = time.perf_counter() - t0
        score = float(np.mean(res["test_score"]))
        print(f"{scoring} {score:.3f} ({elapsed:.1f} s)", flush=True)
        rows.append((score, params, float(np.mean(res["fit_time"])), model))
    return rows


def main(argv=None):
    args = _parser().parse_args(argv)
    title, X, y, X_test, y_test, Estimator, cv, scoring = DATASETS[args.dataset]()
    grid = {"cell": ["rnn", "gru"] if args.quick else ["rnn", "lstm", "gru"]}
    print(title)
    print(
        f"{len(X)} training and {len(X_test)} held-out sequences; "
        f"{cv.get_n_splits()}-fold CV, scoring={scoring}; every parameter but "
        "the cell at its default\n"
    )
    candidates = list(ParameterGrid(grid))
    rows = _search(candidates, X, y, Estimator, cv, scoring, args.n_jobs)
    rows.sort(key=lambda r: -r[0])
    print(f"\n{'cell':<6} {'CV ' + scoring:>12} {'fit time':>9}")
    for score, params, fit_time, _ in rows:
        print(f"{params['cell']:<6} {score:>12.3f} {fit_time:>8.1f}s")
    best_score, best_params, _, best = rows[0]
    best.fit(X, y)
    held_out = best.score(X_test, y_test)
    fitted = best[-1]
    name = "accuracy" if scoring == "accuracy" else "R²"
    print(
        f"\nBest: cell={best_params['cell']} (hidden_layer_sizes_="
        f"{fitted.hidden_layer_sizes_}, {fitted.n_iter_} epochs); "
        f"held-out {name} = {held_out:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
