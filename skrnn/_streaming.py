"""Stateful (streaming) inference and autoregressive forecasting for fitted models."""

import copy

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["SequenceStream", "forecast"]


class SequenceStream:
    """Feed long series to a fitted model chunk by chunk, carrying its state.

    Each call continues every series from where the previous call left it, so
    the outputs are exactly those of one call over the whole series (Keras'
    ``stateful=True``, without fixing the batch size in advance). Obtain one
    with ``estimator.stream()``; :meth:`reset` starts over.

    Parameters
    ----------
    estimator : fitted RNNRegressor or RNNClassifier
        Unidirectional (a reverse direction would need the future). The stream
        keeps a snapshot of the model as it is when the stream opens: a later
        ``fit``, ``partial_fit`` or ``load_state_dict`` on the estimator does not
        change what this stream computes (open a new stream for the new model).

    Attributes
    ----------
    n_steps_seen_ : ndarray of shape (n_series,) or None
        Steps consumed so far by each series (None before the first chunk).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(30, 8, 1)), rng.normal(size=(30, 8))
    >>> reg = RNNRegressor(hidden_layer_sizes=(4,), return_sequences=True,
    ...                    max_iter=3, random_state=0).fit(X, y)
    >>> stream = reg.stream()
    >>> parts = [stream.predict(X[:2, :5]), stream.predict(X[:2, 5:])]
    >>> np.allclose(np.concatenate(parts, axis=1), reg.predict(X[:2]))
    True
    """

    def __init__(self, estimator):
        if not hasattr(estimator, "_format_predict"):
            raise TypeError(
                "SequenceStream needs a fitted RNNRegressor or RNNClassifier; got "
                f"{type(estimator).__name__}. An encoder-decoder reads the whole "
                "input before decoding, so it cannot stream."
            )
        check_is_fitted(estimator)
        if estimator.bidirectional_:
            raise ValueError(
                "streaming needs a unidirectional model: a bidirectional layer "
                "reads each sequence backwards from its end (bidirectional='auto' "
                "reads both ways for a prediction after the whole sequence). Fit "
                "with bidirectional=False to stream."
            )
        if getattr(estimator, "local_level_", None) is not None:
            raise ValueError(
                f"this model was fitted with local_level={estimator.local_level_!r}: "
                "it reads each sequence from its own level, which a stream only "
                "knows at the sequence's end. Predict on whole windows instead "
                "(predict, or forecast with a window)."
            )
        self.estimator = estimator
        self._model = _snapshot(estimator)
        self._net = self._model._network()
        self.reset()

    def reset(self):
        """Forget the carried state: the next chunk starts new series."""
        self._state = None
        self.n_steps_seen_ = None
        return self

    def _advance(self, X):
        est = self._model
        X3, lengths, kind = est._validate_X(X, reset=False)
        if self._state is not None and len(X3) != len(self.n_steps_seen_):
            raise ValueError(
                f"this stream carries {len(self.n_steps_seen_)} series but the chunk "
                f"has {len(X3)}; pass the same series in every chunk, or call "
                "reset() to start new ones."
            )
        size = getattr(est, "patch_size_", 1)
        if size > 1 and (lengths % size).any():
            raise ValueError(
                f"this model reads patches of {size} steps (patch_size_), so every "
                f"chunk must hold a multiple of {size} steps; got chunk lengths "
                f"{sorted(set(lengths.tolist()))[:5]}. Cut the series at multiples "
                f"of {size}, or fit with patch_size=1 to stream step by step."
            )
        raw, self._state = self._net.step(*self._net.inputs(X3, lengths), self._state)
        seen = 0 if self.n_steps_seen_ is None else self.n_steps_seen_
        self.n_steps_seen_ = seen + lengths
        return self._net.output(raw), lengths, kind

    def predict(self, X):
        """Predictions for the next chunk of every series.

        Parameters
        ----------
        X : array-like or list of sequences
            The next steps of each series (same number of series every call).

        Returns
        -------
        y : ndarray or list
            As ``estimator.predict``: for a many-to-one model, the prediction
            after the chunk given everything seen so far; with
            ``return_sequences=True``, one output per step of the chunk.
        """
        return self._model._format_predict(*self._advance(X))

    def predict_proba(self, X):
        """Class probabilities for the next chunk (classifiers only)."""
        if not hasattr(self._model, "_format_proba"):
            raise AttributeError("predict_proba needs a fitted RNNClassifier.")
        return self._model._format_proba(*self._advance(X))


