"""Training: its hyperparameters and state, and the entry point to the solvers.

The estimators reach the training layer through this module: :func:`train`,
:class:`Hyper`, :class:`TrainState`, and the training set and divergence error
of the modules below (``_bptt``, ``_divergence``).
"""

from dataclasses import dataclass, field

import numpy as np

from ._bptt import TrainData
from ._divergence import DivergenceError
from ._lbfgs import fit_lbfgs
from ._minibatch import fit_stochastic
from ._parallel import blas_single_thread

__all__ = [
    "DivergenceError",
    "Hyper",
    "TrainData",
    "TrainState",
    "train",
]


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
    #: exactly ``max_iter`` epochs, chosen beforehand (``skrnn._epoch_cv``): no
    #: plateau stop and no ConvergenceWarning
    fixed_epochs: bool = False

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
