"""Shared estimator plumbing: parameters, validation, fit / partial_fit, predict."""

import copy
import dataclasses
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._data import (
    to_padded_targets,
    to_patches,
    validate_sequence_data,
)
from ._epoch_cv import choose_by_folds, cv_folds, folds_planned
from ._fitted import FittedNetwork
from ._inference_params import check_inference_params, inference_params
from ._level import LocalLevelMixin
from ._network import Architecture
from ._pooling import POOLINGS
from ._settings import SettingsMixin
from ._stacks import CELL_NAMES
from ._state_dict import StateDictMixin
from ._streaming import SequenceStream
from ._training import DivergenceError, Hyper, TrainData, TrainState, train

__all__ = ["SEQUENCE_OUTPUT_CONSTRAINTS", "BaseRNN"]

#: Most weights a network may have (800 MB in float64; training holds about four
#: copies: weights, gradients and Adam's two moments).
MAX_PARAMETERS = 100_000_000

# Seq2SeqTransformer has no ``pooling``, ``patch_size`` nor ``return_sequences``
# parameter: its encoder reads the last state, step by step. The shared code
# below reads those parameters with these fallbacks.


def _stochastic_solver(estimator):
    """``partial_fit`` exists for the minibatch solvers only (as in sklearn's MLP)."""
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic solvers; got "
            "solver='lbfgs'. Use solver='adam' or 'sgd'."
        )
    return True


def _check_y_present(estimator, y):
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )


#: Parameters of the estimators with a many-to-one or per-step head (the
#: regressor and the classifier; the encoder-decoder has neither).
SEQUENCE_OUTPUT_CONSTRAINTS = {
    "return_sequences": ["boolean"],
    "pooling": [StrOptions(set(POOLINGS))],
    "patch_size": [
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
    ],
}


def _start_early_stopping(state, score_fn, skip):
    """No best weights yet; with a linear skip, its ridge start is the first
    candidate (the network is kept only if it improves the held-out score)."""
    state.best_validation_score, state.best_params = -np.inf, None
    if skip:
        state.best_validation_score = score_fn(state.params)
        state.best_params = {k: v.copy() for k, v in state.params.items()}


def _check_weight_sum(sw):
    if sw.sum() <= 0:
        raise ValueError(
            "sample_weight sums to zero: at least one sample needs a positive weight."
        )