def _snapshot(estimator):
    """A copy of the fitted model that later training cannot change.

    Fitting assigns new objects to every fitted attribute except the weights,
    which training updates in place: a shallow copy with copied weights (and
    without the training state) is therefore frozen.
    """
    snap = copy.copy(estimator)
    snap.state_dict_ = {k: v.copy() for k, v in estimator.state_dict_.items()}
    vars(snap).pop("_train_state", None)
    return snap


def forecast(estimator, X, n_steps, window="auto"):
    """Autoregressive forecast: feed the model's own predictions back as input.

    See :meth:`RNNRegressor.forecast`.
    """
    check_is_fitted(estimator)
    F = estimator._n_step_features
    if estimator.n_outputs_ % F:
        raise ValueError(
            f"forecast feeds predictions back as inputs, so the model must predict "
            f"whole steps: n_outputs_={estimator.n_outputs_} is not a multiple of "
            f"the {F} input features. Train it on next-step targets (y of shape "
            "(n_samples,) for univariate series, (n_samples, horizon) or "
            "(n_samples, horizon * n_features))."
        )
    if (
        isinstance(n_steps, bool)
        or not isinstance(n_steps, (int, np.integer))
        or n_steps < 1
    ):
        raise ValueError(f"n_steps must be a positive int; got {n_steps!r}.")
    if window == "auto":
        window = estimator._fit_n_timesteps
    elif window is not None and not (
        isinstance(window, (int, np.integer))
        and not isinstance(window, bool)
        and window >= 1
    ):
        raise ValueError(
            f"window must be 'auto', None or a positive int; got {window!r}."
        )
    if window is None and getattr(estimator, "patch_size_", 1) > 1:
        raise ValueError(
            f"forecast(window=None) feeds one step at a time, but this model reads "
            f"patches of {estimator.patch_size_} steps (patch_size_). Pass a window "
            "(the default 'auto' uses the training length) or fit with patch_size=1."
        )
    if window is None and getattr(estimator, "local_level_", None) is not None:
        raise ValueError(
            "forecast(window=None) carries the state through the whole history, "
            f"but this model (local_level={estimator.local_level_!r}) reads each "
            "window from its own level. Pass a window (the default 'auto' uses "
            "the training length)."
        )
    X3, lengths, _ = estimator._validate_X(X, reset=False)
    horizon = estimator.n_outputs_ // F
    blocks = (
        _sliding(estimator, X3, lengths, window)
        if window
        else _stateful(estimator, X3, lengths)
    )
    steps, done = [], 0
    for out in blocks:
        steps.append(out.reshape(len(out), horizon, F))
        done += horizon
        if done >= n_steps:
            break
    result = np.concatenate(steps, axis=1)[:, :n_steps]
    return result[:, :, 0] if F == 1 else result


def _sliding(estimator, X3, lengths, window):
    """Next-step predictions, each from the last ``window`` steps; a generator."""
    history = [X3[i, : lengths[i]] for i in range(len(X3))]
    F = X3.shape[2]
    while True:
        X_in, L_in, _ = estimator._validate_X(
            [h[-window:] for h in history], reset=False
        )
        out = _last_step(estimator, estimator._outputs(X_in, L_in), L_in)
        yield out
        block = out.reshape(len(out), -1, F)
        history = [np.concatenate([h, b]) for h, b in zip(history, block, strict=True)]


def _stateful(estimator, X3, lengths):
    """Next-step predictions with the state carried through; a generator."""
    stream = SequenceStream(estimator)
    out = _last_step(estimator, stream._advance(X3)[0], lengths)
    while True:
        yield out
        block = out.reshape(len(out), -1, X3.shape[2])
        steps = np.full(len(block), block.shape[1])
        out = _last_step(estimator, stream._advance(block)[0], steps)


def _last_step(estimator, out, lengths):
    """Predictions after each sequence's last step, in target units."""
    if estimator.return_sequences:
        out = out[np.arange(len(out)), lengths - 1]
    return out * estimator.target_scale_ + estimator.target_mean_
