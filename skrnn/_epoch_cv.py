"""``early_stopping="auto"`` or ``k``: the epoch count chosen on k folds.

On a small training set one held-out split is a few dozen samples, too few to
tell a real improvement from noise, and training for ``max_iter`` epochs
overfits. Instead the training set is cut into ``k`` contiguous folds (in their
order, as scikit-learn's ``KFold`` without shuffling, so that windows of one
series are held out as blocks of time). On each fold a model starts from the
same initial weights (and the linear skip's ridge start, solved on the other
folds), trains on the other folds and is scored on the fold after every epoch,
epoch 0 being the start itself. The count kept has the best mean score over
the folds, and the model is then trained on the whole set for exactly that
many epochs. With a linear skip, epoch 0 is its ridge regression, so a network
that does not improve on the ridge on held-out folds is not kept; with
``linear_skip="auto"`` the folds also try the network alone and keep the
better of the two starts.

Measured on the accuracy panel (``benchmarks/bench_learning.py``, 7 regression
and forecasting rows, 3 seeds): 3 and 5 folds reached the best baseline on the
same 4 rows (3 folds: Tecator 2.58, Lynx 0.163, Airline 31; 5 folds: 2.63,
0.145, 35), and 3 cost about 40% less. The "one-standard-error rule" (the
fewest epochs within a standard error of the best mean) kept the ridge alone
on every row, Tecator included, where the network does help.
"""

import copy
import dataclasses
import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from ._training import DivergenceError, TrainState, train

__all__ = [
    "AUTO_FOLDS",
    "AUTO_MAX_SAMPLES",
    "AUTO_MIN_SAMPLES",
    "CV_EARLY_STOPPING",
    "choose_by_folds",
    "choose_epochs",
    "cv_folds",
    "folds_planned",
    "fold_curves",
]

#: Folds of ``early_stopping="auto"``.
AUTO_FOLDS = 3
#: ``early_stopping="auto"`` cross-validates training sets of at least this many
#: sequences: below, a fold would hold fewer than 10, too few to score by.
AUTO_MIN_SAMPLES = 30
#: ``early_stopping="auto"`` cross-validates training sets up to this many
#: sequences; above, one fit for ``max_iter`` epochs (the plateau rule) is
#: cheaper and the data itself limits overfitting.
AUTO_MAX_SAMPLES = 1000

#: The parameter constraint: a bool (False, or True for one held-out split),
#: ``"auto"`` or a number of folds.
CV_EARLY_STOPPING = {
    "early_stopping": [
        "boolean",
        StrOptions({"auto"}),
        Interval(Integral, 2, None, closed="left"),
    ]
}


def _n_folds(early_stopping, n_samples):
    """Folds ``early_stopping`` asks for on ``n_samples`` samples (0: none)."""
    if isinstance(early_stopping, bool | np.bool_):
        return 0
    if early_stopping == "auto":
        in_range = AUTO_MIN_SAMPLES <= n_samples <= AUTO_MAX_SAMPLES
        return AUTO_FOLDS if in_range else 0
    return int(early_stopping)


def folds_planned(estimator, n_samples):
    """Whether a new fit of ``n_samples`` sequences chooses its epochs on folds
    (L-BFGS has no epochs; before the weights are known, so an all-zero fold
    still falls back to one fit)."""
    if estimator.solver == "lbfgs":
        return False
    return _n_folds(estimator.early_stopping, n_samples) > 0


