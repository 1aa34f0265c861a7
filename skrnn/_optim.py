"""Stochastic optimizers (SGD, Adam) and their learning-rate schedules."""

import math

import numpy as np

__all__ = ["OPTIMIZERS", "AdamOptimizer", "SGDOptimizer", "make_optimizer"]

# The optimizers run on every batch and trust their inputs: lists of float32 /
# float64 ndarrays (parameters writeable, gradients shaped like them, in the
# order the optimizer was built with) and hyperparameters in range. The
# estimators validate every hyperparameter once, at fit, before any work
# (``_parameter_constraints``); a model file's optimizer settings are checked by
# its reader (``skrnn._persistence_training``).


def _scratch_like(params):
    """One flat buffer per dtype, sized for the largest param, viewed per param.

    Updates visit params one after another, so they can share scratch space.
    """
    sizes = {}
    for p in params:
        sizes[p.dtype] = max(sizes.get(p.dtype, 0), p.size)
    flat = {dtype: np.empty(size, dtype=dtype) for dtype, size in sizes.items()}
    return [flat[p.dtype][: p.size].reshape(p.shape) for p in params]


class _BaseOptimizer:
    """Shared plumbing: learning rate and the stopping rule.

    The optimizers trust their arguments (see the module's contract): ``params``
    is a list of writeable float32 / float64 ndarrays, every ``update_params``
    call passes the same arrays in the same order with gradients of the same
    shapes, and the hyperparameters lie in the documented ranges.
    """

    def __init__(self, params, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an iteration (no-op here).

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    #: Schedule of the learning rate ("adaptive" lowers it on plateaus).
    lr_schedule = "constant"
    #: Attribute that the ``"adaptive"`` schedule divides by 5 on a plateau.
    _adaptive_rate = "learning_rate"

    def _adaptive_exhausted(self, rate):
        """Whether the adaptive rate is too small to lower again (SGD: 1e-6)."""
        return rate <= 1e-6

    def trigger_stopping(self, msg, verbose):
        """Stop, or with ``"adaptive"`` divide the learning rate by 5 and go on.

        Parameters
        ----------
        msg : str
            Reason reported by the training loop, printed if ``verbose``.
        verbose : bool
            Whether to print ``msg`` and the decision.

        Returns
        -------
        is_stopping : bool
            False if the adaptive rate was just lowered, True otherwise.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        rate = getattr(self, self._adaptive_rate)
        if self._adaptive_exhausted(rate):
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        setattr(self, self._adaptive_rate, rate / 5.0)
        if verbose:
            print(msg + f" Setting learning rate to {rate / 5.0:f}")
        return False


def _lr_constant(opt, time_step):
    return opt.learning_rate


def _lr_invscaling(opt, time_step):
    return float(opt.learning_rate_init) / (time_step + 1) ** opt.power_t


# Learning-rate schedule applied by SGDOptimizer.iteration_ends; "adaptive" only
# changes the rate in trigger_stopping.
LR_SCHEDULES = {
    "constant": _lr_constant,
    "invscaling": _lr_invscaling,
    "adaptive": _lr_constant,
}


class SGDOptimizer(_BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum, as in scikit-learn.

    With velocity ``v`` (initially zero), one step is
    ``v <- momentum * v - learning_rate * grad`` and then
    ``param += v`` or, with ``nesterov=True``,
    ``param += momentum * v - learning_rate * grad``.

    Parameters
    ----------
    params : list of ndarray
        Floating-point parameters (float32 or float64). They are updated in
        place, so whoever holds them sees every step; velocities take their
        shapes and dtypes.
    learning_rate_init : float, default=0.1
        Initial step size, > 0.
    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        ``"invscaling"`` sets ``learning_rate_init / (time_step + 1) ** power_t``
        in :meth:`iteration_ends`; ``"adaptive"`` divides the rate by 5 each time
        :meth:`trigger_stopping` is called, until it is at most 1e-6.
    momentum : float, default=0.9
        Momentum in [0, 1]; 0 gives plain SGD.
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule, >= 0.

    Attributes
    ----------
    learning_rate : float
        Current step size.
    velocities : list of ndarray
        One velocity per parameter, same shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -1.0])
    >>> opt = SGDOptimizer([w], learning_rate_init=0.5, momentum=0.0)
    >>> opt.update_params([w], [np.array([1.0, 2.0])])
    >>> w
    array([ 0.5, -2. ])
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(params, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.power_t = power_t
        self.velocities = [np.zeros_like(p) for p in params]
        self._scaled_grads = _scratch_like(params)
        self._steps = _scratch_like(params) if self.nesterov else None

    def update_params(self, params, grads):
        """Take one step, writing into ``params`` in place.

        Parameters
        ----------
        params : list of ndarray
            The parameters given at construction (same shapes and order).
        grads : list of ndarray
            Gradient of the loss for each parameter, same shapes.
        """
        lr, mu = self.learning_rate, self.momentum
        for i, (p, g, v) in enumerate(zip(params, grads, self.velocities, strict=True)):
            scaled = np.multiply(g, lr, out=self._scaled_grads[i])
            v *= mu
            v -= scaled
            if self.nesterov:
                step = np.multiply(v, mu, out=self._steps[i])
                step -= scaled
                p += step
            else:
                p += v

    def iteration_ends(self, time_step):
        """Apply the learning-rate schedule at the end of an iteration.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (used by ``"invscaling"``).
        """
        self.learning_rate = LR_SCHEDULES[self.lr_schedule](self, time_step)


class AdamOptimizer(_BaseOptimizer):
    """Adam (Kingma and Ba, 2014), with the bias correction of scikit-learn.

    At step ``t``: ``m <- beta_1 * m + (1 - beta_1) * grad``,
    ``v <- beta_2 * v + (1 - beta_2) * grad ** 2``,
    ``learning_rate <- learning_rate_init * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)``
    and ``param -= learning_rate * m / (sqrt(v) + epsilon)``.

    Parameters
    ----------
    params : list of ndarray
        Floating-point parameters (float32 or float64), updated in place; the
        moment buffers take their shapes and dtypes.
    learning_rate_init : float, default=0.001
        Step size, > 0.
    beta_1 : float, default=0.9
        Decay of the first-moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        Added to ``sqrt(v)`` for numerical stability, > 0.
    lr_schedule : {"constant", "adaptive"}, default="constant"
        ``"adaptive"`` divides the step size by 5 each time the training loop
        reports a plateau (:meth:`trigger_stopping`), and stops once it would
        fall below ``learning_rate_init / 100`` (after two cuts); PyTorch's
        ``ReduceLROnPlateau`` in spirit, scikit-learn's ``"adaptive"`` in rule.

    Attributes
    ----------
    t : int
        Number of steps taken.
    base_rate : float
        The step size before bias correction: ``learning_rate_init``, lowered
        by the ``"adaptive"`` schedule.
    learning_rate : float
        Bias-corrected step size of the last step (``learning_rate_init``
        before the first one).
    ms, vs : list of ndarray
        First and second moment estimates, one per parameter.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 1.0])
    >>> opt = AdamOptimizer([w], learning_rate_init=0.1)
    >>> opt.update_params([w], [np.array([2.0, -3.0])])
    >>> np.round(w, 6), opt.t
    (array([0.9, 1.1]), 1)
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        lr_schedule="constant",
    ):
        super().__init__(params, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.base_rate = float(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]
        self._work = _scratch_like(params)
        self._steps = _scratch_like(params)

    _adaptive_rate = "base_rate"

    def _adaptive_exhausted(self, rate):
        """Two cuts at most: a third would fall below ``learning_rate_init / 100``."""
        return rate / 5.0 < self.learning_rate_init / 100.0

    def update_params(self, params, grads):
        """Take one step, writing into ``params`` in place.

        Parameters
        ----------
        params : list of ndarray
            The parameters given at construction (same shapes and order).
        grads : list of ndarray
            Gradient of the loss for each parameter, same shapes.
        """
        b1, b2 = self.beta_1, self.beta_2
        self.t += 1
        self.learning_rate = (
            self.base_rate * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        )
        for i, (p, g, m, v) in enumerate(
            zip(params, grads, self.ms, self.vs, strict=True)
        ):
            work, step = self._work[i], self._steps[i]
            m *= b1
            m += np.multiply(g, 1.0 - b1, out=work)
            np.multiply(g, g, out=work)
            work *= 1.0 - b2
            v *= b2
            v += work
            np.sqrt(v, out=work)
            work += self.epsilon
            np.multiply(m, self.learning_rate, out=step)
            step /= work
            p -= step


# Optimizer classes keyed by the estimators' ``solver`` strings.
OPTIMIZERS = {"sgd": SGDOptimizer, "adam": AdamOptimizer}


def make_optimizer(solver, params, **hyper):
    """Build the optimizer registered under ``solver`` for ``params``.

    Parameters
    ----------
    solver : {"sgd", "adam"}
        Key of :data:`OPTIMIZERS`.
    params : list of ndarray
        Parameters the optimizer will update in place.
    **hyper
        Hyperparameters of that optimizer class (e.g. ``learning_rate_init``).

    Returns
    -------
    optimizer : SGDOptimizer or AdamOptimizer

    Examples
    --------
    >>> import numpy as np
    >>> opt = make_optimizer("adam", [np.zeros(3)], learning_rate_init=0.01)
    >>> type(opt).__name__, opt.learning_rate
    ('AdamOptimizer', 0.01)
    """
    return OPTIMIZERS[solver](params, **hyper)
