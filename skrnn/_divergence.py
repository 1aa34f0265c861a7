"""Divergence: the error training raises, and the rule that tells a diverging batch."""

import numpy as np

__all__ = [
    "DIVERGENCE_FACTOR",
    "DivergenceError",
    "DivergenceGuard",
    "divergence_error",
]


class DivergenceError(ValueError):
    """Training blew up and was stopped.

    Stochastic solvers (``"adam"``, ``"sgd"``) stop when a batch's loss or
    gradient is not finite, or its loss exceeds a million times the loss of the
    call's first batch (at the weights training started from; for
    ``partial_fit``, the first batch of the first call, so that growth spread
    over many one-batch calls is caught too); L-BFGS steps back
    from a non-finite loss and fails only when it cannot.

    Raised by ``fit`` and ``partial_fit`` instead of returning a diverged model,
    so that a ``GridSearchCV`` candidate gets ``error_score`` and a script never
    carries on with a broken model unknowingly. The estimator keeps the last
    finite weights: those at the end of the last epoch that completed in the
    failed call (the best validation weights with ``early_stopping``), with its
    fitted attributes describing the epochs up to there, so a model that trained
    well for a while before blowing up can still be used after catching the
    error. If no epoch of the call completed, the estimator is left as it was
    before the call (unfitted after a first ``fit``). Lower
    ``learning_rate_init``, set ``clip_norm``, or scale the inputs and targets.

    Attributes
    ----------
    epoch : int
        The epoch (1-based, counting earlier ``partial_fit`` calls) in which
        training diverged.
    loss_curve : list of float
        Training loss per completed epoch of the failed call (L-BFGS: per
        iteration), to see how it blew up.
    grad_norm_curve : list of float
        Mean gradient norm per completed epoch, before clipping (empty for
        L-BFGS).
    model_kept : bool
        True if the estimator now holds the weights of the failed call's last
        completed epoch; False if it was left as before the call.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import DivergenceError, RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(40, 10, 1)) * 100, rng.normal(size=40)
    >>> reg = RNNRegressor(cell="rnn", nonlinearity="relu", solver="sgd",
    ...                    learning_rate_init=10.0, momentum=0.0, clip_norm=None,
    ...                    batch_size=40, early_stopping=False, random_state=0)
    >>> try:
    ...     reg.fit(X, y)
    ... except DivergenceError as exc:
    ...     error = exc
    >>> isinstance(error, ValueError)  # what GridSearchCV's error_score catches
    True

    The first epoch completed, so the model keeps its weights, and its fitted
    attributes describe the epochs before the one that blew up:

    >>> error.model_kept, reg.n_iter_ == error.epoch - 1 == len(error.loss_curve)
    (True, True)
    >>> bool(np.isfinite(reg.predict(X)).all())
    True
    """

    def __init__(self, message, epoch, loss_curve, grad_norm_curve, model_kept):
        super().__init__(message)
        self.epoch = epoch
        self.loss_curve = list(loss_curve)
        self.grad_norm_curve = list(grad_norm_curve)
        self.model_kept = model_kept

    def __reduce__(self):  # picklable across joblib workers
        args = (
            self.args[0],
            self.epoch,
            self.loss_curve,
            self.grad_norm_curve,
            self.model_kept,
        )
        return type(self), args


#: A batch loss this many times the loss at the weights a call started from (the
#: first batch's, or 1e-3 if that is smaller; for partial_fit the first batch of
#: the first call) counts as divergence, as does a non-finite loss or gradient.
DIVERGENCE_FACTOR = 1e6


class DivergenceGuard:
    """Tells a diverging batch, relative to a reference batch.

    The reference is the first batch of the call, or with ``state`` (partial_fit)
    the first batch of the first call: its limit lives in the training state,
    so one-batch calls are compared with a fixed start, not each with itself.
    """

    def __init__(self, state=None):
        self.state = state
        self.limit = None if state is None else state.divergence_limit

    def diverged(self, value, norm):
        if not (np.isfinite(value) and np.isfinite(norm)):
            return True
        if self.limit is None:
            self.limit = DIVERGENCE_FACTOR * max(float(value), 1e-3)
            if self.state is not None:
                self.state.divergence_limit = self.limit
        return value > self.limit


def divergence_error(epoch, loss_curve, grad_norm_curve, model_kept):
    """The error for a divergence; the estimator completes the message."""
    last = f"{loss_curve[-1]:.3g}" if loss_curve else "none"
    return DivergenceError(
        f"Training diverged in epoch {epoch}: the loss or the gradient became "
        "non-finite, or the loss grew past a million times its starting value "
        f"(last completed epoch's loss: {last}). Lower learning_rate_init, set "
        "clip_norm (for example clip_norm=1.0), or scale the inputs and targets "
        "(skrnn.preprocessing.SequenceScaler).",
        epoch,
        loss_curve,
        grad_norm_curve,
        model_kept,
    )