class BaseRNN(SettingsMixin, LocalLevelMixin, StateDictMixin, BaseEstimator):
    """Base class of the recurrent estimators (not for direct use).

    Subclasses define the loss (``_loss``), the target encoding
    (``_encode_targets(y, X3, lengths, dtype, reset, classes, sample_weight) ->
    (Y, step_weights, row_weights, out_lengths)``), the early-stopping score
    (``_make_score_fn``) and the output decoding; everything else (validation,
    training, weights I/O, chunked prediction) lives here.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(CELL_NAMES)],  # read at validation: later cells too
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "bidirectional": ["boolean", StrOptions({"auto"})],
        "nonlinearity": [StrOptions({"tanh", "relu"})],
        "n_states": [Interval(Integral, 1, None, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
        "clip_value": [None, Interval(Real, 0, None, closed="neither")],
        "bptt_steps": [None, Interval(Integral, 1, None, closed="left")],
    }

    def _store_params(self, params):
        """Store the constructor's arguments unchanged (scikit-learn's contract)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _patched(self, X3, lengths):
        """The batch as the network reads it (patches of ``patch_size_`` steps)."""
        return to_patches(X3, lengths, getattr(self, "patch_size_", 1))

    def _architecture(self, n_inputs, n_outputs, return_sequences):
        return Architecture(
            cell=self.cell,
            hidden_sizes=self.hidden_layer_sizes_,
            n_inputs=n_inputs,
            n_outputs=n_outputs,
            bidirectional=self.bidirectional_,
            nonlinearity=self.nonlinearity,
            return_sequences=return_sequences,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            n_states=self.n_states,
            pooling=getattr(self, "pooling", "last"),
            input_dropout=self.input_dropout,
            skip_steps=self._skip_steps(),
        )

    def _hyper(self, incremental=False):
        names = Hyper.__dataclass_fields__
        values = {name: getattr(self, name) for name in names if hasattr(self, name)}
        # True holds out one split; "auto" or a fold count is _epoch_folds's
        es = self.early_stopping
        values["early_stopping"] = isinstance(es, bool | np.bool_) and bool(es)
        if incremental or self.solver == "lbfgs":
            values["early_stopping"] = False  # as MLP: no held-out split
        return Hyper(**values)

    def _epoch_folds(self, data, reset, incremental):
        """The folds that choose the epoch count (``[]``: one plain fit).

        Only a new model trained by epochs is cross-validated: a warm start or
        ``partial_fit`` continues the fitted one, and L-BFGS has no epochs.
        """
        if incremental or not reset or not folds_planned(self, len(data)):
            return []
        return cv_folds(self.early_stopping, len(data), data.row_weights())

    # --------------------------------------------------------------- training
    def _validate_X(self, X, reset):
        return validate_sequence_data(self, X, reset=reset)

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        # A call that raises leaves the estimator exactly as it was (every
        # attribute restored), except a divergence or an interrupt after an
        # epoch of this call completed: those keep that epoch's model, and
        # _fit_unsafe's finally has made every attribute describe it.
        params = self.get_params(deep=False)
        before = copy.deepcopy({k: v for k, v in vars(self).items() if k not in params})
        state0 = getattr(self, "_train_state", None)
        n0 = state0.n_iter if state0 is not None else 0
        try:
            return self._fit_unsafe(X, y, sample_weight, incremental, classes)
        except DivergenceError as exc:
            if exc.model_kept:
                kept = (
                    " The estimator keeps the weights with the best validation "
                    "score so far; fit did not succeed."
                    if self.validation_scores_ is not None
                    else f" The estimator keeps the weights of epoch {self.n_iter_}, "
                    "the last that completed; fit did not succeed."
                )
            else:
                self._restore_vars(before, params)
                kept = (
                    " The estimator keeps the model it had before this call."
                    if "state_dict_" in before
                    else " The estimator was left unfitted."
                )
            exc.args = (exc.args[0] + kept,)
            raise
        except KeyboardInterrupt:
            state = getattr(self, "_train_state", None)
            done = state is not None and state.n_iter > (n0 if state is state0 else 0)
            if not (done and hasattr(self, "n_iter_")):
                self._restore_vars(before, params)
            raise
        except BaseException:
            self._restore_vars(before, params)
            raise

    def _restore_vars(self, before, params):
        """Put back every non-parameter attribute saved in ``before``."""
        for k in [k for k in vars(self) if k not in params]:
            delattr(self, k)
        vars(self).update(before)

    def _check_warm_start(self, incremental):
        """Whether the fitted weights fit the current parameters' network."""
        auto = isinstance(self.hidden_layer_sizes, str)  # "auto": as fitted
        same_sizes = auto or self._hidden_sizes() == tuple(self.hidden_layer_sizes_)
        shapes = self._arch().param_shapes()  # cell, n_states
        old = self.state_dict_
        if (
            same_sizes
            and self._bidirectional() == self.bidirectional_
            and self._same_skip()
            and list(shapes) == list(old)
            and all(old[k].shape == shape for k, shape in shapes.items())
        ):
            return True
        if incremental:
            raise ValueError(
                "partial_fit cannot continue: the network parameters (cell, "
                "hidden_layer_sizes, bidirectional, n_states, ...) changed since "
                "the model was fitted, so its weights no longer fit. Restore them, "
                "or call fit to train the new network from scratch."
            )
        return False  # warm_start=True with a new architecture: start afresh

    def _check_size(self):
        """Refuse a network whose weights alone would not fit in memory."""
        shapes = self._arch().param_shapes()
        n = sum(int(np.prod(s, dtype=np.float64)) for s in shapes.values())
        if n > MAX_PARAMETERS:
            raise ValueError(
                f"this network would have {n:.3g} parameters ({8 * n / 2**30:.3g} "
                f"GiB in float64, several times that to train); the limit is "
                f"{MAX_PARAMETERS:.0e}. Choose smaller hidden_layer_sizes."
            )

    def _fit_unsafe(self, X, y, sample_weight, incremental, classes):
        if incremental:
            # scikit-learn's _fit_context skips this for partial_fit on a fitted
            # estimator; the training core trusts every setting, so check here
            self._validate_params()
        self._hidden_sizes()
        self._check_combination()
        first = not hasattr(self, "state_dict_")
        reset = first or not (self.warm_start or incremental)
        if not reset and not self._check_warm_start(incremental):
            reset = True
        X3, lengths, _ = self._validate_X(X, reset=reset)
        sw, per_step = self._sample_weight(sample_weight, X3, lengths)
        _check_weight_sum(sw)
        Y, step_w, row_w, out_lengths = self._encode_targets(
            y,
            X3,
            lengths,
            X3.dtype,
            reset,
            classes,
            sw if per_step is None else per_step,
        )
        if per_step is not None:
            step_w = step_w * per_step
        if row_w is not None:
            sw = sw * row_w
            _check_weight_sum(sw)
        if reset:
            self._start_network(lengths, X3.dtype)
        elif not incremental:
            self._train_state.optimizer = None  # warm start: fresh optimizer
        self._inference_params = inference_params(self)
        X3, _ = self._leveled_input(X3, lengths)
        data = TrainData(*self._patched(X3, lengths), Y, sw, step_w, out_lengths)
        hyper = self._hyper(incremental)
        score_fn = None
        if hyper.early_stopping and not incremental:
            data, val = self._split_validation(data)
            score_fn = self._make_score_fn(val)
        self.state_dict_ = self._as_dtype(X3.dtype)
        state, hyper = self._start_training(data, hyper, reset, incremental, score_fn)
        try:
            train(
                self._arch(),
                self._loss(),
                state,
                data,
                hyper,
                self._random_state,
                score_fn,
                incremental,
            )
        finally:  # also after a divergence that keeps the last completed epoch
            self._sync_attributes(state, hyper)
        return self

    def _start_training(self, data, hyper, reset, incremental, score_fn):
        """``(state, hyper)`` to train from: the epoch count chosen on folds
        (which may drop the linear skip), the skip's ridge start, the held-out
        rule's first candidate."""
        folds = self._epoch_folds(data, reset, incremental)
        if folds:
            n_epochs, scores = choose_by_folds(self, data, hyper, folds)
            hyper = dataclasses.replace(hyper, max_iter=n_epochs, fixed_epochs=True)
        skip = reset and getattr(self, "linear_skip_", 0)
        if skip:
            self._start_skip(data)  # the ridge part, on the training split
        state = self._train_state
        state.params = self.state_dict_
        if folds:
            state.validation_scores = scores
        if score_fn is not None:
            _start_early_stopping(state, score_fn, skip)
        state.no_improvement_count = 0
        return state, hyper

    def _start_network(self, lengths, dtype):
        """Resolve the fitted settings for training sequences of ``lengths``
        and draw a new network's weights."""
        longest = int(lengths.max())
        same = lengths.min() == longest
        self._fit_n_timesteps = longest if same else None
        self._random_state = check_random_state(self.random_state)
        self.bidirectional_ = self._bidirectional()
        self.patch_size_ = self._patch_size(longest)
        if hasattr(self, "linear_skip"):
            self.linear_skip_ = self._linear_skip(longest, len(lengths))
        self.hidden_layer_sizes_ = self._hidden_sizes(-(-longest // self.patch_size_))
        self._check_size()
        self._warn_short_receptive_field(longest)
        self.state_dict_ = self._arch().init_params(self._random_state, dtype)
        self._train_state = TrainState(self.state_dict_)

    def _sample_weight(self, sample_weight, X3, lengths):
        """``(row weights, per-step weights or None)`` from ``sample_weight``.

        With ``return_sequences=True`` a weight per step is accepted, as an
        array ``(n_samples, n_timesteps)`` or a list of 1-D arrays matching the
        input lengths (Keras' ``sample_weight`` for sequence outputs).
        """
        per_step = getattr(self, "return_sequences", False) and (
            (isinstance(sample_weight, list) and np.ndim(sample_weight[0]) == 1)
            or (not isinstance(sample_weight, list) and np.ndim(sample_weight) == 2)
        )
        if not per_step:
            sw = _check_sample_weight(sample_weight, X3, dtype=X3.dtype)
            if (sw < 0).any():
                raise ValueError(
                    "sample_weight has negative values; every weight must be >= 0."
                )
            return sw, None
        W, mask = to_padded_targets(sample_weight, lengths, name="sample_weight")
        W = W[:, :, 0].astype(X3.dtype)
        if W[mask].min() < 0 or not np.isfinite(W[mask]).all():
            raise ValueError(
                "sample_weight must be finite and non-negative on every valid step."
            )
        if W[mask].sum() <= 0:
            raise ValueError(
                "sample_weight is zero on every valid step: at least one step "
                "needs a positive weight."
            )
        return np.ones(len(X3), X3.dtype), np.where(mask, W, 0).astype(X3.dtype)

    def _as_dtype(self, dtype):
        """Parameters in the computation dtype (float32 data trains float32)."""
        params = self.state_dict_
        if next(iter(params.values())).dtype == dtype:
            return params
        self._train_state.optimizer = None
        return {k: v.astype(dtype) for k, v in params.items()}

    def _split_validation(self, data):
        rng = self._random_state
        n = len(data)
        # at least 2 held out: the R² of one sequence is undefined
        n_val = max(2, int(round(self.validation_fraction * n)))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping=True holds out at least 2 samples and trains on "
                f"the rest, so it needs at least 3; got {n}. Set "
                "early_stopping=False or pass more data."
            )
        order = rng.permutation(n)
        val = data.take(np.sort(order[:n_val]))
        if val.row_weights().sum() <= 0:
            raise ValueError(
                "the early-stopping validation split holds only samples of weight "
                "zero, so it cannot be scored. Raise validation_fraction, give "
                "more samples a positive weight, or set early_stopping=False."
            )
        return data.take(np.sort(order[n_val:])), val

    def _sync_attributes(self, state, hyper):
        field = self._receptive_field()
        if field is not None:
            self.receptive_field_ = field
        elif hasattr(self, "receptive_field_"):
            del self.receptive_field_
        self.loss_curve_ = list(state.loss_curve)
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else np.nan
        trained = state.loss_curve and not hyper.early_stopping
        self.best_loss_ = state.best_loss if trained else None
        self.grad_norm_curve_ = list(state.grad_norm_curve)
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        if hyper.early_stopping:
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = state.best_validation_score
        elif hyper.fixed_epochs:  # the mean fold scores, epoch 0 first
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = self.validation_scores_[hyper.max_iter]
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _arch(self):
        """The network of this fitted (or being fitted) estimator."""
        return self._architecture(
            self._n_step_features * getattr(self, "patch_size_", 1),
            self.n_outputs_,
            self.return_sequences,
        )

    # ------------------------------------------------------------- inference
    def _network(self, params=None):
        """The fitted network (with ``params`` instead of the fitted weights)."""
        check_inference_params(self)
        return FittedNetwork(
            self._arch(),
            self.state_dict_ if params is None else params,
            getattr(self, "patch_size_", 1),
            self._loss(),
        )

    def _raw(self, X3, lengths):
        """Raw network outputs for a padded batch, computed in chunks."""
        net = self._network()
        X3, levels = self._leveled_input(X3, lengths)
        raw = net.raw(*net.inputs(X3, lengths))
        if levels is not None:  # back from the level, in standardised units
            raw += (levels / self.target_scale_).astype(raw.dtype)
        return raw

    def _predict_output(self, X):
        """Network outputs after the output activation, and the input lengths."""
        check_is_fitted(self)
        X3, lengths, kind = self._validate_X(X, reset=False)
        return self._outputs(X3, lengths), lengths, kind

    def _outputs(self, X3, lengths):
        """Outputs after the output activation for a validated padded batch."""
        return self._network().output(self._raw(X3, lengths))

    @available_if(lambda self: hasattr(self, "_format_predict"))
    def stream(self):
        """A :class:`~skrnn.SequenceStream` that feeds series chunk by chunk.

        Regressors and classifiers only (an encoder-decoder must read the whole
        input before it decodes).

        Returns
        -------
        stream : SequenceStream
            Carries the hidden state between calls, so chunked outputs equal
            one call over the whole series.
        """
        return SequenceStream(self)
