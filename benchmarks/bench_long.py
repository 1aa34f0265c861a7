"""Time the dilated causal convolutions against the recurrent cells on long sequences.

Run from the repository root::

    python benchmarks/bench_long.py            # about a minute
    python benchmarks/bench_long.py --quick

The recurrent cells loop over time: every step costs a few dozen NumPy calls
whatever the batch, so on long sequences with little work per step (few
sequences, few units) they are bound by that per-step overhead.
``cell="wavenet"`` has no loop over time; its cost is proportional to
``batch * steps * channels**2 * layers``. For sequence lengths from 100 to 4000
steps and batches of 1 and 16 series (one feature, float32) it times one
training step (forward, backward, Adam) and one prediction of a one-layer rnn /
lstm / gru of 32 units and of a WaveNet stack of 8 layers (receptive field 256
steps) with ``--channels`` channels (default 8: about as many parameters as the
GRU). The ratio is each model's median time over the WaveNet stack's at the
same batch and length, measured in the same run (above 1: WaveNet is faster).

``--equal-params`` instead times issue 16's comparison, at a batch of 64 and
1000 and 4000 steps: an LSTM of 32 units (one layer, ``bidirectional=False``)
on the NumPy scan and on the compiled kernels (``fast_path=True``) against a
WaveNet stack built as the estimators build it (``hidden_layer_sizes="auto"``:
as many layers as cover the sequence, at most 10) with the channels that give
about the LSTM's parameter count, on the NumPy path and on its compiled
kernels. Both read out with ``--pooling`` (``"last"`` by default, or
``"concat"``, the estimators' default before ``"last_max_mean"``). The ratio is
each model's time over the WaveNet stack's on the same path (above 1: WaveNet
is faster; the target is 3).
"""

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

# The repository's skrnn unless PYTHONPATH names another (to compare versions).
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import SkrnnModel, cpu_count, fmt_time, print_table, timeit  # noqa: E402

import skrnn  # noqa: E402
from skrnn import _parallel  # noqa: E402
from skrnn._wavenet import wavenet_depth  # noqa: E402

LENGTHS = [100, 1000, 4000]
BATCHES = [1, 16]
F, H, WAVENET_LAYERS = 1, 32, 8
EQUAL_LENGTHS, EQUAL_BATCH = [1000, 4000], 64


def n_params(model):
    return sum(p.size for p in model.params.values())


def equal_channels(n_layers, target):
    """Channels of a WaveNet stack of ``n_layers`` with about ``target`` weights."""
    sizes = [
        (
            abs(
                n_params(SkrnnModel("wavenet", F, c, np.float32, layers=n_layers))
                - target
            ),
            c,
        )
        for c in range(1, 65)
    ]
    return min(sizes)[1]


def time_model(model, X, y, fast, budget):
    """(train step, predict) time statistics of ``model`` on ``X``, ``y``."""
    with skrnn.config_context(fast_path=fast), _parallel.blas_single_thread():
        return (
            timeit(lambda: model.train_step(X, y), budget),
            timeit(lambda: model.predict(X), budget),
        )


def equal_params(lengths, budget, pooling):
    """Issue 16: LSTM 32 against a WaveNet stack of the same size, batch 64."""
    lstm = SkrnnModel("lstm", F, H, np.float32, pooling=pooling)
    rows = []
    for T in lengths:
        L = wavenet_depth(T)
        C = equal_channels(L, n_params(lstm))
        wavenet = SkrnnModel("wavenet", F, C, np.float32, layers=L, pooling=pooling)
        print(
            f"  T={T}: lstm {H}: {n_params(lstm)} parameters, wavenet {L}x{C}: "
            f"{n_params(wavenet)}",
            flush=True,
        )
        rng = np.random.default_rng(0)
        X = rng.standard_normal((EQUAL_BATCH, T, F)).astype(np.float32)
        y = rng.standard_normal((EQUAL_BATCH, 1)).astype(np.float32)
        ref = {fast: time_model(wavenet, X, y, fast, budget) for fast in (False, True)}
        for name, model in [(f"wavenet {L}x{C}", wavenet), (f"lstm {H}", lstm)]:
            for fast in (False, True):
                train, pred = (
                    ref[fast]
                    if model is wavenet
                    else time_model(model, X, y, fast, budget)
                )
                rows.append(
                    [
                        name,
                        "compiled" if fast else "numpy",
                        T,
                        fmt_time(train),
                        f"{train[0] / ref[fast][0][0]:.2f}",
                        fmt_time(pred),
                        f"{pred[0] / ref[fast][1][0]:.2f}",
                    ]
                )
    header = [
        "model",
        "path",
        "steps",
        "train step",
        "/ wavenet",
        "predict",
        "/ wavenet",
    ]
    print(f"\n### batch {EQUAL_BATCH}, {F} feature, float32, pooling={pooling!r}; ms")
    print_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 1000 steps")
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--channels", type=int, default=8, help="WaveNet channels")
    parser.add_argument(
        "--equal-params", action="store_true", help="issue 16: batch 64, LSTM 32"
    )
    parser.add_argument(
        "--pooling",
        choices=["last", "concat"],
        default="last",
        help="readout of --equal-params",
    )
    args = parser.parse_args(argv)
    _parallel.set_max_threads(args.threads)
    if args.equal_params:
        lengths = EQUAL_LENGTHS[:1] if args.quick else EQUAL_LENGTHS
        equal_params(lengths, 1.0, args.pooling)
        return 0
    lengths = LENGTHS[:2] if args.quick else LENGTHS
    C = args.channels
    models = {
        f"wavenet {WAVENET_LAYERS}x{C}": SkrnnModel(
            "wavenet", F, C, np.float32, layers=WAVENET_LAYERS
        ),
        f"rnn {H}": SkrnnModel("rnn", F, H, np.float32),
        f"lstm {H}": SkrnnModel("lstm", F, H, np.float32),
        f"gru {H}": SkrnnModel("gru", F, H, np.float32),
    }
    print(f"\n### {F} feature, float32; times in ms; parameters:")
    for name, model in models.items():
        print(f"  {name}: {sum(p.size for p in model.params.values())}")
    print()
    rows = []
    for B, T in [(B, T) for B in BATCHES for T in lengths]:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((B, T, F)).astype(np.float32)
        y = rng.standard_normal((B, 1)).astype(np.float32)
        times = {}
        with threadpool_limits(limits=1, user_api="blas"):
            for name, model in models.items():
                times[name] = (
                    timeit(lambda m=model, X=X, y=y: m.train_step(X, y), 0.5),
                    timeit(lambda m=model, X=X: m.predict(X), 0.5),
                )
        ref_train, ref_pred = (s[0] for s in next(iter(times.values())))
        for name, (train, pred) in times.items():
            rows.append(
                [
                    name,
                    B,
                    T,
                    fmt_time(train),
                    f"{train[0] / ref_train:.2f}",
                    fmt_time(pred),
                    f"{pred[0] / ref_pred:.2f}",
                ]
            )
        print("  done", B, T, flush=True)
    header = [
        "model",
        "batch",
        "steps",
        "train step",
        "/ wavenet",
        "predict",
        "/ wavenet",
    ]
    print_table(header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
