"""The compiled fast path against the NumPy scan and PyTorch (issue 16).

Run from the repository root::

    pip install ".[fast]"                      # numba
    python benchmarks/bench_fast.py            # a few minutes
    python benchmarks/bench_fast.py --quick    # about a minute

Per cell, shape (batch, steps, features, hidden) and dtype: a training step
(forward, linear head, MSE, BPTT, Adam) and a prediction of a one-layer network
on the NumPy scan (``fast_path=False``), on the compiled kernels
(``fast_path=True``) and in PyTorch, all with ``--threads`` threads (PyTorch:
``torch.set_num_threads``; skrnn: BLAS on one thread, as the estimators run,
the batch split into two shards that run side by side). The three run in
turns, one call each per round, so that the load of a shared machine weighs
on all alike. Times are medians in milliseconds with [min-max]; the ratios are
of the minima (below 1: the first is faster). Then the first fit's time in a
fresh process with an empty numba cache (compiling) and in a second process
(loading the cache).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import SkrnnModel, fmt_time, print_table  # noqa: E402

import skrnn  # noqa: E402
from skrnn import _parallel  # noqa: E402

SHAPES = [(16, 20, 1, 32), (32, 50, 8, 64), (64, 100, 8, 128)]
CELLS = ("rnn", "lstm", "gru", "statal")
#: Cells PyTorch has (the statal cell's PyTorch columns stay empty).
TORCH_CELLS = ("rnn", "lstm", "gru")


def _data(B, T, F, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, F)).astype(dtype)
    y = rng.standard_normal((B, 1)).astype(dtype)
    return X, y


def _interleaved(fns, budget, min_rounds=5, max_rounds=200):
    """Time each callable once per round, round after round (a shared machine's
    load then weighs on all alike); (median, min, max) seconds per callable."""
    for fn in fns:  # warm-up (and compilation)
        fn()
    times = [[] for _ in fns]
    t_end = time.perf_counter() + budget * len(fns)
    while len(times[0]) < max_rounds and (
        len(times[0]) < min_rounds or time.perf_counter() < t_end
    ):
        for fn, ts in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [(float(np.median(t)), float(np.min(t)), float(np.max(t))) for t in times]


def _in_path(fn, fast):
    def run():
        with skrnn.config_context(fast_path=fast), _parallel.blas_single_thread():
            fn()

    return run


def _case(torch, cell, B, T, F, H, dtype, budget):
    """(train, predict) stats of the NumPy scan, the fast path and PyTorch."""
    X, y = _data(B, T, F, dtype)
    fns = []
    for fast in (False, True):
        model = SkrnnModel(cell, F, H, dtype)
        fns += [
            _in_path(lambda m=model: m.train_step(X, y), fast),
            _in_path(lambda m=model: m.predict(X), fast),
        ]
    with_torch = torch is not None and cell in TORCH_CELLS
    if with_torch:
        from bench_torch import torch_model

        _, step, predict = torch_model(torch, cell, F, H, dtype)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        fns += [lambda: step(Xt, yt), lambda: predict(Xt)]
    stats = _interleaved(fns, budget)
    if not with_torch:
        stats += [None, None]
    return stats


def _ratio(a, b):
    return "-" if b is None else f"{a[1] / b[1]:.2f}"


def _fmt(stats):
    return "-" if stats is None else fmt_time(stats)


def step_table(torch, dtype, budget, cells):
    rows = []
    for cell in cells:
        for B, T, F, H in SHAPES:
            np_tr, np_pr, fa_tr, fa_pr, t_tr, t_pr = _case(
                torch, cell, B, T, F, H, dtype, budget
            )
            rows.append(
                [cell, f"{B},{T},{F},{H}"]
                + [_fmt(np_tr), _fmt(fa_tr), _fmt(t_tr)]
                + [_ratio(np_tr, t_tr), _ratio(fa_tr, t_tr), _ratio(fa_tr, np_tr)]
                + [_fmt(np_pr), _fmt(fa_pr), _fmt(t_pr)]
                + [_ratio(np_pr, t_pr), _ratio(fa_pr, t_pr), _ratio(fa_pr, np_pr)]
            )
            print("  done", cell, B, T, F, H, flush=True)
    header = ["cell", "B,T,F,H"]
    for what in ("train", "predict"):
        header += [f"numpy {what}", f"fast {what}", f"torch {what}"]
        header += ["numpy/torch", "fast/torch", "fast/numpy"]
    print(f"\n### Training step and prediction, {np.dtype(dtype).name}, ms\n")
    print_table(header, rows)


FIRST_FIT = """
import time, warnings
import numpy as np
t0 = time.perf_counter()
import skrnn
X = np.random.default_rng(0).standard_normal((32, 20, 2)).astype("{dtype}")
y = X.sum(axis=(1, 2))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    t1 = time.perf_counter()
    with skrnn.config_context(fast_path={fast}):
        skrnn.RNNRegressor("{cell}", hidden_layer_sizes=(8,), max_iter=1).fit(X, y)
    t2 = time.perf_counter()
print(t2 - t1)
"""


def _first_fit(cell, dtype, fast, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    code = FIRST_FIT.format(cell=cell, dtype=dtype, fast=fast)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.split()[-1])


def compile_table(cells):
    rows = []
    for cell in cells:
        for dtype in ("float32", "float64"):
            with tempfile.TemporaryDirectory() as cache_dir:
                cold = _first_fit(cell, dtype, True, cache_dir)
                warm = _first_fit(cell, dtype, True, cache_dir)
                numpy_fit = _first_fit(cell, dtype, False, cache_dir)
            rows.append([cell, dtype, f"{cold:.2f}", f"{warm:.2f}", f"{numpy_fit:.2f}"])
            print("  done", cell, dtype, flush=True)
    print("\n### First fit (1 epoch, batch 32 x 20 steps) in a new process, s\n")
    header = ["cell", "dtype", "fast, empty cache", "fast, cached", "numpy scan"]
    print_table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true", help="skip compile times")
    parser.add_argument(
        "--cells", nargs="+", choices=CELLS, default=CELLS, help="cells to time"
    )
    args = parser.parse_args()
    _parallel.set_max_threads(args.threads)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("PyTorch is not installed: its columns stay empty.")
    if not skrnn._fast.numba_available():
        sys.exit('numba is not installed: pip install ".[fast]"')
    print(f"threads: {args.threads}, numba on, torch {'on' if torch else 'off'}")
    budget = 0.25 if args.quick else 1.0
    t0 = time.perf_counter()
    for dtype in (np.float32, np.float64):
        step_table(torch, dtype, budget, args.cells)
    if not args.no_compile:
        quick = ("lstm",) if "lstm" in args.cells else args.cells[:1]
        compile_table(quick if args.quick else args.cells)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
