"""RNNRegressor: many-to-one and many-to-many regression with a recurrent network."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import (
    SEQUENCE_OUTPUT_CONSTRAINTS,
    BaseRNN,
    _check_y_present,
    _stochastic_solver,
)
from ._cells import CELLS
from ._data import length_mask, unpad
from ._epoch_cv import CV_EARLY_STOPPING
from ._level import LEVEL_CONSTRAINTS
from ._level_gain import GAIN_CONSTRAINTS, LevelGainMixin
from ._linear_skip import SKIP_CONSTRAINTS, LinearSkipMixin
from ._scaling import checked_target_scaling, standardize_targets
from ._streaming import forecast
from ._targets import (
    per_step_regression_targets,
    regression_targets,
    score_steps,
    score_weights,
    to_padded_targets,
)

__all__ = ["RNNRegressor"]


class RNNRegressor(LevelGainMixin, LinearSkipMixin, RegressorMixin, BaseRNN):
    """Recurrent neural network regressor.

    Reads each input sequence with a stack of recurrent layers and predicts one
    value per sequence (many-to-one) or one per time step
    (``return_sequences=True``, many-to-many), for one or several outputs.

    Targets are standardised internally (per output, over valid steps): the
    network's raw output is in units of ``(y - target_mean_) / target_scale_``.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru", "statal", "wavenet"}, default="lstm"
        Recurrent cell (see the user guide for each cell's equations), or
        ``"wavenet"``: a stack of dilated causal convolutions (kernel 2, dilation
        1, 2, 4, ... per layer, gated activations, residual and skip
        connections) with no loop over time.
    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Units of each stacked recurrent layer, bottom first. For
        ``"wavenet"``, each entry is one dilated layer and all must be equal
        (``(32,) * 8`` gives 8 layers, a receptive field of 256 steps).
        ``"auto"`` is one layer of 32 units for the recurrent cells, and for
        ``"wavenet"`` 32 channels in as many layers as it takes for the
        receptive field to cover the longest training sequence (at most 10
        layers, 1024 steps), so that a grid over cells with shared settings
        compares every cell at a sensible size. The sizes used are in
        ``hidden_layer_sizes_``.
    bidirectional : bool or "auto", default="auto"
        Read each sequence forwards and backwards; outputs are concatenated.
        ``"auto"`` does so whenever nothing needs the network to be causal: a
        prediction after the whole sequence (many-to-one, or an
        encoder-decoder's encoder) with a recurrent cell and no
        ``bptt_steps``; per-step outputs and ``"wavenet"`` read forwards only.
        Reading both ways did better on 11 of the 13 many-to-one rows of the
        user guide's panel (BasicMotions 0.99 to 1.00, Tecator 3.45 to 2.65,
        Uschange 0.54 to 0.47; the other two within their seeds' spread), at
        twice the work. A stream needs
        ``False``. The value used is in ``bidirectional_``; with
        ``load_state_dict``, ``"auto"`` follows the module (``_reverse``
        weights or not).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell.
    n_states : int, default=1
        States per unit of the ``"statal"`` cell, with persistence 1, 0.9,
        0.99, ...; ignored by the other cells.
    input_dropout : float, default=0.0
        Dropout on the input features, one mask per sequence for all steps
        (Keras' ``dropout`` argument of a first recurrent layer).
    dropout : float, default=0.0
        Dropout on the output of every layer: between stacked layers and on
        the head's input, one mask per sequence for all steps.
    recurrent_dropout : float, default=0.0
        Dropout on the recurrent state, one mask per sequence (variational).
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Weight optimizer. ``"lbfgs"`` is full-batch and deterministic.
    alpha : float, default=1e-4
        L2 penalty on weight matrices.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` splits the data into equal batches of at
        most 32 sequences (36 samples give two batches of 18), so that small
        data sets still get several updates an epoch (Keras' default size;
        scikit-learn's MLP uses up to 200, one update an epoch below that).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for ``solver="sgd"`` (scikit-learn MLP semantics).
    learning_rate_init : float, default=0.01
        Initial step size (``"adam"`` and ``"sgd"``).
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    momentum : float, default=0.9
        Momentum of ``"sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``"sgd"``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and numerical constant.
    max_iter : int, default=200
        Maximum epochs (stochastic solvers) or iterations (``"lbfgs"``).
    max_fun : int, default=15000
        Maximum loss evaluations of ``"lbfgs"``.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int, default=25
        Consecutive epochs in which the training loss (or, with
        ``early_stopping``, the validation score) improves by less than
        ``tol`` before training stops. Ignored by ``solver='lbfgs'``. 25, not
        scikit-learn's 10: minibatch losses are noisy and recurrent networks
        often sit on a plateau before the loss drops (see the user guide's
        "The defaults, and why").
    early_stopping : "auto", bool or int, default="auto"
        False: up to ``max_iter`` epochs, stopping on a training-loss plateau.
        True: hold out ``validation_fraction``, keep the best held-out epoch.
        An int ``k >= 2``: the epoch count (0, the start, included) of best
        mean R² over ``k`` contiguous folds, then that many epochs on all the
        data (``validation_scores_``: the mean fold score per epoch).
        ``"auto"``: 3 folds for 30 to 1000 sequences, else False (about five
        fits with the default ``linear_skip``). Folds only start new models
        with ``solver='adam'`` or ``'sgd'``. See the user guide's "The
        defaults, and why".
    validation_fraction : float, default=0.1
        Share of the training data held out for ``early_stopping=True`` (at
        least 2 samples: the R² of one is undefined).
    shuffle : bool, default=True
        Shuffle samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split; a
        fixed value gives bit-identical models.
    verbose : bool, default=False
        Print one line per epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights (with a fresh optimizer). If
        the network's shape changed since (``cell``, ``hidden_layer_sizes``,
        ``bidirectional``, ``n_states``), ``fit`` starts afresh instead.
    clip_norm : float or None, default=1.0
        Rescale each minibatch gradient to this global L2 norm when larger
        (PyTorch ``clip_grad_norm_``).
    clip_value : float or None, default=None
        Clamp each gradient entry to ``[-clip_value, clip_value]``.
    bptt_steps : int or None, default=None
        Truncated backpropagation through time with windows of this many steps;
        None backpropagates through whole sequences.
    return_sequences : bool, default=False
        Predict one value per time step instead of one per sequence.
    pooling : {"last_max_mean", "concat", "last", "mean", "max"}, \
            default="last_max_mean"
        What the head of a many-to-one model reads: ``"last"`` the final state
        (PyTorch's ``h_n``: ``Linear(h_n)``), ``"mean"`` or ``"max"`` the mean
        or the maximum of the top layer's outputs over each sequence's valid
        steps; ``"concat"`` the last state and the mean side by side,
        ``"last_max_mean"`` the last state, the maximum and the mean (fastai's
        concat pooling). The default because the mean and the maximum reach
        the whole sequence where a last state learned by BPTT often does not,
        while forecasting needs the last state: against ``"concat"``, adding
        the maximum improved 11 of the 14 rows of the user guide's panel and
        cost one (see "The defaults, and why"). ``state_dict_`` keeps the
        PyTorch layout for every choice; ``head.weight`` has one block of
        columns per summary, in the order named.
    patch_size : "auto" or int, default="auto"
        A many-to-one model reads non-overlapping patches of this many steps
        as one step (their features side by side; the last patch completed
        with zeros), so a long series becomes a short sequence: several times
        faster, and much easier to learn (on the panel: GunPoint 0.96 instead
        of 0.76, 4 s instead of 13). ``"auto"`` keeps at most 32 patches for
        the longest training sequence (``ceil(n_timesteps / 32)`` steps per
        patch; 1 for sequences of up to 32 steps and for
        ``return_sequences=True``). Use 1 to read step by step, as
        ``torch.nn.LSTM`` does on the same weights. The size used is in
        ``patch_size_``; streamed chunks must then be multiples of it.
    local_level : {None, "mean", "last"}, default=None
        For forecasting on windows of a series: the network reads each window
        minus its per-feature mean (``"mean"``) or its last step (``"last"``)
        and predicts the targets minus the level of the input feature each
        continues; predictions add that level back (reversible instance
        normalisation, Kim et al. 2022, without the rescaling). A model that
        reads absolute levels cannot follow a series whose level leaves the
        training range (a trend, a shift); on the user guide's forecasting
        panel ``"mean"`` cut the error by 25-55% (for example ShampooSales
        257 -> 114, beating the naive forecast). None (the default) because
        general sequence regression has targets in other units than the
        inputs. Not with ``return_sequences=True``, nor for :meth:`stream`
        or ``forecast(window=None)``. The setting used is in
        ``local_level_``.
    level_features : None, int or array-like of int, default=None
        With ``local_level``, the input feature each target column continues.
        None: :func:`~skrnn.preprocessing.make_windows`' layout (column ``j``
        continues feature ``j % n_features``; any number of columns for a
        univariate series). An int: every column continues that feature
        (``make_windows(..., target=k)``: ``level_features=k``). Fitted value:
        ``level_features_``.
    level_gain : "auto" or float, default="auto"
        With ``local_level``, how much of the level the targets carry on: the
        network learns ``y - level_gain * level`` and predictions add that
        back. 1 is plain reversible instance normalisation, right for a random
        walk; a growing trend carries more than its level on, a series that
        returns to its mean less. ``"auto"`` solves it before training, per
        target column, as 1 plus the level's coefficient in a ridge
        regression (a fixed mild penalty) of ``y - level`` on the leveled last
        steps (as many as ``linear_skip="auto"`` reads) and the level: a
        linear autoregression on the raw lags, so the local level loses
        nothing one knows. On the user guide's panel it took Airline's
        24-month forecast from 31.3 to 23.0 and Uschange from 0.348 to 0.305
        (both now beating AR), Lynx from 0.163 to 0.148 and ShampooSales from
        105 to 96. The value used is in ``level_gain_``; a shift of the input
        windows by ``d`` moves the predictions by ``level_gain_ * d``.
    linear_skip : "auto" or int, default="auto"
        Add a linear model of the last ``linear_skip`` input steps to the
        output (at every step with ``return_sequences``): their ridge
        regression (penalty by generalised cross-validation), solved when
        training starts and held fixed, with the head at zero, so the network
        learns what the ridge leaves (LSTNet's "highway", Lai et al. 2018).
        ``"auto"``: the last ``max(1, 256 // n_features)`` steps where
        ``early_stopping``'s folds run, dropped (``linear_skip_ = 0``) where
        they score the network alone better; 0 without folds. Capped at
        the training length, in whole patches: ``linear_skip_``. Not with
        ``bptt_steps``; streams carry it; ONNX exports it; PyTorch modules
        have none (``load_state_dict``).

    Attributes
    ----------
    state_dict_ : dict of ndarray
        The network's weights in the layout of PyTorch's ``state_dict()`` for
        ``torch.nn.RNN/LSTM/GRU(batch_first=True)`` (``weight_ih_l0``, ...,
        ``_reverse``) plus ``head.weight`` / ``head.bias`` (``torch.nn.Linear``).
    linear_skip_ : int
        Input steps the linear skip reads (0 without one); its weights are
        ``state_dict_["skip.weight"]``.
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        Target standardisation undone after the network's raw output.
    loss_ : float
        Last epoch's training loss (in standardised target units).
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        R² on the held-out set per epoch (early stopping only).
    best_validation_score_ : float or None
        Best held-out R² (early stopping only).
    grad_norm_curve_ : list of float
        Mean global gradient norm per epoch, before clipping.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    t_ : int
        Training samples seen.
    n_features_in_ : int
        Columns of a 2-D table, or features per step of 3-D / list input.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame with string column names.
    n_outputs_ : int
        Number of outputs per sequence (or per step).
    receptive_field_ : int
        With ``cell="wavenet"``: how many input steps one output can see.
    bidirectional_ : bool
        Whether the network reads each sequence both ways.
    local_level_ : {None, "mean", "last"}
        The ``local_level`` training used.
    level_gain_ : tuple of float or None
        With a local level, the gain of each target column (``level_gain``);
        None without one.
    level_features_ : tuple of int or None
        With a local level, the input feature each output is measured from.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(size=(100, 10, 1))
    >>> y = X.sum(axis=(1, 2))
    >>> reg = RNNRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        cell="lstm",
        hidden_layer_sizes="auto",
        *,
        bidirectional="auto",
        nonlinearity="tanh",
        n_states=1,
        input_dropout=0.0,
        dropout=0.0,
        recurrent_dropout=0.0,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.01,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        max_fun=15000,
        tol=1e-4,
        n_iter_no_change=25,
        early_stopping="auto",
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=False,
        warm_start=False,
        clip_norm=1.0,
        clip_value=None,
        bptt_steps=None,
        return_sequences=False,
        pooling="last_max_mean",
        patch_size="auto",
        local_level=None,
        level_features=None,
        level_gain="auto",
        linear_skip="auto",
    ):
        self._store_params(locals())

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        **SEQUENCE_OUTPUT_CONSTRAINTS,
        **LEVEL_CONSTRAINTS,
        **GAIN_CONSTRAINTS,
        **SKIP_CONSTRAINTS,
        **CV_EARLY_STOPPING,
    }

    def _loss(self):
        return "squared_error"

    def _encode_targets(self, y, X3, lengths, dtype, reset, classes=None, sw=None):
        _check_y_present(self, y)
        if self.return_sequences:
            Y, mask, valid, sw = per_step_regression_targets(y, lengths, dtype, sw)
        else:
            (Y, y_ndim), mask = regression_targets(y, len(lengths), dtype), None
            valid = Y
        if not reset and Y.shape[-1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[-1]} outputs but the model was fitted with "
                f"{self.n_outputs_}."
            )
        leveled = self._leveled_targets(Y, X3, lengths, sw, reset)
        if leveled is not Y:  # many-to-one only (_check_local_level)
            Y = valid = leveled
        if reset:
            self._y_ndim = 2 if self.return_sequences else y_ndim
            self.n_outputs_ = Y.shape[-1]
            # weighted, so that integer weights equal repeated samples
            self.target_mean_, self.target_scale_ = checked_target_scaling(
                valid, sw, dtype
            )
        Y = standardize_targets(Y, self.target_mean_, self.target_scale_, dtype)
        if mask is not None:
            Y[~mask] = 0
            mask = mask.astype(dtype)
        return Y, mask, None, None

    def _init_outputs(self, n_outputs, classes):
        """Output attributes for weights loaded without a fit (raw head units)."""
        if classes is not None:
            raise ValueError("classes is only for RNNClassifier; a regressor has none.")
        self._y_ndim = 1 if n_outputs == 1 and not self.return_sequences else 2
        self.target_mean_ = np.zeros(n_outputs)
        self.target_scale_ = np.ones(n_outputs)

    def _make_score_fn(self, val):
        def score(params):
            raw = self._network(params).raw(val.X, val.lengths)
            pred = raw * self.target_scale_ + self.target_mean_
            truth = val.Y * self.target_scale_ + self.target_mean_
            return val.score(r2_score, truth, pred)

        return score

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), \
                (n_samples, n_timesteps) or list of sequences
            3-D array, 2-D table (each row one univariate series) or a list of
            2-D ``(n_timesteps_i, n_features)`` / 1-D arrays of any lengths.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            One target per sequence; with ``return_sequences=True`` one per
            step: ``(n_samples, n_timesteps[, n_outputs])`` or a list matching
            the input lengths.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence; with ``return_sequences=True`` also one
            weight per step, ``(n_samples, n_timesteps)`` or a list of 1-D
            arrays matching the input lengths (Keras' per-step weights).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``X``, ``y`` (creating the model on the first call).

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`fit`.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), \
                (n_samples, n_timesteps) or list of sequences

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs), or per step
            With ``return_sequences=True``: ``(n_samples, n_timesteps)`` (one
            output) or ``(n_samples, n_timesteps, n_outputs)`` for array input
            (padded steps are 0), and a list of per-sequence arrays for list
            input.
        """
        return self._format_predict(*self._predict_output(X))

    def _format_predict(self, out, lengths, kind):
        """Predictions in the user's layout from activated network outputs."""
        out = out * self.target_scale_ + self.target_mean_
        if not self.return_sequences:
            return out.ravel() if self._y_ndim == 1 else out
        out[~length_mask(lengths, out.shape[1])] = 0
        if kind in ("list", "list1d"):
            seqs = unpad(out, lengths)
            return [s[:, 0] if self.n_outputs_ == 1 else s for s in seqs]
        return out[:, :, 0] if self.n_outputs_ == 1 else out

    def forecast(self, X, n_steps, window="auto"):
        """Forecast ``n_steps`` ahead by feeding predictions back as inputs.

        The model must have been trained to predict the next step(s) of the
        series from its past (for example on windows from
        :func:`skrnn.preprocessing.make_windows`): ``y`` of shape
        ``(n_samples,)`` (univariate), ``(n_samples, horizon)`` or
        ``(n_samples, horizon * n_features)`` (steps in time order).

        Parameters
        ----------
        X : array-like of shape (n_series, n_timesteps, n_features), \
                (n_series, n_timesteps) or list of sequences
            The history of each series.
        n_steps : int
            Steps to forecast.
        window : "auto", int or None, default="auto"
            Each prediction reads the last ``window`` steps (history and
            forecasts), as the model saw in training. ``"auto"`` uses the
            training sequence length when all training sequences had the same
            length, else None. None carries the hidden state through the whole
            history instead (any history length, one step of work per step, but
            the state may drift beyond the lengths seen in training).

        Returns
        -------
        forecast : ndarray of shape (n_series, n_steps) or \
                (n_series, n_steps, n_features)
            Univariate series give 2-D output.

        Examples
        --------
        >>> import numpy as np
        >>> from skrnn import RNNRegressor
        >>> from skrnn.preprocessing import make_windows
        >>> series = np.sin(np.arange(300) * 0.2)
        >>> X, y = make_windows(series, window=20)
        >>> reg = RNNRegressor(hidden_layer_sizes=(16,), max_iter=20,
        ...                    random_state=0).fit(X, y)
        >>> reg.forecast(series[None, -20:], n_steps=5).shape
        (1, 5)
        """
        return forecast(self, X, n_steps, window)

    def score(self, X, y, sample_weight=None):
        """R² of the predictions (over all valid steps for sequence targets).

        Parameters
        ----------
        X : array-like or list of sequences
        y : array-like or list
            True targets, in the layout accepted by :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence; with ``return_sequences=True`` also one
            weight per step, ``(n_samples, n_timesteps)`` or a list of 1-D
            arrays matching the input lengths (Keras' per-step weights).

        Returns
        -------
        score : float
        """
        if not self.return_sequences:
            return super().score(X, y, sample_weight)
        check_is_fitted(self)
        X3, lengths, _ = self._validate_X(X, reset=False)
        Y, mask = to_padded_targets(y, lengths)
        raw = self._raw(X3, lengths)
        pred = raw * self.target_scale_ + self.target_mean_
        w = score_weights(self, sample_weight, X3, lengths)
        return score_steps(r2_score, Y.astype(float), pred, mask, w)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        # A cell built to detect events (the statal cell: were features ever
        # present?) does not carry an arbitrary value from one step to the end,
        # which scikit-learn's regression check asks: its generic score is poor.
        cell = CELLS.get(self.cell)
        tags.regressor_tags.poor_score = getattr(cell, "poor_regression_score", False)
        return tags
