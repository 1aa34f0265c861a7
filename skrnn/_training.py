"""Training loop: minibatches, truncated BPTT, clipping, early stopping, L-BFGS."""

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from ._clipping import clip_grad_norm, clip_grad_value, global_norm
from ._losses import LOSSES
from ._network import penalty
from ._optim import make_optimizer
from ._packing import pack, unpack_into
from ._parallel import blas_single_thread
from ._warnings import warn_user

__all__ = [
    "DivergenceError",
    "Hyper",
    "TrainData",
    "TrainState",
    "batch_loss_grad",
    "train",
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
    ...                    batch_size=40, random_state=0)
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


@dataclass(frozen=True)
class Hyper:
    """Training hyperparameters, named as the estimators' parameters."""

    solver: str = "adam"
    alpha: float = 1e-4
    batch_size: object = "auto"
    learning_rate: str = "constant"
    learning_rate_init: float = 1e-3
    power_t: float = 0.5
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    max_iter: int = 200
    max_fun: int = 15000
    tol: float = 1e-4
    n_iter_no_change: int = 25
    early_stopping: bool = False
    shuffle: bool = True
    verbose: bool = False
    clip_norm: object = None
    clip_value: object = None
    bptt_steps: object = None

    def optimizer_args(self):
        table = {
            "sgd": {
                "learning_rate_init": self.learning_rate_init,
                "lr_schedule": self.learning_rate,
                "momentum": self.momentum,
                "nesterov": self.nesterovs_momentum,
                "power_t": self.power_t,
            },
            "adam": {
                "learning_rate_init": self.learning_rate_init,
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "lr_schedule": "adaptive"
                if self.learning_rate == "adaptive"
                else "constant",
            },
        }
        return table[self.solver]


@dataclass
class TrainData:
    """A right-padded training set in the layout the network consumes.

    ``X`` (n_samples, n_steps, n_inputs), ``lengths`` (n_samples,), targets ``Y``
    in the raw-output layout ((n_samples, n_outputs) or (n_samples, n_steps,
    n_outputs)), ``sample_weight`` (n_samples,) and ``step_mask`` (n_samples,
    n_steps) of per-step weights (0 on padded steps) or None for many-to-one.
    """

    X: np.ndarray
    lengths: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray
    step_mask: object = None
    out_lengths: object = None

    def __len__(self):
        return len(self.X)

    def extra(self):
        """Keyword arguments the network's forward needs besides X and lengths."""
        return {} if self.out_lengths is None else {"out_lengths": self.out_lengths}

    def take(self, idx):
        """The rows ``idx``, trimmed to their longest sequence."""
        lengths = self.lengths[idx]
        T = int(lengths.max())
        Y, mask, out = self.Y[idx], None, None
        if self.out_lengths is not None:
            out = self.out_lengths[idx]
            T_out = int(out.max())
            Y, mask = Y[:, :T_out], self.step_mask[idx, :T_out]
        elif self.step_mask is not None:
            Y, mask = Y[:, :T], self.step_mask[idx, :T]
        return TrainData(
            self.X[idx, :T], lengths, Y, self.sample_weight[idx], mask, out
        )

    def row_weights(self):
        if self.step_mask is None:
            return self.sample_weight
        return self.sample_weight[:, None] * self.step_mask

    def score(self, metric, truth, pred):
        """``metric`` over the rows training weights, with those weights.

        ``truth`` and ``pred`` are laid out as ``Y``; with per-step targets only
        the steps of positive weight count (scikit-learn's MLP weights its
        validation score the same way).
        """
        w = self.row_weights()
        if self.step_mask is None:
            return metric(truth, pred, sample_weight=w)
        keep = self.step_mask > 0
        return metric(truth[keep], pred[keep], sample_weight=w[keep])


@dataclass
class TrainState:
    """What training accumulates; the estimators expose it as fitted attributes."""

    params: dict
    optimizer: object = None
    loss_curve: list = field(default_factory=list)
    grad_norm_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    best_params: object = None
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0
    #: partial_fit's divergence threshold, kept from its first batch on
    divergence_limit: object = None