def cv_folds(early_stopping, n_samples, row_weights):
    """``(train, validation)`` index pairs, or ``[]`` when not cross-validating.

    ``"auto"`` gives :data:`AUTO_FOLDS` folds for :data:`AUTO_MIN_SAMPLES` to
    :data:`AUTO_MAX_SAMPLES` samples and none otherwise (nor when a fold would
    hold only samples of weight zero); an explicit count that cannot be
    honoured raises a ``ValueError``.
    """
    k = _n_folds(early_stopping, n_samples)
    if not k:
        return []
    auto = early_stopping == "auto"
    if n_samples < 2 * k:
        raise ValueError(
            f"early_stopping={k} cross-validates on {k} folds of at least 2 "
            f"samples each, but there are {n_samples} samples. Use fewer folds, "
            "early_stopping=False, or more data."
        )
    bounds = np.linspace(0, n_samples, k + 1).astype(int)
    every = np.arange(n_samples)
    folds = [
        (np.r_[every[:a], every[b:]], every[a:b])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    weights = np.asarray(row_weights).reshape(n_samples, -1).sum(axis=1)
    if any(weights[val].sum() <= 0 for _, val in folds):
        if auto:
            return []
        raise ValueError(
            f"a fold of early_stopping={k} holds only samples of weight zero, so "
            "it cannot be scored. Use fewer folds, give more samples a positive "
            "weight, or set early_stopping=False."
        )
    return folds


def choose_by_folds(estimator, data, hyper, folds):
    """``(epoch count, mean fold score per epoch)`` of the best start.

    The estimator's ``state_dict_`` holds the initial weights. With
    ``linear_skip="auto"``, the folds also try the network alone (the skip at
    zero, the head as drawn, at least one epoch); if it scores better the skip
    is dropped
    (``linear_skip_ = 0``). On a tie the skip stays; an explicit
    ``linear_skip`` always does.
    """
    start, rng = estimator.state_dict_, estimator._random_state
    best = None
    has_skip = bool(getattr(estimator, "linear_skip_", 0))
    both = has_skip and estimator.linear_skip == "auto"
    for skip in (True, False) if both else (has_skip,):
        curves = fold_curves(estimator, data, hyper, folds, start, rng, skip)
        n_epochs, mean = choose_epochs(curves, first=0 if skip else 1)
        if best is None or mean[n_epochs] > best[1][best[0]]:
            best = (n_epochs, mean, skip)
    n_epochs, mean, skip = best
    if has_skip and not skip:
        estimator.linear_skip_ = 0
        del estimator.state_dict_["skip.weight"]
    return n_epochs, [float(v) for v in mean]


def fold_curves(estimator, data, hyper, folds, start, rng, skip):
    """Scores after each epoch (epoch 0: ``start``), one row per fold.

    With ``skip`` each fold starts from the linear skip's ridge solved on its
    training part; without, from ``start`` as it is (a skip at zero adds
    nothing and, being fixed, stays there).

    Each fold trains a copy of ``start`` on the other folds with the held-out
    plateau rule of ``early_stopping=True``, drawing from a copy of ``rng`` (which
    is left for the final fit); a fold that stopped early keeps its last score
    for the later epochs.
    """
    arch, loss = estimator._arch(), estimator._loss()
    fold_hyper = dataclasses.replace(hyper, early_stopping=True)
    curves = np.empty((len(folds), hyper.max_iter + 1))
    for row, (tr, va) in zip(curves, folds, strict=True):
        train_part, val = data.take(tr), data.take(va)
        params = copy.deepcopy(start)
        if skip:
            estimator._start_skip(train_part, params)
        score = estimator._make_score_fn(val)
        state = TrainState(params)
        state.best_validation_score = row[0] = score(params)
        state.best_params = copy.deepcopy(params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fold_rng = copy.deepcopy(rng)  # every fold shuffles as the final fit
            try:
                train(arch, loss, state, train_part, fold_hyper, fold_rng, score)
            except DivergenceError as exc:
                raise _in_fold(exc) from exc
        scores = state.validation_scores
        row[1 : len(scores) + 1] = scores
        row[len(scores) + 1 :] = scores[-1] if scores else row[0]
    return curves


def _in_fold(exc):
    """The divergence of a fold: the estimator is left as it was before fit."""
    message = (
        f"{exc.args[0]} (This happened while early_stopping cross-validated the "
        "number of epochs; early_stopping=False trains once on all the data.)"
    )
    return DivergenceError(
        message, exc.epoch, exc.loss_curve, exc.grad_norm_curve, False
    )


def choose_epochs(curves, first=0):
    """``(epoch count, mean score per epoch)``: the count of best mean fold score.

    ``curves`` is ``(n_folds, n_epochs + 1)`` of higher-is-better scores; on a
    tie the fewer epochs win. Counts below ``first`` are not candidates: epoch
    0 is a model only when it is the linear skip's ridge; without one it is
    the random initial network, which no fit should return untrained.
    """
    mean = curves.mean(axis=0)
    return first + int(np.argmax(mean[first:])), mean
