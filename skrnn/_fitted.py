"""A fitted network as inference reads it: one object for predict, stream,
forecast, transform and the early-stopping score."""

import dataclasses

import numpy as np

from ._data import as_model_dtype, check_finite_output, to_patches
from ._losses import OUTPUT_ACTIVATIONS
from ._parallel import blas_single_thread
from ._skip import skip_lags

__all__ = ["PREDICT_CHUNK", "FittedEncoderDecoder", "FittedNetwork", "chunks"]

#: Rows per chunk when predicting, so memory stays bounded on large batches.
PREDICT_CHUNK = 1024


def chunks(n):
    """Slices of at most :data:`PREDICT_CHUNK` rows covering ``n`` rows."""
    for start in range(0, n, PREDICT_CHUNK):
        yield slice(start, start + PREDICT_CHUNK)


def in_chunks(run, n_rows, n_steps=None, name="X"):
    """``run(rows)`` on each chunk of :data:`PREDICT_CHUNK` rows, joined on rows.

    Per-step outputs (``n_steps`` given) shorter than ``n_steps`` are padded
    with zero steps at the end. BLAS runs single-threaded (no thread count
    changes a number); a non-finite output raises, naming the input ``name``.
    """
    outs = []
    with blas_single_thread():
        for rows in chunks(n_rows):
            out = run(rows)
            if n_steps is not None and out.shape[1] < n_steps:
                shape = (len(out), n_steps - out.shape[1], out.shape[2])
                out = np.concatenate([out, np.zeros(shape, out.dtype)], axis=1)
            outs.append(check_finite_output(out, name))
    return np.concatenate(outs, axis=0)


class _Fitted:
    """The architecture and the weights (in their dtype) of a fitted estimator.

    The estimators build one with ``_network()``; what an estimator adds
    around it (input validation, the local level, target units, the output
    layout) stays with the estimator.
    """

    def __init__(self, arch, params):
        self.arch, self.params = arch, params

    @property
    def dtype(self):
        return next(iter(self.params.values())).dtype


class FittedNetwork(_Fitted):
    """The architecture, the weights (in their dtype), the patch size and the
    output activation of a fitted many-to-one or per-step estimator.

    Parameters
    ----------
    arch : skrnn._network.Architecture
    params : dict of ndarray
        The weights, all of one float dtype (not copied: a stream keeps a
        copy of the estimator, weights included).
    patch_size : int, default=1
        Steps the network reads as one (``patch_size_``).
    loss : str, default="squared_error"
        Key of ``skrnn._losses.OUTPUT_ACTIVATIONS``.
    """

    def __init__(self, arch, params, patch_size=1, loss="squared_error"):
        super().__init__(arch, params)
        self.patch_size, self.loss = patch_size, loss

    def inputs(self, X3, lengths):
        """A padded batch as the network reads it: its dtype, in patches."""
        return to_patches(as_model_dtype(X3, self.dtype), lengths, self.patch_size)

    def raw(self, X, lengths):
        """Head outputs for a batch already in :meth:`inputs` form, computed in
        chunks of :data:`PREDICT_CHUNK` rows; per-step outputs come back padded
        to the batch's steps. Raises on a non-finite output."""

        def run(rows):
            lo = lengths[rows]
            T = int(lo.max())
            raw, _, _ = self.arch.forward(
                self.params, X[rows, :T], lo, for_backward=False
            )
            return raw

        n_steps = X.shape[1] if self.arch.return_sequences else None
        return in_chunks(run, len(X), n_steps)

    def step(self, X, lengths, state):
        """``(raw, state)`` for the next chunk of every series (streaming),
        from a batch in :meth:`inputs` form and the state of the chunk before
        (None at the start).

        With a linear skip the state also carries each series' last
        ``skip_steps - 1`` input steps (zeros before its start), so the lags
        reach back into earlier chunks as they do in one whole sequence.
        """
        k = self.arch.skip_steps
        if not k:
            with blas_single_thread():
                raw, state, _ = self.arch.forward(
                    self.params, X, lengths, state0=state, for_backward=False
                )
            return check_finite_output(raw), state
        carried, history = (None, None) if state is None else state
        if history is None:
            history = np.zeros((len(X), k - 1, X.shape[2]), X.dtype)
        plain = dataclasses.replace(self.arch, skip_steps=0)
        params = {n: p for n, p in self.params.items() if n != "skip.weight"}
        with blas_single_thread():
            raw, carried, _ = plain.forward(
                params, X, lengths, state0=carried, for_backward=False
            )
            joined = np.concatenate([history, X], axis=1)
            lags = skip_lags(joined, lengths + k - 1, k, self.arch.return_sequences)
            if self.arch.return_sequences:
                lags = lags[:, k - 1 :]
            raw = raw + lags @ self.params["skip.weight"].T
        ends = lengths[:, None] + np.arange(k - 1)  # the last k - 1 joined steps
        history = joined[np.arange(len(X))[:, None], ends]
        return check_finite_output(raw), (carried, history)

    def output(self, raw):
        """The output activation (identity, sigmoid or softmax) on ``raw``."""
        return OUTPUT_ACTIVATIONS[self.loss](raw)


class FittedEncoderDecoder(_Fitted):
    """A fitted ``skrnn._encoder_decoder.EncoderDecoder`` as transform,
    inverse_transform, predict, score and the early-stopping score read it:
    codes from sequences and sequences from codes, in chunks of rows.

    Parameters
    ----------
    arch : skrnn._encoder_decoder.EncoderDecoder
    params : dict of ndarray
        The weights with their ``"encoder."`` and ``"decoder."`` prefixes, all
        of one float dtype.
    """

    def encode(self, X3, lengths):
        """Codes ``(n_samples, n_components)`` of a padded batch (cast to the
        weights' dtype, refusing values beyond its range)."""
        X = as_model_dtype(X3, self.dtype)

        def run(rows):
            Z, _ = self.arch.encode(
                self.params, X[rows], lengths[rows], for_backward=False
            )
            return Z

        return in_chunks(run, len(X))

    def decode(self, Z, out_lengths):
        """Raw outputs ``(n_samples, max(out_lengths), n_outputs)`` read from
        codes ``Z`` (in standardised target units; the steps past each
        ``out_lengths`` are not meaningful)."""

        def run(rows):
            raw, _ = self.arch.decode(
                self.params, Z[rows], out_lengths[rows], for_backward=False
            )
            return raw

        return in_chunks(run, len(Z), int(out_lengths.max()), name="Z")

    def halves(self):
        """``(encoder, decoder)``, each a :class:`FittedNetwork` of its own
        architecture and weights (without the prefix)."""
        enc, dec = self.arch.split(self.params)
        return (
            FittedNetwork(self.arch.encoder, enc),
            FittedNetwork(self.arch.decoder, dec),
        )