def _left_align(X, lengths):
    """Shift every right-padded sequence so that it ends at the last step."""
    T = X.shape[1]
    shift = T - lengths
    src = (np.arange(T)[None, :] - shift[:, None]) % T
    return X[np.arange(len(X))[:, None], src]


def batch_loss_grad(arch, loss, params, batch, alpha, bptt_steps=None, masks=None):
    """Loss and gradients of one batch, by full or truncated BPTT.

    With ``bptt_steps = k`` the batch is left-aligned (each sequence ends at the
    last step, padding in front, where the state does not move), cut into windows
    of ``k`` steps counted from the end, and run window by window with the state
    carried forward but the gradient cut at every window boundary. Many-to-one
    losses live in the last window only; earlier windows then just carry state.
    """
    w_rows = batch.row_weights()
    w = w_rows / w_rows.sum()
    n_eff = batch.sample_weight.sum()
    T = batch.X.shape[1]
    fn = LOSSES[loss]
    if bptt_steps is None or bptt_steps >= T:
        raw, _, cache = arch.forward(
            params, batch.X, batch.lengths, masks=masks, **batch.extra()
        )
        n_out = raw.shape[-1]
        value, draw = fn(raw.reshape(-1, n_out), batch.Y.reshape(-1, n_out), w.ravel())
        grads, _, _ = arch.backward(params, cache, draw.reshape(raw.shape))
        return value + penalty(params, alpha, n_eff, grads), grads
    X = _left_align(batch.X, batch.lengths)
    valid = np.arange(T)[None, :] >= (T - batch.lengths)[:, None]
    if arch.return_sequences:
        Y = _left_align(batch.Y, batch.lengths)
        w = _left_align(w, batch.lengths)
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    value, state = 0.0, None
    starts = list(range(T - bptt_steps, 0, -bptt_steps))[::-1]
    bounds = list(zip([0, *starts], [*starts, T], strict=True))
    for a, b in bounds:
        raw, state, cache = arch.forward(
            params,
            X[:, a:b],
            batch.lengths,
            valid=valid[:, a:b].T,
            state0=state,
            masks=masks,
        )
        if not (arch.return_sequences or b == T):
            continue  # many-to-one: earlier windows only carry the state
        n_out = raw.shape[-1]
        if arch.return_sequences:
            v, draw = fn(
                raw.reshape(-1, n_out), Y[:, a:b].reshape(-1, n_out), w[:, a:b].ravel()
            )
        else:
            v, draw = fn(raw, batch.Y, w)
        g, _, _ = arch.backward(params, cache, draw.reshape(raw.shape))
        for name in grads:
            grads[name] += g[name]
        value += v
    return value + penalty(params, alpha, n_eff, grads), grads


#: Largest minibatch of ``batch_size="auto"``.
AUTO_BATCH = 32


