"""
====================================================
Sequence codes for a tabular model (Seq2Seq encoder)
====================================================

:class:`~skrnn.Seq2SeqTransformer` is a sequence autoencoder: an encoder reads
each sequence into a code of ``n_components`` numbers and a decoder rebuilds
the sequence from the code. Once fitted, :meth:`~skrnn.Seq2SeqTransformer.transform`
turns sequences of any length into fixed-size rows, which any scikit-learn
model can take.

Here the autoencoder learns codes for the Japanese vowels utterances without
looking at the speakers, and a logistic regression learns the speakers from the
codes. Because the encoder never sees the labels, it could be trained on many
more unlabelled recordings than there are labelled ones.

The autoencoder runs at skrnn's defaults except for the cell; the size of the
code, ``n_components=16``, is spelled out because it is what the example is
about (it is also the default).
"""

# %%

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skrnn import Seq2SeqTransformer
from skrnn.datasets import load_japanese_vowels
from skrnn.preprocessing import SequenceScaler

data = load_japanese_vowels()
X_train = [data.data[i] for i in data.train_indices]
y_train = data.target[data.train_indices]
X_test = [data.data[i] for i in data.test_indices]
y_test = data.target[data.test_indices]

# %%
# The autoencoder
# ---------------
# ``fit(X)`` without targets learns to reconstruct ``X``. Its ``score`` is the
# R² of the reconstruction over all valid frames.
encoder = make_pipeline(
    SequenceScaler(),
    Seq2SeqTransformer(n_components=16, cell="gru", random_state=0),
)
encoder.fit(X_train)
scaler, autoencoder = encoder[0], encoder[-1]
codes_train = encoder.transform(X_train)
print("codes:", codes_train.shape)
print(f"reconstruction R² on test: {autoencoder.score(scaler.transform(X_test)):.3f}")

# %%
# Codes feeding a classifier
# --------------------------
# The encoder is already trained, so it enters the classification pipeline
# wrapped in :class:`~sklearn.frozen.FrozenEstimator`: fitting the pipeline
# then fits only the classifier. (An unwrapped ``Seq2SeqTransformer`` inside a
# supervised pipeline would receive the labels as ``y`` and learn to map each
# sequence to its label instead of reconstructing it.)
classifier = make_pipeline(
    FrozenEstimator(encoder), StandardScaler(), LogisticRegression(max_iter=2000)
)
classifier.fit(X_train, y_train)
print(f"speaker accuracy from the codes: {classifier.score(X_test, y_test):.3f}")


# %%
# For comparison, the same classifier on hand-made summary features: the mean
# and standard deviation of each coefficient over the utterance.
def summary(X):
    return np.array([np.concatenate([x.mean(axis=0), x.std(axis=0)]) for x in X])


baseline = make_pipeline(
    FunctionTransformer(summary), StandardScaler(), LogisticRegression(max_iter=2000)
)
baseline.fit(X_train, y_train)
print(f"speaker accuracy from mean / std: {baseline.score(X_test, y_test):.3f}")

# %%
# What the codes hold
# -------------------
# Left: the test codes projected on their first two principal components,
# coloured by speaker (never shown to the encoder). Right: one test utterance
# and its reconstruction from 16 numbers (three of the twelve coefficients).
codes_test = encoder.transform(X_test)
xy = PCA(n_components=2).fit(codes_train).transform(codes_test)
fig, (ax_codes, ax_rec) = plt.subplots(1, 2, figsize=(11, 4.2))
points = ax_codes.scatter(xy[:, 0], xy[:, 1], c=y_test, cmap="tab10", s=12)
ax_codes.legend(*points.legend_elements(), title="speaker", fontsize=7, ncol=2)
ax_codes.set_title("test codes, first two principal components")

seq = scaler.transform([X_test[0]])
rebuilt = autoencoder.predict(seq)[0]
for k, color in zip([0, 1, 2], ["C0", "C1", "C2"], strict=True):
    ax_rec.plot(seq[0][:, k], color=color, label=f"coefficient {k + 1}")
    ax_rec.plot(rebuilt[:, k], color=color, ls="--")
ax_rec.set_xlabel("frame")
ax_rec.set_title("an utterance (solid) and its reconstruction (dashed)")
ax_rec.legend(fontsize=8)
fig.tight_layout()
plt.show()
