"""
==============================================================
The statal cell: did a marker appear anywhere in the sequence?
==============================================================

Some questions about a sequence are about *whether* something ever happened,
not about its recent values: did the patient ever have a fever, did the
machine ever raise an alarm. The answer must be kept unchanged from the moment
the event occurs until the end of the sequence, possibly hundreds of steps
later, while everything else keeps changing. Plain recurrent cells have to
learn to hold such a bit against every later input; the *statal* cell
(``cell="statal"``) has it built in.

This example trains the statal cell and the simple RNN (plus, in full mode,
the LSTM and the GRU) on
:func:`~skrnn.datasets.make_marker_task`: 500 steps of noise on 4 channels,
a single spike on channel 0 in half of the sequences (the label), and 5
identical spikes on the other channels in every sequence as distractors. It
then opens the fitted statal network and shows its states step by step.

Every cell runs at skrnn's defaults. Set the environment variable
``SKRNN_EXAMPLES_FAST=1`` for fewer sequences and only the first two cells.
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrnn import RNNClassifier
from skrnn.datasets import make_marker_task

FAST = os.environ.get("SKRNN_EXAMPLES_FAST", "0") not in ("", "0")
warnings.filterwarnings("ignore", category=ConvergenceWarning)

n_train, n_test = (400, 200) if FAST else (600, 300)
n_timesteps = 500
X_train, y_train = make_marker_task(n_train, n_timesteps, random_state=0)
X_test, y_test = make_marker_task(n_test, n_timesteps, random_state=1)
print(f"train {X_train.shape}, test {X_test.shape}, positives {y_train.mean():.2f}")

# %%
# The statal cell
# ---------------
# Each of the ``H`` units has an *activation* :math:`a_t \in [0, 1]`, read as
# the probability that the unit's feature is present at step ``t``, and a
# *state* :math:`s_t \in [0, 1]`, the probability that the feature has been
# present at least once so far:
#
# .. math::
#     a_t = \sigma(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad
#     s_t = s_{t-1} + a_t (1 - s_{t-1}), \qquad
#     h_t = [a_t, s_t], \qquad s_0 = 0.
#
# Unrolled, :math:`s_t = 1 - \prod_{\tau \le t} (1 - a_\tau)`: a soft "OR" over
# time. It never decreases, so once a unit has fired its state stays up until
# the end of the sequence whatever comes next; nothing has to be learned to
# *keep* the answer, only to *detect* the feature. A layer of ``H`` units
# emits ``2H`` values per step (all activations, then all states), and the
# next step's projections read both. (``n_states=K`` adds states that slowly
# forget, with persistence 0.9, 0.99, ..., to also record *when*.)
#
# The same product is why training works over 500 steps. The gradient of the
# final state with respect to the activation at the marker step ``m`` is
# :math:`\partial s_T / \partial a_m = \prod_{\tau > m} (1 - a_\tau)`, which
# stays large as long as the unit is *off* elsewhere. That is the role of the
# initial input bias of ``-6``: a fresh unit fires with probability
# :math:`\sigma(-6) \approx 0.0025` on a neutral input. With a bias of ``-2``
# instead, the background activation alone fills the state within a few dozen
# steps, whatever the input, and the gradient reaching an early marker
# vanishes:
sigmoid = 1 / (1 + np.exp(-np.array([-6.0, -2.0])))
for bias, a in zip((-6, -2), sigmoid, strict=True):
    filled = 1 - (1 - a) ** np.array([50, n_timesteps])
    print(
        f"bias {bias:+d}: background a = {a:.4f}; state from background alone "
        f"after 50 / {n_timesteps} steps = {filled[0]:.2f} / {filled[1]:.2f}; "
        f"gradient to a marker {n_timesteps} steps back = {(1 - a) ** n_timesteps:.1e}"
    )

# %%
# Train the cells
# ---------------
# Every cell runs at skrnn's defaults, with the same data: one layer of 32
# units, Adam at a learning rate of 0.01 on batches of at most 32 sequences,
# until the training loss has stopped improving for 25 epochs (at most 200).
# Under the default ``patch_size="auto"`` the statal cell reads the sequence
# step by step, and the other cells read it in patches of
# ``ceil(500 / 32) = 16`` steps (``patch_size_``), 32 steps in all. One
# setting departs from the defaults, because this example streams the models
# below: ``bidirectional=False``, so each reads forwards only (``"auto"`` would
# read a many-to-one sequence both ways, which a stream cannot).
cells = ("statal", "rnn") if FAST else ("statal", "rnn", "lstm", "gru")
models, accuracy = {}, {}
for cell in cells:
    start = time.perf_counter()
    model = RNNClassifier(cell=cell, bidirectional=False, random_state=0)
    model.fit(X_train, y_train)
    models[cell] = model
    accuracy[cell] = model.score(X_test, y_test)
    print(
        f"{cell:>6}: test accuracy {accuracy[cell]:.3f} "
        f"({model.n_iter_} epochs, patches of {model.patch_size_} steps, "
        f"{time.perf_counter() - start:.1f} s)"
    )

# %%
# Read the statal states step by step
# -----------------------------------
# A fitted model can consume a series chunk by chunk with
# :meth:`~skrnn.RNNClassifier.stream`, carrying its recurrent state between
# calls. Feeding one step at a time gives, after every step, the probability
# the classifier would output if the sequence ended there, and the carried
# state of the (single, forward) layer: ``stream._state[layer][direction]["h"]``
# of shape ``(n_series, 2H)``, whose second half is :math:`s_t`. (``_state`` is
# internal; it is read here only to look inside the network.)
statal = models["statal"]
H = statal.hidden_layer_sizes_[0]


def trace(model, x):
    """Per-step P(marker seen) and statal states s_t for one sequence x (T, F)."""
    stream = model.stream()
    proba, states = [], []
    for t in range(len(x)):
        proba.append(stream.predict_proba(x[None, t : t + 1])[0, 1])
        states.append(stream._state[0][0]["h"][0, H:].copy())
    return np.array(proba), np.array(states)


# A positive test sequence whose marker comes about a quarter of the way in
# (so the answer must be held for ~375 steps), and a negative one.
positive = np.flatnonzero(y_test == 1)
marker_steps = X_test[positive, :, 0].argmax(axis=1)
closest = np.abs(marker_steps - n_timesteps // 4).argmin()
pos, marker_step = positive[closest], marker_steps[closest]
neg = np.flatnonzero(y_test == 0)[0]
traces = {name: trace(statal, X_test[i]) for name, i in (("pos", pos), ("neg", neg))}
print(f"marker of test sequence {pos} at step {marker_step}")
for name, (proba, states) in traces.items():
    print(
        f"{name}: final P(marker) = {proba[-1]:.3f}, final states "
        f"{np.array2string(states[-1], precision=2)}"
    )
weights = statal.state_dict_
print("input weight from channel 0:", np.round(weights["weight_ih_l0"][:, 0], 1))
print("input bias:                 ", np.round(weights["bias_ih_l0"], 1))

# %%
# Plot
# ----
# Top left: test accuracy per cell (0.5 is chance). Top right: the input of
# the positive sequence; the marker is the one spike on channel 0, grey lines
# are the distractor spikes on the other channels. Bottom: the statal states
# :math:`s_t` of the 32 units (coloured) and the classifier's probability after
# each step (black), for the positive sequence and a negative one.
fig, axes = plt.subplots(2, 2, figsize=(12, 7), width_ratios=(1, 2))
ax = axes[0, 0]
ax.bar(list(accuracy), list(accuracy.values()), color="tab:blue")
ax.axhline(0.5, color="grey", linestyle=":", label="chance")
ax.set_ylim(0, 1.05)
ax.set_ylabel("test accuracy")
ax.set_title(f"marker task, T = {n_timesteps}")
ax.legend(loc="lower right")

ax = axes[0, 1]
steps = np.arange(n_timesteps)
x = X_test[pos]
for t in np.flatnonzero((x[:, 1:] > 0.5).any(axis=1)):
    ax.axvline(t, color="grey", alpha=0.6, lw=1)
ax.plot(steps, x[:, 0], color="tab:red", lw=0.8, label="channel 0 (marker)")
ax.plot([], [], color="grey", alpha=0.6, label="distractor spikes (channels 1-3)")
ax.set_xlabel("time step")
ax.set_title(f"input of positive test sequence {pos}")
ax.legend(loc="upper right")

colors = plt.cm.viridis(np.linspace(0, 1, H))
for ax, name, i in ((axes[1, 0], "neg", neg), (axes[1, 1], "pos", pos)):
    proba, states = traces[name]
    for k in range(H):
        ax.plot(steps, states[:, k], color=colors[k], lw=1)
    ax.plot(steps, proba, color="black", lw=2, label="P(marker seen so far)")
    label = "positive" if name == "pos" else "negative"
    ax.set_title(f"statal states $s_t$, {label} test sequence {i}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time step")
axes[1, 1].axvline(marker_step, color="tab:red", lw=0.8, label="marker")
axes[1, 1].legend(loc="center right")
fig.tight_layout()

# %%
# What the network learned
# ------------------------
# About a third of the statal units learn a large input weight from channel 0
# (11 of the 32 in the fast run, +4.5 to +7.4) and keep their input bias near
# -6: they are *marker detectors*. Their state jumps to 1 at the marker and
# stays there for the remaining ~380 steps, since a state can only rise; on a
# negative sequence the distractor spikes leave them silent and their states
# creep up from the background activation alone (to between 0.1 and 0.65
# after 500 steps in the fast run). The output layer reads the last states
# next to their maximum and mean over the sequence (the default
# ``pooling="last_max_mean"``),
# weighs the detectors against the other units, and the prediction (black)
# flips at the marker and never falls back.
#
# In the fast run (400 training sequences, seed 0, every setting at its
# default) the statal cell reached a test accuracy of 1.000, stopping by
# itself after 59 epochs, and the simple RNN stayed near chance (0.57 after 80
# epochs), although it reads the series in 32 patches of 16 steps and so has
# to carry the bit over at most 32 of its steps. The full mode adds the LSTM
# and the GRU. The GRU's update gate can hold the bit (:math:`z \approx 1`
# copies the state), but it has to discover that through the gradient of
# every later step; the simple RNN would have to learn a recurrent weight that
# holds the bit, and the gradient that would teach it fades over the steps
# that follow the marker.
#
# What the statal state cannot do is hold a *value*: it only rises. Recalling
# the number seen 40 steps ago needs a cell that can store and overwrite, see
# the memory-capacity example (``plot_memory_capacity.py``).
plt.show()
