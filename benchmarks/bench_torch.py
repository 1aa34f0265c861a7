"""skrnn against PyTorch on the CPU: training step, prediction, fit, memory (issue 5).

Run from the repository root::

    pip install torch --index-url https://download.pytorch.org/whl/cpu  # CPU build
    python benchmarks/bench_torch.py            # a few minutes
    python benchmarks/bench_torch.py --quick    # under a minute

Both libraries get the same number of threads (``--threads``, default: all cores):
``torch.set_num_threads`` for PyTorch; for skrnn the setting the estimators use
(BLAS on one thread except the recurrent layers' matrix products, the batch of
the largest gated layers sharded over ``--threads`` Python threads).
Times are medians with [min-max] in milliseconds; ``ratio`` is skrnn / PyTorch
(below 1 means skrnn is faster).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

# The repository's skrnn unless PYTHONPATH names another (to compare versions).
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import (  # noqa: E402
    QUICK_SHAPES,
    SHAPES,
    SkrnnModel,
    bptt_activation_bytes,
    cpu_count,
    fmt_time,
    gemm_flops_per_s,
    numpy_peak_bytes,
    print_table,
    rnn_flops,
    timeit,
)

from skrnn import _parallel  # noqa: E402

INSTALL = (
    "PyTorch is not installed, so the comparison is skipped.\n"
    "Install its CPU build with:  pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu"
)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_model(torch, cell, F, H, dtype, layers=1, bidirectional=False, lr=1e-3):
    """PyTorch RNN/LSTM/GRU(batch_first) with a linear head on the last step."""
    rnn_cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    tdtype = torch.float32 if dtype == np.float32 else torch.float64

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_cls(
                F, H, num_layers=layers, batch_first=True, bidirectional=bidirectional
            )
            self.head = torch.nn.Linear(H * (2 if bidirectional else 1), 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            if bidirectional:
                last = torch.cat([out[:, -1, :H], out[:, 0, H:]], dim=1)
            else:
                last = out[:, -1]
            return self.head(last)

    net = Net().to(tdtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    def predict(x):
        with torch.no_grad():
            return net(x)

    return net, step, predict


def _data(B, T, F, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, F)).astype(dtype)
    y = rng.standard_normal((B, 1)).astype(dtype)
    return X, y


def _ratio(a, b):
    """skrnn / PyTorch of the medians, and of the minima in parentheses."""
    return f"{a[0] / b[0]:.2f} ({a[1] / b[1]:.2f})"


def step_table(torch, args, dtype, peak_flops):
    """Training step and prediction per cell and shape; returns the rows."""
    shapes = QUICK_SHAPES if args.quick else SHAPES
    cases = [(c, s, 1, False) for c in ("rnn", "lstm", "gru") for s in shapes]
    bi_shape = (32, 50, 8, 64)
    cases += [(c, bi_shape, 2, True) for c in ("lstm", "gru")]
    rows = []
    for cell, (B, T, F, H), layers, bi in cases:
        X, y = _data(B, T, F, dtype)
        sk = SkrnnModel(cell, F, H, dtype, layers, bi)
        rep = 0.4 if args.quick else 1.0
        with threadpool_limits(limits=1, user_api="blas"):
            sk_train = timeit(lambda: sk.train_step(X, y), rep)  # noqa: B023
            sk_pred = timeit(lambda: sk.predict(X), rep)  # noqa: B023
        n_dir = 2 if bi else 1
        flops_t = sum(
            rnn_flops(cell, B, T, F if k == 0 else n_dir * H, H, n_dir)
            for k in range(layers)
        )
        flops_p = sum(
            rnn_flops(cell, B, T, F if k == 0 else n_dir * H, H, n_dir, train=False)
            for k in range(layers)
        )
        name = f"{cell}{' 2L-bi' if bi else ''}"
        row = [name, f"{B},{T},{F},{H}", fmt_time(sk_train)]
        if torch is not None:
            _, t_step, t_pred = torch_model(torch, cell, F, H, dtype, layers, bi)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            tt_train = timeit(lambda: t_step(Xt, yt), rep)  # noqa: B023
            tt_pred = timeit(lambda: t_pred(Xt), rep)  # noqa: B023
            row += [fmt_time(tt_train), _ratio(sk_train, tt_train)]
        row += [f"{flops_t / sk_train[0] / peak_flops:.0%}", fmt_time(sk_pred)]
        if torch is not None:
            row += [fmt_time(tt_pred), _ratio(sk_pred, tt_pred)]
        row += [f"{flops_p / sk_pred[0] / peak_flops:.0%}"]
        rows.append(row)
        print("  done", name, B, T, F, H, flush=True)
    header = ["cell", "B,T,F,H", "skrnn train"]
    if torch is not None:
        header += ["torch train", "ratio med (min)"]
    header += ["GEMM%", "skrnn predict"]
    if torch is not None:
        header += ["torch predict", "ratio med (min)"]
    header += ["GEMM%"]
    print(f"\n### Training step and prediction, {np.dtype(dtype).name}, ms\n")
    print_table(header, rows)
    return rows


def fit_table(torch, args):
    """A whole fit: RNNRegressor vs the same PyTorch loop vs MLPRegressor."""
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor

    from skrnn import RNNRegressor

    n, T, H = (512, 30, 32) if args.quick else (2000, 50, 32)
    epochs = 5 if args.quick else 20
    rng = np.random.default_rng(1)
    t = np.arange(n + T + 1)
    series = (
        np.sin(0.1 * t) + 0.5 * np.sin(0.37 * t) + 0.1 * rng.standard_normal(len(t))
    )
    X = np.stack([series[i : i + T] for i in range(n)])[:, :, None].astype(np.float32)
    y = series[T : T + n].astype(np.float32)
    cut = int(0.8 * n)
    Xtr, Xte, ytr, yte = X[:cut], X[cut:], y[:cut], y[cut:]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = RNNRegressor(
            cell="lstm",
            hidden_layer_sizes=(H,),
            batch_size=32,
            max_iter=epochs,
            learning_rate_init=1e-2,
            clip_norm=None,
            alpha=0.0,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=0,
        )
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        rows.append(
            [
                "skrnn RNNRegressor(lstm)",
                f"{time.perf_counter() - t0:.2f}",
                f"{r2_score(yte, est.predict(Xte)):.3f}",
            ]
        )
        mlp = MLPRegressor(
            hidden_layer_sizes=(64,),
            batch_size=32,
            max_iter=epochs,
            learning_rate_init=1e-2,
            random_state=0,
            tol=0.0,
            n_iter_no_change=epochs + 1,
        )
        t0 = time.perf_counter()
        mlp.fit(Xtr[:, :, 0], ytr)
        rows.append(
            [
                "MLPRegressor(64) on flat windows",
                f"{time.perf_counter() - t0:.2f}",
                f"{r2_score(yte, mlp.predict(Xte[:, :, 0])):.3f}",
            ]
        )
    if torch is not None:
        torch.manual_seed(0)
        mean, scale = ytr.mean(), ytr.std()
        _, step, predict = torch_model(torch, "lstm", 1, H, np.float32, lr=1e-2)
        Xt = torch.from_numpy(Xtr)
        yt = torch.from_numpy(((ytr - mean) / scale)[:, None])
        order_rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for _ in range(epochs):
            order = torch.from_numpy(order_rng.permutation(len(Xtr)))
            for s in range(0, len(Xtr), 32):
                idx = order[s : s + 32]
                step(Xt[idx], yt[idx])
        elapsed = time.perf_counter() - t0
        pred = predict(torch.from_numpy(Xte)).numpy()[:, 0] * scale + mean
        rows.append(
            ["PyTorch LSTM, same loop", f"{elapsed:.2f}", f"{r2_score(yte, pred):.3f}"]
        )
    print(
        f"\n### A whole fit: {len(Xtr)} windows of {T} steps, {epochs} epochs, "
        "batch 32, Adam lr 1e-2, float32\n"
    )
    print_table(["model", "fit (s)", "test R^2"], rows)
    return rows


def memory_table(args):
    """Peak NumPy memory of a training step against what BPTT must keep."""
    rows = []
    shapes = (
        [(64, 100, 8, 128)] if args.quick else [(64, 100, 8, 128), (128, 200, 16, 256)]
    )
    for cell in ("rnn", "lstm", "gru"):
        for B, T, F, H in shapes:
            X, y = _data(B, T, F, np.float32)
            sk = SkrnnModel(cell, F, H, np.float32)
            sk.train_step(X, y)  # optimizer state exists before measuring
            with threadpool_limits(limits=1, user_api="blas"):
                peak = numpy_peak_bytes(lambda: sk.train_step(X, y))  # noqa: B023
            need = bptt_activation_bytes(cell, B, T, H, 4) + X.nbytes
            rows.append(
                [
                    cell,
                    f"{B},{T},{F},{H}",
                    f"{peak / 2**20:.1f}",
                    f"{need / 2**20:.1f}",
                    f"{peak / need:.2f}",
                ]
            )
    print("\n### Peak memory of a training step (float32, tracemalloc)\n")
    print_table(["cell", "B,T,F,H", "peak MiB", "BPTT keeps MiB", "ratio"], rows)
    return rows


def tbptt_table(args):
    """Truncated BPTT: peak memory stays flat as sequences grow."""
    from skrnn._bptt import TrainData, batch_loss_grad

    B, F, H, k = 32, 8, 64, 25
    rows = []
    for T in (100, 400) if args.quick else (100, 400, 1600):
        X, y = _data(B, T, F, np.float32)
        sk = SkrnnModel("lstm", F, H, np.float32)
        data = TrainData(X, np.full(B, T), y, np.ones(B, np.float32))
        peaks = []
        for steps in (None, k):
            peaks.append(
                numpy_peak_bytes(
                    lambda s=steps, sk=sk, data=data: batch_loss_grad(
                        sk.arch, "squared_error", sk.params, data, 0.0, s
                    )
                )
            )
        rows.append(
            [
                str(T),
                f"{peaks[0] / 2**20:.1f}",
                f"{peaks[1] / 2**20:.2f}",
                f"{X.nbytes / 2**20:.2f}",
            ]
        )
    print(f"\n### Truncated BPTT (lstm, B={B}, F={F}, H={H}, window {k}), peak MiB\n")
    print_table(["steps", "full BPTT", f"bptt_steps={k}", "input itself"], rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes, repeats")
    parser.add_argument("--threads", type=int, default=cpu_count())
    parser.add_argument("--float64", action="store_true", help="also time float64")
    parser.add_argument(
        "--only", choices=["steps", "fit", "memory"], default=None, help="one part"
    )
    args = parser.parse_args(argv)
    torch = _torch()
    if torch is None:
        print(INSTALL)
    else:
        torch.set_num_threads(args.threads)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    _parallel.set_max_threads(args.threads)
    print(
        f"skrnn: BLAS 1 thread, recurrent GEMMs and batch shards on up to "
        f"{args.threads} threads"
    )
    with threadpool_limits(limits=args.threads):
        if args.only in (None, "steps"):
            for dtype in (np.float32, np.float64) if args.float64 else (np.float32,):
                peak = gemm_flops_per_s(dtype, args.threads)
                print(
                    f"GEMM reference ({np.dtype(dtype).name}, {args.threads} "
                    f"threads): {peak / 1e9:.1f} GFLOP/s"
                )
                step_table(torch, args, dtype, peak)
        if args.only in (None, "fit"):
            fit_table(torch, args)
        if args.only in (None, "memory"):
            memory_table(args)
            tbptt_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
