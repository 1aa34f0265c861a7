"""Time the recurrent core per cell against the machine's own GEMM throughput.

Run from the repository root::

    python benchmarks/bench_core.py            # about a minute
    python benchmarks/bench_core.py --quick

For each cell (rnn, lstm, gru, statal), shape and float dtype it times one
forward+backward of a network (one layer, linear head, squared error) and one
training epoch (Adam, minibatches of the given batch size). ``GEMM%`` is the
fraction of the machine's GEMM throughput reached, measured in the same run on
a square GEMM with the same thread count: the GEMM FLOPs the step must do
divided by its time, over the reference FLOP rate. The reference row times one
GEMM of the same total FLOPs as the step.
"""

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

# The repository's skrnn unless PYTHONPATH names another (to compare versions).
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import (  # noqa: E402
    SkrnnModel,
    cpu_count,
    fmt_time,
    gemm_flops_per_s,
    print_table,
    rnn_flops,
    timeit,
)

from skrnn import _parallel  # noqa: E402

SHAPES = [(32, 50, 8, 64), (64, 100, 8, 128), (128, 100, 16, 256)]


def _same_flops_gemm(flops, dtype):
    """Time a square-ish GEMM of ``flops`` FLOPs (the in-run reference)."""
    n = max(16, int(round((flops / 2) ** (1 / 3))))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return timeit(lambda: a @ b, 0.3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes")
    parser.add_argument("--threads", type=int, default=cpu_count())
    args = parser.parse_args(argv)
    _parallel.set_max_threads(args.threads)
    shapes = SHAPES[:2] if args.quick else SHAPES
    n_batches = 2 if args.quick else 4
    with threadpool_limits(limits=args.threads):
        for dtype in (np.float32, np.float64):
            peak = gemm_flops_per_s(dtype, args.threads)
            print(
                f"\n### {np.dtype(dtype).name}: GEMM reference {peak / 1e9:.1f} "
                f"GFLOP/s ({args.threads} threads), times in ms\n"
            )
            rows = []
            for cell in ("rnn", "lstm", "gru", "statal"):
                for B, T, F, H in shapes:
                    rng = np.random.default_rng(0)
                    X = rng.standard_normal((B * n_batches, T, F)).astype(dtype)
                    y = rng.standard_normal((B * n_batches, 1)).astype(dtype)
                    model = SkrnnModel(cell, F, H, dtype)
                    flops = rnn_flops(cell, B, T, F, H)
                    with threadpool_limits(limits=1, user_api="blas"):
                        step = timeit(
                            lambda: model.train_step(X[:B], y[:B]),  # noqa: B023
                            0.5,
                        )

                        def epoch(X=X, y=y, B=B, model=model):
                            for s in range(0, len(X), B):
                                model.train_step(X[s : s + B], y[s : s + B])

                        ep = timeit(epoch, 0.5)
                    ref = _same_flops_gemm(flops, dtype)
                    rows.append(
                        [
                            cell,
                            f"{B},{T},{F},{H}",
                            fmt_time(step),
                            fmt_time(ep),
                            fmt_time(ref),
                            f"{ref[0] / step[0]:.2f}",
                            f"{flops / step[0] / peak:.0%}",
                        ]
                    )
                    print("  done", cell, B, T, F, H, flush=True)
            header = [
                "cell",
                "B,T,F,H",
                "fwd+bwd+Adam",
                f"epoch ({n_batches} batches)",
                "same-FLOP GEMM",
                "GEMM/step",
                "GEMM%",
            ]
            print_table(header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
