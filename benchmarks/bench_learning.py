"""Accuracy on real data: skrnn's defaults against simple baselines (issue 13).

Run from the repository root (needs sktime for its bundled archive data:
``pip install ".[benchmark]"``)::

    python benchmarks/bench_learning.py                 # full panel, ~20 min
    python benchmarks/bench_learning.py --quick         # 1 seed, 9 small rows
    python benchmarks/bench_learning.py --only GunPoint,Lynx --seeds 5
    python benchmarks/bench_learning.py --set batch_size=16 --set tol=0
    python benchmarks/bench_learning.py --cell gru --no-baselines --json out.json
    python benchmarks/bench_learning.py --set tol=0 --compare before.json

Every row is one public dataset on its standard split. skrnn runs with its
defaults: only ``cell`` (named in the table), ``random_state`` and, for
forecasting, the window and ``local_level="mean"`` (the targets continue the
inputs) are chosen; ``--set`` overrides estimator parameters
to try other defaults without editing code. Baselines run in the same process:
see ``_baselines.py``. ``--only grid`` runs only the GridSearchCV showcase.
"""

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings

import numpy as np

# The repository's skrnn unless PYTHONPATH names another (to compare versions).
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _baselines import BASELINES, floor  # noqa: E402
from _common import cpu_count  # noqa: E402
from _panel import (  # noqa: E402
    HEAVY,
    LOADERS,
    QUICK,
    one_step_test_windows,
    per_step_windows,
    rmse,
    train_windows,
    unscale,
)
from _report import (  # noqa: E402
    HEADER,
    compare,
    markdown_line,
    summary,
    table_cells,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import skrnn  # noqa: E402
from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer  # noqa: E402

CELLS = ["rnn", "lstm", "gru", "statal", "wavenet"]
#: Rows whose targets continue the inputs (windows of one series): skrnn reads
#: them with ``local_level=FORECAST_LEVEL`` (``--set local_level=None`` for the
#: estimators' plain default).
FORECASTING = ("one_step", "forecast", "seq2seq")
FORECAST_LEVEL = "mean"
#: Datasets of the GridSearchCV showcase (full run; --quick keeps the first).
GRID_DATASETS = ["JapaneseVowels", "ItalyPowerDemand"]


# ----------------------------------------------------------------- estimators
def make_estimator(task, seed, cell, overrides):
    """The default estimator of a task, with ``cell``, ``random_state`` and --set."""
    cls = {"classify": RNNClassifier, "seq2seq": Seq2SeqTransformer}.get(
        task.kind, RNNRegressor
    )
    params = {"cell": cell, "random_state": seed}
    if task.kind == "per_step":
        params["return_sequences"] = True  # the problem shape, not a tuned value
    if task.kind in FORECASTING:
        # The problem statement, not a tuned value: the targets continue the
        # inputs, which the estimator cannot know (see local_level's docs).
        params["local_level"] = FORECAST_LEVEL
        params["level_features"] = 0  # the windows' target is column 0
    est = cls(**params)
    # an override reaches the estimators that have it (parse_set checked names)
    known = est.get_params()
    return est.set_params(**{k: v for k, v in overrides.items() if k in known})


def _timed_fit(est, X, y):
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0


def fit_and_score(task, est):
    """Fit ``est`` on the task's training part; (test score, fit seconds)."""
    d, kind = task.data, task.kind
    if kind in ("classify", "regress"):
        fit_s = _timed_fit(est, d["X_train"], d["y_train"])
        pred = est.predict(d["X_test"])
        if kind == "classify":
            return float(np.mean(pred == d["y_test"])), fit_s
        return rmse(pred, d["y_test"]), fit_s
    if kind == "per_step":
        Xtr, Ytr, Xte, Yte = per_step_windows(task)
        fit_s = _timed_fit(est, Xtr, Ytr)
        return rmse(unscale(task, est.predict(Xte)), unscale(task, Yte)), fit_s
    if kind == "one_step":
        Xtr, ytr = train_windows(task)
        Xte, yte = one_step_test_windows(task)
        fit_s = _timed_fit(est, Xtr, ytr)
        return rmse(unscale(task, est.predict(Xte)), unscale(task, yte)), fit_s
    s, n, w = d["series"], d["n_test"], d["window"]
    history, truth = s[-n - w : -n][None], d["raw"][-n:]
    if kind == "forecast":
        fit_s = _timed_fit(est, *train_windows(task))
        pred = est.forecast(history, n)
    else:  # seq2seq: the window in, the next n steps out
        Xh, yh = train_windows(task, horizon=n)
        fit_s = _timed_fit(est, Xh, yh[:, :, None])
        pred = est.predict(history)
    return rmse(unscale(task, pred), truth), fit_s


def run_seed(task, seed, cell, overrides):
    """One skrnn fit: score, time, epochs and the warnings it raised."""
    result = {"seed": seed}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est = make_estimator(task, seed, cell, overrides)
            result["score"], result["fit_s"] = fit_and_score(task, est)
            result["n_iter"] = int(getattr(est, "n_iter_", -1))
        except Exception as exc:  # reported in the row, the panel goes on
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["traceback"] = traceback.format_exc(limit=4)
    result["convergence_warnings"] = sum(
        issubclass(w.category, ConvergenceWarning) for w in caught
    )
    others = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, ConvergenceWarning)
    ]
    result["other_warnings"] = sorted(set(others))[:5]
    result["n_other_warnings"] = len(others)
    return result


