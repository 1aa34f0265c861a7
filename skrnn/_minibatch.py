"""Minibatch training (Adam, SGD): epochs, clipping, early stopping, roll-back."""

import copy
import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _bptt
from ._clipping import clip_grad_norm, clip_grad_value, global_norm
from ._divergence import DivergenceGuard, divergence_error
from ._optim import make_optimizer
from ._warnings import warn_user

__all__ = ["AUTO_BATCH", "fit_stochastic"]

#: Largest minibatch of ``batch_size="auto"``.
AUTO_BATCH = 32


def _batch_size(hyper, n_samples):
    """Rows per minibatch; ``"auto"`` splits the data into equal batches of at
    most :data:`AUTO_BATCH` rows (36 samples: two of 18, not 32 and 4)."""
    if hyper.batch_size == "auto":
        n_batches = -(-n_samples // AUTO_BATCH)
        return -(-n_samples // n_batches)
    return min(int(hyper.batch_size), n_samples)


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
        # through the module, so that one seam (skrnn._bptt) sees every call
        value, grads = _bptt.batch_loss_grad(
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


def _epoch(arch, loss, state, data, hyper, rng, guard, first_epoch):
    """Run one epoch and record it; on divergence or interrupt, roll back."""
    # the last finite weights, kept if this epoch diverges (cheap next to it)
    last_good, last_optimizer = _copy(state.params), copy.deepcopy(state.optimizer)
    try:
        result = _run_epoch(arch, loss, state, data, hyper, rng, guard)
    except KeyboardInterrupt:  # keep the last completed epoch's model
        _roll_back(state, hyper, last_good, last_optimizer)
        raise
    if result is None:
        _roll_back(state, hyper, last_good, last_optimizer)
        raise divergence_error(
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
    return epoch_loss, norm


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


def _report(state, hyper, epoch_loss, norm, t0):
    """The ``verbose`` line of an epoch."""
    val = (
        f", validation score = {state.validation_scores[-1]:.6f}"
        if hyper.early_stopping
        else ""
    )
    print(
        f"Iteration {state.n_iter}, loss = {epoch_loss:.8f}{val}, "
        f"grad norm = {norm:.4g}, {time.perf_counter() - t0:.2f}s"
    )


def _stops(state, hyper):
    """Whether a plateau stops training (``"adaptive"`` lowers the rate first)."""
    if hyper.fixed_epochs or state.no_improvement_count <= hyper.n_iter_no_change:
        return False
    what = "Validation score" if hyper.early_stopping else "Training loss"
    msg = (
        f"{what} did not improve more than tol={hyper.tol} for "
        f"{hyper.n_iter_no_change} consecutive epochs."
    )
    if state.optimizer.trigger_stopping(msg, hyper.verbose):
        return True
    state.no_improvement_count = 0
    return False


def fit_stochastic(
    arch, loss, state, data, hyper, rng, score_fn=None, incremental=False
):
    """Minibatch training (Adam or SGD) for up to ``max_iter`` epochs."""
    if state.optimizer is None:
        params = list(state.params.values())
        state.optimizer = make_optimizer(hyper.solver, params, **hyper.optimizer_args())
    n_epochs = 1 if incremental else hyper.max_iter
    first_epoch = len(state.loss_curve)
    guard = DivergenceGuard(state if incremental else None)
    stopped = False
    for _ in range(n_epochs):
        t0 = time.perf_counter()
        epoch_loss, norm = _epoch(
            arch, loss, state, data, hyper, rng, guard, first_epoch
        )
        _update_no_improvement(state, hyper, score_fn)
        if hyper.verbose:
            _report(state, hyper, epoch_loss, norm, t0)
        if incremental:
            break
        if _stops(state, hyper):
            stopped = True
            break
    if not (incremental or stopped or hyper.fixed_epochs):
        warn_user(
            f"Stochastic Optimizer: Maximum iterations ({hyper.max_iter}) reached "
            "and the optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    if hyper.early_stopping and state.best_params is not None:
        _restore(state.params, state.best_params)
