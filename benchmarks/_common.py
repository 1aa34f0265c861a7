"""Shared helpers of the benchmark scripts: timing, tables, threads, memory."""

import os
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._network import Architecture, forward
from skrnn._optim import AdamOptimizer

#: (batch, steps, features, hidden) of issue 5.
SHAPES = [(16, 20, 1, 32), (32, 50, 8, 64), (64, 100, 8, 128), (128, 200, 16, 256)]
QUICK_SHAPES = SHAPES[:3]


def timeit(fn, budget=1.0, min_repeat=3, max_repeat=30):
    """Time ``fn`` after one warm-up call; (median, min, max) in seconds.

    Repeats as many times as fit in about ``budget`` seconds, within
    ``[min_repeat, max_repeat]``.
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    repeat = int(min(max_repeat, max(min_repeat, budget / max(first, 1e-6))))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times)), float(np.max(times))


def fmt_time(stats):
    """``median [min-max]`` in milliseconds."""
    med, lo, hi = stats
    return f"{1e3 * med:8.2f} [{1e3 * lo:.2f}-{1e3 * hi:.2f}]"


def print_table(header, rows):
    """Print rows of strings as an aligned, pipe-separated table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return (
            "| "
            + " | ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True))
            + " |"
        )

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print(flush=True)


def gemm_flops_per_s(dtype, n_threads, n=512, repeat=5):
    """Measured GEMM throughput of this machine (square ``n``, ``n_threads``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    with threadpool_limits(limits=n_threads, user_api="blas"):
        _, best, _ = timeit(lambda: np.dot(a, b, out=out), 0.5, repeat)
    return 2.0 * n**3 / best


def rnn_flops(cell, B, T, F, H, n_dir=1, train=True):
    """Multiply-add FLOPs of the GEMMs of one layer (forward, and backward if train)."""
    G = {"rnn": 1, "lstm": 4, "gru": 3, "statal": 1}[cell]
    V = 2 * H if cell == "statal" else H
    fwd = 2 * T * B * G * H * (F + V)
    return n_dir * (3 * fwd if train else fwd)


class SkrnnModel:
    """A one-or-more layer skrnn network with a linear head and Adam, for timing."""

    def __init__(
        self, cell, F, H, dtype, layers=1, bidirectional=False, seed=0, pooling="last"
    ):
        self.arch = Architecture(
            cell=cell,
            hidden_sizes=(H,) * layers,
            n_inputs=F,
            n_outputs=1,
            bidirectional=bidirectional,
            pooling=pooling,
        )
        rng = np.random.RandomState(seed)
        self.params = self.arch.init_params(rng, dtype)
        self.names = list(self.params)
        self.opt = AdamOptimizer([self.params[k] for k in self.names], 1e-3)

    def train_step(self, X, y):
        lengths = np.full(len(X), X.shape[1])
        batch = TrainData(X, lengths, y, np.ones(len(X), X.dtype))
        value, grads = batch_loss_grad(
            self.arch, "squared_error", self.params, batch, 0.0
        )
        self.opt.update_params(
            [self.params[k] for k in self.names], [grads[k] for k in self.names]
        )
        return value

    def predict(self, X):
        lengths = np.full(len(X), X.shape[1])
        return forward(self.arch, self.params, X, lengths, for_backward=False)[0]


def numpy_peak_bytes(fn):
    """Peak bytes NumPy allocates while ``fn`` runs (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def bptt_activation_bytes(cell, B, T, H, itemsize, n_dir=1):
    """Bytes of what BPTT must keep from the forward pass of one layer.

    Per step and sample: the gate values and the states the backward pass reads
    (LSTM: 4 gates, c and h; GRU: 3 gates, h and the hidden projection of the
    candidate; RNN: h; statal: the activation and its states).
    """
    per = {"rnn": H, "lstm": 6 * H, "gru": 5 * H, "statal": 3 * H}[cell]
    return n_dir * T * B * per * itemsize


def cpu_count():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