def _batch_size(hyper, n_samples):
    """Rows per minibatch; ``"auto"`` splits the data into equal batches of at
    most :data:`AUTO_BATCH` rows (36 samples: two of 18, not 32 and 4)."""
    if hyper.batch_size == "auto":
        n_batches = -(-n_samples // AUTO_BATCH)
        return -(-n_samples // n_batches)
    return min(int(hyper.batch_size), n_samples)


#: A batch loss this many times the loss at the weights a call started from (the
#: first batch's, or 1e-3 if that is smaller; for partial_fit the first batch of
#: the first call) counts as divergence, as does a non-finite loss or gradient.
DIVERGENCE_FACTOR = 1e6


class _DivergenceGuard:
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


def _run_epoch(arch, loss, state, data, hyper, rng, guard):
    """One pass over ``data``; returns (loss, mean grad norm) or None on divergence."""
    n = len(data)
    order = rng.permutation(n) if hyper.shuffle else np.arange(n)
    bs = _batch_size(hyper, n)
    params = state.params
    names = list(params)
    total, norms, weight = 0.0, [], 0.0
    for start in range(0, n, bs):
        batch = data.take(order[start : start + bs])
        masks = arch.draw_masks(rng, len(batch), batch.X.dtype)
        value, grads = batch_loss_grad(
            arch, loss, params, batch, hyper.alpha, hyper.bptt_steps, masks
        )
        glist = [grads[k] for k in names]
        if hyper.clip_norm is not None:
            norm = clip_grad_norm(glist, hyper.clip_norm)
        else:
            norm = global_norm(glist)
        if guard.diverged(value, norm):
            return None
        if hyper.clip_value is not None:
            clip_grad_value(glist, hyper.clip_value)
        state.optimizer.update_params([params[k] for k in names], glist)
        bw = float(batch.sample_weight.sum())
        total += value * bw
        weight += bw
        norms.append(norm)
    return total / weight, float(np.mean(norms))


def _copy(params):
    return {k: v.copy() for k, v in params.items()}


def _restore(params, source):
    for k, v in source.items():
        params[k][...] = v


def _roll_back(state, hyper, last_good, last_optimizer):
    """Back to the weights an interrupted or diverged epoch started from (the
    best validation weights with early stopping) and their optimizer."""
    best = hyper.early_stopping and state.best_params is not None
    _restore(state.params, state.best_params if best else last_good)
    state.optimizer = last_optimizer


def _diverged(epoch, loss_curve, grad_norm_curve, model_kept):
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


def _update_no_improvement(state, hyper, score_fn):
    """scikit-learn MLP's bookkeeping for ``tol`` / ``n_iter_no_change``."""
    if hyper.early_stopping:
        score = score_fn(state.params)
        state.validation_scores.append(score)
        if score < state.best_validation_score + hyper.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if score > state.best_validation_score:
            state.best_validation_score = score
            state.best_params = _copy(state.params)
    else:
        loss = state.loss_curve[-1]
        if loss > state.best_loss - hyper.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
    state.best_loss = min(state.best_loss, state.loss_curve[-1])


def fit_stochastic(
    arch, loss, state, data, hyper, rng, score_fn=None, incremental=False
):
    """Minibatch training (Adam or SGD) for up to ``max_iter`` epochs."""
    if state.optimizer is None:
        params = list(state.params.values())
        state.optimizer = make_optimizer(hyper.solver, params, **hyper.optimizer_args())
    n_epochs = 1 if incremental else hyper.max_iter
    first_epoch = len(state.loss_curve)
    guard = _DivergenceGuard(state if incremental else None)
    stopped = False
    for _ in range(n_epochs):
        t0 = time.perf_counter()
        # the last finite weights, kept if this epoch diverges (cheap next to it)
        last_good, last_optimizer = _copy(state.params), copy.deepcopy(state.optimizer)
        try:
            result = _run_epoch(arch, loss, state, data, hyper, rng, guard)
        except KeyboardInterrupt:  # keep the last completed epoch's model
            _roll_back(state, hyper, last_good, last_optimizer)
            raise
        if result is None:
            _roll_back(state, hyper, last_good, last_optimizer)
            raise _diverged(
                state.n_iter + 1,
                state.loss_curve[first_epoch:],
                state.grad_norm_curve[first_epoch:],
                model_kept=len(state.loss_curve) > first_epoch,
            )
        epoch_loss, norm = result
        state.n_iter += 1
        state.t += len(data)
        state.loss_curve.append(float(epoch_loss))
        state.grad_norm_curve.append(norm)
        state.optimizer.iteration_ends(state.t)
        _update_no_improvement(state, hyper, score_fn)
        if hyper.verbose:
            val = (
                f", validation score = {state.validation_scores[-1]:.6f}"
                if hyper.early_stopping
                else ""
            )
            print(
                f"Iteration {state.n_iter}, loss = {epoch_loss:.8f}{val}, "
                f"grad norm = {norm:.4g}, {time.perf_counter() - t0:.2f}s"
            )
        if incremental:
            break
        if state.no_improvement_count > hyper.n_iter_no_change:
            what = "Validation score" if hyper.early_stopping else "Training loss"
            msg = (
                f"{what} did not improve more than tol={hyper.tol} for "
                f"{hyper.n_iter_no_change} consecutive epochs."
            )
            if state.optimizer.trigger_stopping(msg, hyper.verbose):
                stopped = True
                break
            state.no_improvement_count = 0
    if not incremental and not stopped:
        warn_user(
            f"Stochastic Optimizer: Maximum iterations ({hyper.max_iter}) reached "
            "and the optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    if hyper.early_stopping and state.best_params is not None:
        _restore(state.params, state.best_params)


def fit_lbfgs(arch, loss, state, data, hyper):
    """Full-batch L-BFGS on the packed parameter vector (scipy, float64).

    An interrupt (``KeyboardInterrupt``) keeps the last accepted iterate, with
    the iterations and losses that led to it.
    """
    names = list(state.params)
    arrays = [state.params[k] for k in names]
    x0 = pack(arrays).astype(np.float64)
    first_iter = len(state.loss_curve)
    last = {"x": None, "value": None}  # the last point evaluated
    accepted = {"x": x0, "n": 0}  # the last accepted iterate
    t0 = time.perf_counter()

    def fun(x):
        unpack_into(x, arrays)
        value, grads = batch_loss_grad(
            arch, loss, state.params, data, hyper.alpha, hyper.bptt_steps
        )
        g = pack([grads[k] for k in names]).astype(np.float64)
        if not (np.isfinite(value) and np.all(np.isfinite(g))):
            # an infinite value makes the line search step back
            value, g = np.inf, np.zeros_like(g)
        last["x"], last["value"] = x.copy(), value
        return value, g

    def callback(xk):
        # the one-argument form works on every scipy version (>= 1.11 also
        # offers intermediate_result); the accepted point is the last evaluated
        same = last["x"] is not None and np.array_equal(xk, last["x"])
        value = float(last["value"] if same else fun(xk)[0])
        accepted["x"], accepted["n"] = np.array(xk, copy=True), accepted["n"] + 1
        state.loss_curve.append(value)
        if hyper.verbose:
            print(
                f"Iteration {state.n_iter + accepted['n']}, loss = {value:.8f}, "
                f"{time.perf_counter() - t0:.2f}s"
            )

    try:
        result = scipy.optimize.minimize(
            fun,
            x0,
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={
                "maxfun": hyper.max_fun,
                "maxiter": hyper.max_iter,
                "gtol": hyper.tol,
                # scipy's default relative-decrease stop (2.2e-9) would override a
                # smaller tol; scale it with tol (unchanged at the default 1e-4)
                "ftol": min(2.220446049250313e-09, 1e-5 * hyper.tol),
            },
        )
    except KeyboardInterrupt:
        unpack_into(accepted["x"], arrays)
        state.n_iter += accepted["n"]
        state.t += len(data) * accepted["n"]
        if accepted["n"]:
            state.best_loss = min(state.loss_curve)
        raise
    if not np.isfinite(result.fun):
        epoch = state.n_iter + result.nit + 1  # the iteration that failed
        raise _diverged(epoch, state.loss_curve[first_iter:], [], model_kept=False)
    unpack_into(result.x, arrays)
    state.n_iter += result.nit
    state.t += len(data) * result.nit
    if not state.loss_curve or state.loss_curve[-1] != result.fun:
        state.loss_curve.append(float(result.fun))
    state.best_loss = min(state.loss_curve)
    if result.status == 1:
        warn_user(
            "lbfgs failed to converge after "
            f"{result.nit} iterations (max_iter={hyper.max_iter}, "
            f"max_fun={hyper.max_fun}). Increase max_iter or scale the data.",
            ConvergenceWarning,
        )
    elif result.status != 0:
        warn_user(
            f"lbfgs stopped abnormally after {result.nit} iterations "
            f"(scipy status {result.status}: {result.message}); the weights may "
            "not be at a minimum. Scale the inputs and targets "
            "(skrnn.preprocessing.SequenceScaler) or change tol.",
            ConvergenceWarning,
        )


def train(arch, loss, state, data, hyper, rng, score_fn=None, incremental=False):
    """Train ``state.params`` in place with the solver named in ``hyper``.

    BLAS runs single-threaded here, so no thread count changes a number; the
    recurrent layers raise it for their own matrix products where that is exact
    (``skrnn._parallel.gemm_threads``).
    """
    # overflow is detected (non-finite loss or gradient) and raised as a
    # DivergenceError, so NumPy's own overflow warnings would only add noise
    with (
        blas_single_thread(),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        if hyper.solver == "lbfgs":
            fit_lbfgs(arch, loss, state, data, hyper)
        else:
            fit_stochastic(arch, loss, state, data, hyper, rng, score_fn, incremental)
    return state