# ------------------------------------------------------------------ baselines
def run_baselines(task, seeds):
    """Deterministic baselines once, the seeded ones (MLPs) averaged over seeds."""
    fn = BASELINES[task.kind]
    runs = [fn(task, seed, deterministic=(i == 0)) for i, seed in enumerate(seeds)]
    out = dict(runs[0])
    for name in runs[0]:
        values = [r[name] for r in runs if name in r]
        out[name] = float(np.mean(values))
    return out


def best_of(task, baselines):
    if not baselines:
        return None, None
    pick = max if task.higher_is_better else min
    name = pick(baselines, key=baselines.get)
    return name, baselines[name]


# ---------------------------------------------------------------------- rows
def run_task(name, args, overrides):
    """Everything of one panel row, as a dict (also what --json writes)."""
    row = {"dataset": name}
    try:
        task = LOADERS[name]()
    except Exception as exc:
        row["error"] = f"loading failed: {type(exc).__name__}: {exc}"
        return row, None
    cell = args.cell or task.cell
    d = task.data
    row.update(
        problem=task.shape,
        kind=task.kind,
        metric=task.metric,
        higher_is_better=task.higher_is_better,
        split=task.split,
        cell=cell,
        overrides=overrides,
        published=task.published,
    )
    if "X_train" in d:
        row.update(n_train=len(d["X_train"]), n_test=len(d["X_test"]))
    else:
        row.update(n_points=len(d["series"]), n_test=d["n_test"], window=d["window"])
    row["seeds"] = [run_seed(task, s, cell, overrides) for s in args.seed_list]
    scores = [r["score"] for r in row["seeds"] if "score" in r]
    row["score_mean"] = float(np.mean(scores)) if scores else None
    row["score_sd"] = float(np.std(scores)) if scores else None
    row["fit_s_mean"] = (
        float(np.mean([r["fit_s"] for r in row["seeds"] if "fit_s" in r]))
        if scores
        else None
    )
    if not args.no_baselines:
        try:
            row["baselines"] = run_baselines(task, args.seed_list)
            row["floor"] = floor(task)
        except Exception as exc:
            row["baseline_error"] = f"{type(exc).__name__}: {exc}"
    name_, value = best_of(task, row.get("baselines"))
    row["best_baseline"] = [name_, value]
    if value is not None and row["score_mean"] is not None:
        mean = row["score_mean"]
        row["beats_best"] = bool(
            mean >= value if task.higher_is_better else mean <= value
        )
    return row, task


