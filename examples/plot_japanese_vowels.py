"""
=====================================================
Sequence classification: who said the vowel?
=====================================================

The Japanese vowels set (shipped with skrnn) holds 640 utterances of the
vowels /ae/ by nine speakers: 12 LPC cepstrum coefficients per frame, between
7 and 29 frames per utterance. The task is to name the speaker.

The sequences have different lengths. skrnn takes them as they are, as a
Python list of ``(n_frames, 12)`` arrays: no padding by hand, and the padding
it does internally never reaches the loss or the statistics of
:class:`~skrnn.preprocessing.SequenceScaler`.

The classifier runs at skrnn's defaults; only the cell is chosen.
"""

# %%

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier
from skrnn.datasets import load_japanese_vowels
from skrnn.preprocessing import SequenceScaler

data = load_japanese_vowels()
X_train = [data.data[i] for i in data.train_indices]
y_train = data.target[data.train_indices]
X_test = [data.data[i] for i in data.test_indices]
y_test = data.target[data.test_indices]
print(f"{len(X_train)} training and {len(X_test)} test utterances")
print("lengths:", sorted({len(x) for x in data.data}))

# %%
# A few utterances
# ----------------
# The first LPC coefficient of three utterances of two speakers: the speakers
# differ in level and shape, and utterances differ in length.
fig, ax = plt.subplots(figsize=(8, 3.5))
for speaker, color in [(1, "C0"), (6, "C3")]:
    idx = np.flatnonzero(y_train == speaker)[:3]
    for k, i in enumerate(idx):
        label = f"speaker {speaker}" if k == 0 else None
        ax.plot(X_train[i][:, 0], color=color, marker=".", label=label)
ax.set_xlabel("frame")
ax.set_ylabel(data.feature_names[0])
ax.legend()
fig.tight_layout()

# %%
# Scaler and classifier in one pipeline
# -------------------------------------
# :class:`~skrnn.preprocessing.SequenceScaler` standardises each coefficient
# over all frames of all training utterances; the GRU (one layer of 32 units,
# the default) reads each utterance frame by frame, and its last state next to
# its largest and mean outputs over the utterance (the default
# ``pooling="last_max_mean"``) go
# through a softmax over the nine speakers. Training stops by itself once the
# loss has stopped improving for 25 epochs.
model = make_pipeline(SequenceScaler(), RNNClassifier(cell="gru", random_state=0))
model.fit(X_train, y_train)
clf = model[-1]
print(f"{clf.n_iter_} epochs, final training loss {clf.loss_:.3f}")
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

# %%
# Which speakers get confused?
# ----------------------------
# Rows are the true speakers of the 370 test utterances, columns the predicted
# ones. ``predict_proba`` gives the full distribution for each utterance.
proba = model.predict_proba(X_test[:3])
print("probabilities of the first three test utterances:")
print(np.round(proba, 2))

fig, ax = plt.subplots(figsize=(5, 4.5))
ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False)
ax.set_title("Japanese vowels, test set")
fig.tight_layout()
plt.show()
