"""
=================================================
Loss and gradient norm, with and without clipping
=================================================

Backpropagation through time multiplies one Jacobian per step, so the gradient
of a recurrent network can grow by orders of magnitude in a single batch:
the *exploding gradient*. One such step throws the weights far away, and
plain stochastic gradient descent rarely recovers.

Clipping the gradient by its global norm (``clip_norm``, as PyTorch's
``clip_grad_norm_``) rescales every batch gradient whose L2 norm exceeds the
threshold, keeping its direction. After training, ``loss_curve_`` holds the
loss per epoch and ``grad_norm_curve_`` the mean gradient norm per epoch
*before* clipping, which is how to see whether clipping was needed.

Set the environment variable ``SKRNN_EXAMPLES_FAST=1`` for fewer samples and
epochs.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import DivergenceError, RNNRegressor
from skrnn.datasets import make_adding_problem

FAST = os.environ.get("SKRNN_EXAMPLES_FAST", "0") not in ("", "0")
warnings.filterwarnings("ignore", category=ConvergenceWarning)

n_train, n_test = (200, 100) if FAST else (1000, 300)
X, y = make_adding_problem(n_train + n_test, n_timesteps=50, random_state=0)
X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]

# %%
# Three runs that differ only in clipping
# ---------------------------------------
# An LSTM trained by SGD with momentum (the default 0.9) and a deliberately
# large learning rate, on the adding problem with 50 steps. The solver, the
# learning rate, the clipping and a fixed number of epochs (so that whole
# curves are compared) are what this example is about; everything else is
# skrnn's default (32 units, batches of at most 32, patches of 2 steps).
# ``clip_value`` clamps each gradient entry instead of rescaling the whole
# gradient.
settings = {
    "no clipping": dict(clip_norm=None),
    "clip_norm=1": dict(clip_norm=1.0),
    "clip_value=0.1": dict(clip_norm=None, clip_value=0.1),
}
curves = {}
for name, clipping in settings.items():
    model = RNNRegressor(
        cell="lstm",
        solver="sgd",
        learning_rate_init=0.5,
        max_iter=10 if FAST else 40,  # fewer epochs in the fast mode, for time
        n_iter_no_change=1000,  # run every epoch, to compare whole curves
        early_stopping=False,  # one run, not an epoch count chosen on folds
        random_state=0,
        **clipping,
    )
    try:
        model.fit(X_train, y_train)
    except DivergenceError as exc:
        # fit raises instead of returning a diverged model; the error carries
        # the curves up to the blow-up
        print(f"{name:>15}: diverged in epoch {exc.epoch}")
        curves[name] = (exc.loss_curve + [np.inf], exc.grad_norm_curve + [np.inf])
        continue
    score = model.score(X_test, y_test)
    print(
        f"{name:>15}: {model.n_iter_:3d} epochs, final loss {model.loss_:10.3g}, "
        f"test R² {score:6.3f}"
    )
    curves[name] = (model.loss_curve_, model.grad_norm_curve_)

# %%
# The curves
# ----------
# Logarithmic vertical axes; values beyond ``1e8`` (or infinite) are drawn on
# the top edge. Without clipping, the first epochs already explode: the loss
# and the gradient norm leave the chart and, once they overflow, ``fit`` raises
# :class:`~skrnn.DivergenceError` rather than return a diverged model. With
# clipping, the same learning rate trains.
CAP = 1e8


def capped(curve):
    curve = np.asarray(curve, dtype=float)
    return np.where(np.isfinite(curve), np.minimum(curve, CAP), CAP)


fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4))
for (name, (losses, norms)), color in zip(
    curves.items(), ["C3", "C0", "C2"], strict=True
):
    epochs = np.arange(1, len(losses) + 1)
    for ax, curve in [(ax_loss, losses), (ax_grad, norms)]:
        ax.semilogy(epochs, capped(curve), color=color, marker=".", label=name)
ax_grad.axhline(1.0, color="C0", ls=":", lw=1, label="clip_norm threshold")
ax_loss.set_title("loss_curve_ (training loss per epoch)")
ax_grad.set_title("grad_norm_curve_ (mean norm before clipping)")
for ax in (ax_loss, ax_grad):
    ax.set_xlabel("epoch")
    ax.set_ylim(top=CAP * 10)
    ax.legend()
fig.tight_layout()
plt.show()

# %%
# Clipping does not make a learning rate good; it bounds the damage of the rare
# batch whose gradient explodes. Adam (the default solver) divides each step by
# a running gradient scale and is much less sensitive, but skrnn still clips at
# ``clip_norm=1.0`` by default.
