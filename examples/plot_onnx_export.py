"""
==================================
Deploying a pipeline with ONNX
==================================

A fitted pipeline of :class:`~skrnn.preprocessing.SequenceScaler` and
:class:`~skrnn.RNNClassifier` is exported to ONNX with :mod:`skrnn.onnx`, run
in onnxruntime (which has runtimes for C, C++, C#, Java, JavaScript and mobile
platforms, none of which needs Python), and timed against ``predict``.

The Japanese vowels utterances have different lengths, so the exported graph
takes a right-padded batch and the number of valid frames of each utterance
(``lengths``), and gives what ``predict`` gives for the list of sequences.

The classifier runs at skrnn's defaults; only the cell is chosen.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from onnx.helper import tensor_dtype_to_np_dtype
from sklearn.pipeline import make_pipeline

from skrnn import RNNClassifier
from skrnn.datasets import load_japanese_vowels
from skrnn.onnx import padded, to_onnx
from skrnn.preprocessing import SequenceScaler

data = load_japanese_vowels()
X_train = [data.data[i].astype(np.float32) for i in data.train_indices]
y_train = data.target[data.train_indices]
X_test = [data.data[i].astype(np.float32) for i in data.test_indices]
y_test = data.target[data.test_indices]

pipe = make_pipeline(SequenceScaler(), RNNClassifier("gru", random_state=0))
pipe.fit(X_train, y_train)
print(f"test accuracy in Python: {pipe.score(X_test, y_test):.3f}")

# %%
# Export
# ------
# Importing :mod:`skrnn.onnx` registers the skrnn converters with skl2onnx, so
# ``skl2onnx.to_onnx`` converts skrnn models inside any pipeline.
# :func:`skrnn.onnx.to_onnx` wraps it: the sample (a list of sequences here)
# decides the inputs, ``X`` with a dynamic batch size and number of steps plus
# ``lengths`` for ragged data. float32 data gives a float32 graph, in which the
# GRU layer is ONNX's own ``GRU`` operator.
onx = to_onnx(pipe, X_train[:2])
for i in onx.graph.input:
    dtype = tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
    print(f"input {i.name!r}: {dtype}")
print("outputs:", [o.name for o in onx.graph.output])
print("operators:", sorted({node.op_type for node in onx.graph.node}))
model_bytes = onx.SerializeToString()
print(f"model size: {len(model_bytes) / 1024:.1f} KiB")

# %%
# Run in onnxruntime
# ------------------
# :func:`skrnn.onnx.padded` turns the list into the padded batch and lengths.
session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
X_pad, lengths = padded(X_test)
labels, proba = session.run(None, {"X": X_pad, "lengths": lengths})
same = np.array_equal(labels, pipe.predict(X_test))
gap = np.abs(proba - pipe.predict_proba(X_test)).max()
print(f"same labels as predict: {same}; largest probability gap: {gap:.1e}")


# %%
# Timing
# ------
# The best of a few runs over the whole test set, and over a single utterance
# (the latency a service answering one request at a time sees).
def best_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


one_pad, one_len = padded(X_test[:1])
timings = {
    f"batch of {len(X_test)}": (
        best_time(lambda: pipe.predict_proba(X_test)),
        best_time(lambda: session.run(None, {"X": X_pad, "lengths": lengths})),
    ),
    "one sequence": (
        best_time(lambda: pipe.predict_proba(X_test[:1])),
        best_time(lambda: session.run(None, {"X": one_pad, "lengths": one_len})),
    ),
}
for what, (python, onnx) in timings.items():
    print(
        f"{what}: predict_proba {python * 1e3:.2f} ms, onnxruntime "
        f"{onnx * 1e3:.2f} ms ({python / onnx:.1f}x)"
    )

fig, ax = plt.subplots(figsize=(6, 3))
names = list(timings)
pos = np.arange(len(names))
ax.barh(pos - 0.2, [t[0] * 1e3 for t in timings.values()], 0.4, label="predict_proba")
ax.barh(pos + 0.2, [t[1] * 1e3 for t in timings.values()], 0.4, label="onnxruntime")
ax.set_yticks(pos, names)
ax.set_xscale("log")
ax.set_xlabel("milliseconds (log scale)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The timings depend on the machine and on the batch; onnxruntime's advantage
# is largest for small batches, where Python's per-call overhead dominates.
# What counts for deployment is that the same model now runs where there is no
# Python at all. See :ref:`onnx` for what the export covers.
