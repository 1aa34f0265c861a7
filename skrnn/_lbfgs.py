"""Full-batch L-BFGS (scipy) on every weight packed into one float64 vector."""

import time

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from . import _bptt
from ._divergence import divergence_error
from ._packing import pack, unpack_into
from ._warnings import warn_user

__all__ = ["fit_lbfgs"]


class _Objective:
    """scipy's ``fun`` and ``callback`` over ``state.params``, with what they saw.

    ``last_x`` and ``last_value`` are the last point evaluated; ``accepted`` and
    ``n_accepted`` the last accepted iterate and how many there were.
    """

    def __init__(self, arch, loss, state, data, hyper):
        self.arch, self.loss, self.state, self.data = arch, loss, state, data
        self.hyper = hyper
        self.names = list(state.params)
        self.arrays = [state.params[k] for k in self.names]
        self.x0 = pack(self.arrays).astype(np.float64)
        self.last_x, self.last_value = None, None
        self.accepted, self.n_accepted = self.x0, 0
        self.t0 = time.perf_counter()

    def fun(self, x):
        unpack_into(x, self.arrays)
        # through the module, so that one seam (skrnn._bptt) sees every call
        value, grads = _bptt.batch_loss_grad(
            self.arch,
            self.loss,
            self.state.params,
            self.data,
            self.hyper.alpha,
            self.hyper.bptt_steps,
        )
        g = pack([grads[k] for k in self.names]).astype(np.float64)
        if not (np.isfinite(value) and np.all(np.isfinite(g))):
            # an infinite value makes the line search step back
            value, g = np.inf, np.zeros_like(g)
        self.last_x, self.last_value = x.copy(), value
        return value, g

    def callback(self, xk):
        # the one-argument form works on every scipy version (>= 1.11 also
        # offers intermediate_result); the accepted point is the last evaluated
        same = self.last_x is not None and np.array_equal(xk, self.last_x)
        value = float(self.last_value if same else self.fun(xk)[0])
        self.accepted, self.n_accepted = np.array(xk, copy=True), self.n_accepted + 1
        self.state.loss_curve.append(value)
        if self.hyper.verbose:
            print(
                f"Iteration {self.state.n_iter + self.n_accepted}, loss = "
                f"{value:.8f}, {time.perf_counter() - self.t0:.2f}s"
            )


def _minimize(objective, hyper):
    return scipy.optimize.minimize(
        objective.fun,
        objective.x0,
        method="L-BFGS-B",
        jac=True,
        callback=objective.callback,
        options={
            "maxfun": hyper.max_fun,
            "maxiter": hyper.max_iter,
            "gtol": hyper.tol,
            # scipy's default relative-decrease stop (2.2e-9) would override a
            # smaller tol; scale it with tol (unchanged at the default 1e-4)
            "ftol": min(2.220446049250313e-09, 1e-5 * hyper.tol),
        },
    )


def _warn_if_not_converged(result, hyper):
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


def fit_lbfgs(arch, loss, state, data, hyper):
    """Full-batch L-BFGS on the packed parameter vector (scipy, float64).

    An interrupt (``KeyboardInterrupt``) keeps the last accepted iterate, with
    the iterations and losses that led to it.
    """
    objective = _Objective(arch, loss, state, data, hyper)
    first_iter = len(state.loss_curve)
    try:
        result = _minimize(objective, hyper)
    except KeyboardInterrupt:
        unpack_into(objective.accepted, objective.arrays)
        state.n_iter += objective.n_accepted
        state.t += len(data) * objective.n_accepted
        if objective.n_accepted:
            state.best_loss = min(state.loss_curve)
        raise
    if not np.isfinite(result.fun):
        epoch = state.n_iter + result.nit + 1  # the iteration that failed
        raise divergence_error(
            epoch, state.loss_curve[first_iter:], [], model_kept=False
        )
    unpack_into(result.x, objective.arrays)
    state.n_iter += result.nit
    state.t += len(data) * result.nit
    if not state.loss_curve or state.loss_curve[-1] != result.fun:
        state.loss_curve.append(float(result.fun))
    state.best_loss = min(state.loss_curve)
    _warn_if_not_converged(result, hyper)
