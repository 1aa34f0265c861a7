"""
=====================================
How far back can each cell remember?
=====================================

Course notes on recurrent networks often say that a plain recurrent cell
remembers about ten steps back, and that gated cells (LSTM, GRU), the statal
cell and dilated convolutions (WaveNet) reach further. This example measures
it on the delayed-recall task of :func:`~skrnn.datasets.make_memory_task`:
every step brings a fresh random number in ``[-1, 1)``, and the target is the
number seen ``lag`` steps before the end. Nothing but memory helps: a model
that has forgotten it can only predict the mean, an R² of 0.

Every cell is trained at increasing lags, with the same data, budget and
seeds, and scored by R² on held-out sequences. A cell has learned a lag when
its held-out R² is at least 0.5; where it stops is the lag beyond the longest
one it learned.

Set the environment variable ``SKRNN_EXAMPLES_FAST=1`` for fewer lags,
sequences and epochs (the curves are then rougher).
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from joblib import Parallel, delayed

from skrnn import RNNRegressor
from skrnn.datasets import make_memory_task

FAST = os.environ.get("SKRNN_EXAMPLES_FAST", "0") not in ("", "0")

lags = (1, 5, 20, 40) if FAST else (1, 2, 5, 10, 20, 30, 40, 60, 80)
n_train, n_test = (500, 200) if FAST else (2000, 500)
max_iter = 15 if FAST else 40  # the training budget; fewer epochs when fast, for time
burn_in = 10  # steps before the one to recall: n_timesteps = lag + burn_in
n_jobs = 2  # fits run side by side, one core each

# %%
# The cells and the training budget
# ---------------------------------
# The recurrent cells get one layer of 16 units. The WaveNet stack gets 6
# dilated layers of 16 channels (dilations 1, 2, ..., 32): its output at the
# last step sees the last ``receptive_field_`` = 64 input steps and nothing
# before, by construction. Each fit runs at skrnn's defaults (Adam, batches
# of at most 32 sequences) for at most ``max_iter`` epochs, stopping earlier
# when the training loss has not improved for 25 epochs; without the
# regressor's linear skip, which would recall the value itself, and with one
# run instead of epochs chosen on folds (``early_stopping=False``).
#
# Two settings define the measurement and differ from the defaults: the
# network reads the sequence step by step (``patch_size=1``; the default
# ``"auto"`` would read patches of ``ceil(T / 32)`` steps and shorten the lag
# it has to bridge), and the head reads only the last state
# (``pooling="last"``; the default ``"last_max_mean"`` adds the maximum and the
# mean over all steps, through which a WaveNet could see beyond its receptive
# field). The question
# is what the final state holds.
#
# Delayed recall is known for long plateaus: the loss can sit at "predict the
# mean" for many epochs before the network finds the value to keep, and
# whether it gets off the plateau within the budget depends on the
# initialisation. So that one unlucky seed does not decide where a cell
# "stops", a fit whose *training* R² stays below 0.5 is repeated once with
# another seed, and the run with the better training R² is kept (the choice
# never looks at the held-out data). Such lags are starred in the table.
cells = {
    "rnn": (16,),
    "lstm": (16,),
    "gru": (16,),
    "statal": (16,),
    "wavenet": (16,) * 6,
}


def fit_one(cell, lag):
    """Train one cell at one lag; return its held-out R² and the fit's cost."""
    X, y = make_memory_task(n_train + n_test, lag + burn_in, lag, random_state=lag)
    X_train, y_train, X_test, y_test = (
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
    )
    start = time.perf_counter()
    runs = []
    for seed in (0, 1):
        model = RNNRegressor(
            cell=cell,
            hidden_layer_sizes=cells[cell],
            pooling="last",
            patch_size=1,
            max_iter=max_iter,
            # the network's own memory: no linear skip (a ridge on the last
            # steps would recall the value itself) and one run of the budget
            linear_skip=0,
            early_stopping=False,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
            model.fit(X_train, y_train)
        runs.append((model.score(X_train, y_train), model))
        if runs[-1][0] >= 0.5:
            break
    _, model = max(runs, key=lambda run: run[0])
    return {
        "cell": cell,
        "lag": lag,
        "r2": model.score(X_test, y_test),
        "retried": len(runs) > 1,
        "seconds": time.perf_counter() - start,
        "receptive_field": getattr(model, "receptive_field_", 0),
    }


# Longest sequences first, so the two workers finish together.
jobs = sorted(((c, lag) for c in cells for lag in lags), key=lambda j: -j[1])
start = time.perf_counter()
results = Parallel(n_jobs=n_jobs)(delayed(fit_one)(c, lag) for c, lag in jobs)
found = {(r["cell"], r["lag"]): r for r in results}
print(f"{len(jobs)} fits in {time.perf_counter() - start:.0f} s on {n_jobs} workers")

r2 = {c: np.array([found[c, lag]["r2"] for lag in lags]) for c in cells}
seconds = {c: sum(found[c, lag]["seconds"] for lag in lags) for c in cells}
receptive_field = max(r["receptive_field"] for r in results)

# %%
# The table
# ---------
# Held-out R² per cell (rows) and lag (columns), a star where the first seed
# stayed on the plateau and a second one was tried; the last column is the
# total training time of the row in seconds.
print("lag     " + "".join(f"{lag:>7d}" for lag in lags) + "   time")
for c in cells:
    row = "".join(
        f"{found[c, lag]['r2']:6.2f}" + ("*" if found[c, lag]["retried"] else " ")
        for lag in lags
    )
    print(f"{c:<8}{row}{seconds[c]:6.0f}s")

print()
for c in cells:
    learned = [lag for lag, v in zip(lags, r2[c], strict=True) if v >= 0.5]
    failed = [lag for lag, v in zip(lags, r2[c], strict=True) if v < 0.5]
    reach = f"longest lag learned {learned[-1]}" if learned else "no lag learned"
    print(f"{c:<8} {reach}; R² < 0.5 at lags {failed or 'none'}")

# %%
# The plot
# --------
fig, ax = plt.subplots(figsize=(8, 5))
for c, marker in zip(cells, "osD^v", strict=True):
    ax.plot(lags, np.maximum(r2[c], -0.1), marker + "-", label=c, alpha=0.8)
ax.axhline(0.5, color="grey", linestyle=":", label="R² = 0.5")
ax.axvline(
    receptive_field,
    color="tab:purple",
    linestyle="--",
    lw=1,
    label=f"WaveNet receptive field ({receptive_field})",
)
ax.set_xscale("log")
ax.set_xticks(lags, [str(lag) for lag in lags])
ax.set_ylim(-0.12, 1.05)
ax.set_xlabel("lag (steps between the value and the end of the sequence)")
ax.set_ylabel("held-out R² (clipped at -0.1)")
ax.set_title("Delayed recall: how far back each cell remembers")
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %%
# What the measurement says
# -------------------------
# Numbers from one full run (2000 training and 500 held-out sequences per lag,
# at most 40 epochs, seeds 0 then 1; 45 fits in about 5 minutes on 2 cores),
# made with minibatches of 50 before the default batch size became "at most
# 32". The fast mode (500 sequences, 15 epochs: too few for the gated cells
# beyond lag 1) gives the same verdicts with either batch size (the same lags
# reach R² 0.5 for every cell), so the full-run verdicts below should hold:
#
# ========  ====  ====  ====  ====  ====  =====  =====  =====  =====
# lag          1     2     5    10    20     30     40     60     80
# ========  ====  ====  ====  ====  ====  =====  =====  =====  =====
# rnn       1.00  1.00  1.00  0.96  0.98   0.06  -0.01  -0.01  -0.01
# lstm      1.00  1.00  1.00  1.00  1.00   1.00   1.00  -0.13  -0.01
# gru       1.00  1.00  1.00  1.00  1.00  -0.14  -0.12  -0.09   0.00
# statal    1.00  1.00  1.00  0.06  0.03   0.08   0.03   0.01   0.01
# wavenet   1.00  1.00  1.00  1.00  1.00   0.00   1.00   1.00   0.00
# ========  ====  ====  ====  ====  ====  =====  =====  =====  =====
#
# * **Simple RNN**: recalls up to lag 20 (R² 0.98) and stops learning at 30.
#   "About ten steps" is, with this training budget, about twenty.
# * **LSTM**: the furthest reach of the recurrent cells, up to lag 40 (the
#   first seed stayed on the plateau there, the second learned it); nothing
#   at 60.
# * **GRU**: up to lag 20, like the simple RNN, and nothing from 30 on with
#   either seed. Its gates could hold the value longer, but at this size and
#   budget it did not find them.
# * **WaveNet**: its hard limit is the receptive field. At lag 80 the value
#   lies outside the 64 steps its output can see, and no training can change
#   that; at 40 and 60 it recalls perfectly. The
#   failure at lag 30 is an optimisation failure, not a capacity limit: both
#   seeds stayed on the initial plateau, while seed 2 (or another draw of the
#   data) learned that lag to R² 0.999 within 5 epochs when we checked.
# * **Statal cell**: up to lag 5, and nothing from 10 on. This is the task
#   the statal cell is *not* built for. Its activations form a sigmoid
#   recurrent layer that can carry a value for a few steps (that is what works
#   at lags 1 to 5), but its states only rise: they record that a feature was
#   present, not what value an input had. A state could keep a value only if
#   one unit fired exactly once, at the step to recall, with a strength that
#   encodes the value, and stayed silent afterwards; nothing marks that step in
#   this task, and the cell did not learn to time it. For "was X ever seen" it
#   remembers over hundreds of steps (see the statal marker example,
#   ``plot_statal_marker.py``); for "what was the value L steps ago" use an
#   LSTM or a WaveNet stack wide enough to see it.
#
# These limits belong to a training budget as much as to the cells: the
# recurrent cells fail beyond them because the gradient that would teach them
# to keep the value fades over the lag, and more data, epochs or restarts move
# the limits out (slowly). The WaveNet limit is structural; add layers (each
# one doubles the receptive field) to see further back.
