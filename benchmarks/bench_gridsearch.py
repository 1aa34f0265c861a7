"""GridSearchCV(n_jobs=2) over RNNRegressor: two workers at full speed on 2 cores.

Run from the repository root::

    python benchmarks/bench_gridsearch.py [--quick]

Times the same grid with ``n_jobs=1`` and ``n_jobs=2`` and prints the speedup.
Without oversubscription it approaches ``min(n_jobs, cores)``; each loky worker
gets ``OMP_NUM_THREADS = cores // n_jobs``, which limits both its BLAS and the
threads of skrnn's scan (``skrnn._parallel.max_threads``).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

# The repository's skrnn unless PYTHONPATH names another (to compare versions).
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import cpu_count, print_table  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skrnn import RNNRegressor  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n, T = (512, 30) if args.quick else (1024, 50)
    X = rng.standard_normal((n, T, 4)).astype(np.float32)
    y = X[:, -5:, 0].sum(axis=1) + 0.1 * rng.standard_normal(n)
    grid = {
        "cell": ["lstm", "gru"],
        "hidden_layer_sizes": [(32,), (64,)] if args.quick else [(32,), (128,)],
    }
    base = RNNRegressor(max_iter=5 if args.quick else 10, batch_size=64, random_state=0)
    rows, times = [], {}
    for n_jobs in (1, 2):
        search = GridSearchCV(base, grid, cv=2, n_jobs=n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X[:16], y[:16])  # start the workers (not timed)
            t0 = time.perf_counter()
            search.fit(X, y)
        times[n_jobs] = time.perf_counter() - t0
        rows.append([str(n_jobs), f"{times[n_jobs]:.2f}", f"{search.best_score_:.3f}"])
    print(f"{cpu_count()} cores; grid of {len(grid['cell']) * 2} x 2 folds\n")
    print_table(["n_jobs", "time (s)", "best score"], rows)
    print(f"speedup n_jobs=2 / n_jobs=1: {times[1] / times[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