# ------------------------------------------------------------------ showcase
def run_grid(name, args, overrides):
    """GridSearchCV over every cell with shared defaults; prints the cv table."""
    task = LOADERS[name]()
    d = task.data
    base = RNNClassifier(random_state=args.seed_list[0]).set_params(**overrides)
    search = GridSearchCV(base, {"cell": CELLS}, cv=3, n_jobs=1, error_score=np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        search.fit(d["X_train"], d["y_train"])
        total = time.perf_counter() - t0
    test_acc = float(search.score(d["X_test"], d["y_test"]))
    res = search.cv_results_
    rows = []
    print(f"\nGridSearchCV(cv=3) over cell on {name} ({task.shape}); {total:.0f} s")
    print(markdown_line(["cell", "cv accuracy", "sd", "fit s", "rank"]))
    print(markdown_line(["---"] * 5))
    for i, cell in enumerate(res["param_cell"]):
        r = dict(
            cell=str(cell),
            mean=float(res["mean_test_score"][i]),
            sd=float(res["std_test_score"][i]),
            fit_s=float(res["mean_fit_time"][i]),
            rank=int(res["rank_test_score"][i]),
        )
        rows.append(r)
        cells = [r["cell"], f"{r['mean']:.3f}", f"{r['sd']:.3f}", f"{r['fit_s']:.1f}"]
        print(markdown_line([*cells, r["rank"]]))
    conv = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    print(
        f"best: {search.best_params_['cell']}, test accuracy of the refit "
        f"{test_acc:.3f}; {conv} ConvergenceWarnings\n",
        flush=True,
    )
    return dict(
        dataset=name,
        rows=rows,
        best=search.best_params_["cell"],
        test_accuracy=test_acc,
        seconds=total,
        convergence_warnings=conv,
    )


# ----------------------------------------------------------------------- cli
def parse_set(items):
    """``key=value`` pairs, values read with ast.literal_eval (else kept as text)."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key.strip()] = text
    known = set()
    for cls in (RNNClassifier, RNNRegressor, Seq2SeqTransformer):
        known |= set(cls().get_params())
    unknown = sorted(set(out) - known)
    if unknown:  # a typo would otherwise fail every row of a long run
        raise SystemExit(f"--set: no estimator has {unknown}; see {sorted(known)}")
    return out


def select(args):
    """Panel datasets to run, and whether to run the showcase."""
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        lower = {n.lower(): n for n in LOADERS}
        unknown = [w for w in wanted if w.lower() not in lower and w != "grid"]
        if unknown:
            raise SystemExit(f"unknown {unknown}; choose from {list(LOADERS)}")
        names = [lower[w.lower()] for w in wanted if w != "grid"]
        return names, "grid" in wanted
    names = QUICK if args.quick else [n for n in LOADERS if args.all or n not in HEAVY]
    return names, not args.no_grid


def git_commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, the 9 rows in QUICK (one of every problem shape), the grid "
        "showcase on JapaneseVowels only: a few minutes",
    )
    p.add_argument("--only", help="comma-separated datasets (and/or 'grid')")
    p.add_argument("--all", action="store_true", help="also the long rows in HEAVY")
    p.add_argument("--seeds", type=int, help="seeds per row (default 3, quick 1)")
    p.add_argument("--cell", choices=CELLS, help="this cell on every row")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="estimator parameter for every skrnn fit (repeatable)",
    )
    p.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    p.add_argument("--no-grid", action="store_true", help="skip the grid showcase")
    p.add_argument("--json", help="write every result to this file")
    p.add_argument(
        "--compare",
        metavar="JSON",
        help="also print each row's change against an earlier --json file (its "
        "baselines stand in with --no-baselines)",
    )
    args = p.parse_args(argv)
    n_seeds = args.seeds or (1 if args.quick else 3)
    args.seed_list = list(range(n_seeds))
    return args


def main(argv=None):
    args = parse_args(argv)
    overrides = parse_set(args.set)
    names, grid = select(args)
    started = time.perf_counter()
    meta = dict(
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        argv=sys.argv[1:] if argv is None else list(argv),
        skrnn=skrnn.__version__,
        skrnn_file=skrnn.__file__,
        commit=git_commit(),
        python=platform.python_version(),
        numpy=np.__version__,
        cores=cpu_count(),
        seeds=args.seed_list,
        overrides=overrides,
    )
    print(
        f"skrnn {meta['skrnn']} ({meta['commit']}), {meta['cores']} cores, seeds "
        f"{args.seed_list}, overrides {overrides or 'none'}; {meta['date']}\n"
    )
    print(markdown_line(HEADER))
    print(markdown_line(["---"] * len(HEADER)), flush=True)
    rows, grids = [], []
    for name in names:
        try:
            row, task = run_task(name, args, overrides)
        except Exception as exc:  # a bug in a row must not end the panel
            row, task = {"dataset": name, "error": f"{type(exc).__name__}: {exc}"}, None
        rows.append(row)
        print(markdown_line(table_cells(row, task)), flush=True)
    if grid:
        for name in GRID_DATASETS[:1] if args.quick else GRID_DATASETS:
            try:
                grids.append(run_grid(name, args, overrides))
            except Exception as exc:
                print(f"grid on {name} failed: {type(exc).__name__}: {exc}")
                grids.append(dict(dataset=name, error=f"{type(exc).__name__}: {exc}"))
    meta["seconds"] = time.perf_counter() - started
    summary(rows)
    if args.compare:
        compare(rows, args.compare)
    print(f"total {meta['seconds'] / 60:.1f} min")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(dict(meta=meta, rows=rows, grids=grids), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
