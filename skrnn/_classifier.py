"""RNNClassifier: sequence classification (binary, multiclass, multilabel, per step)."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import (
    SEQUENCE_OUTPUT_CONSTRAINTS,
    BaseRNN,
    _check_y_present,
    _stochastic_solver,
)
from ._data import to_padded_targets, unpad
from ._targets import score_steps, score_weights

__all__ = ["RNNClassifier"]


class RNNClassifier(ClassifierMixin, BaseRNN):
    """Recurrent neural network classifier.

    Classifies whole sequences (many-to-one) or every time step
    (``return_sequences=True``). Labels of any type (strings included); binary
    and multilabel problems use sigmoid outputs with cross-entropy, multiclass a
    softmax.

    Parameters
    ----------
    cell, hidden_layer_sizes, bidirectional, nonlinearity, n_states, dropout, \
recurrent_dropout, solver, alpha, batch_size, learning_rate, learning_rate_init, \
power_t, momentum, nesterovs_momentum, beta_1, beta_2, epsilon, max_iter, max_fun, \
tol, n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, \
verbose, warm_start, clip_norm, clip_value, bptt_steps, return_sequences
        As in :class:`~skrnn.RNNRegressor` (the early-stopping score is
        accuracy).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` (per step for
        sequence labels).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multilabel targets, the label indices).
    state_dict_ : dict of ndarray
        Weights in PyTorch ``state_dict()`` layout plus ``head.weight`` /
        ``head.bias``; the head gives logits (before sigmoid / softmax).
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, \
grad_norm_curve_, n_iter_, t_, n_features_in_, feature_names_in_, n_outputs_
        As in :class:`~skrnn.RNNRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(80, 12, 1))
    >>> y = np.where(X.mean(axis=(1, 2)) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=(8,), max_iter=40, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        **SEQUENCE_OUTPUT_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

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
        early_stopping=False,
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
        class_weight=None,
    ):
        self._store_params(locals())

    def _loss(self):
        return self._loss_name

    # ------------------------------------------------------------- targets
    def _labels(self, y, lengths):
        """Labels as a 1-D (or 2-D multilabel) array, plus the step mask."""
        if self.return_sequences:
            Y3, mask = to_padded_targets(y, lengths, labels=True)
            if Y3.shape[2] != 1:
                raise ValueError(
                    "per-step labels must be (n_samples, n_timesteps) or a list of "
                    f"1-D label sequences; got {Y3.shape[2]} labels per step."
                )
            return Y3[:, :, 0][mask], mask
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if len(y) != len(lengths):
            raise ValueError(
                f"X has {len(lengths)} samples but y has {len(y)}; pass one label "
                "per sequence (or set return_sequences=True for a label per step)."
            )
        return y, None

    def _encode_targets(self, y, X3, lengths, dtype, reset, classes=None, sw=None):
        _check_y_present(self, y)
        labels, mask = self._labels(y, lengths)
        check_classification_targets(labels)
        if reset:
            lb = LabelBinarizer()
            lb.fit(labels if classes is None else classes)
            if len(lb.classes_) < 2 and lb.y_type_ != "multilabel-indicator":
                raise ValueError(
                    f"y contains 1 class ({lb.classes_.tolist()}); a classifier "
                    "needs at least 2 classes in the training data."
                )
            self._label_binarizer = lb
            self.classes_ = lb.classes_
            multiclass = lb.y_type_ == "multiclass"
            self._loss_name = "log_loss" if multiclass else "binary_log_loss"
        else:
            unseen = (
                np.setdiff1d(np.unique(labels), self.classes_)
                if type_of_target(labels) != "multilabel-indicator"
                else []
            )
            if len(unseen):
                raise ValueError(
                    f"y contains labels {list(unseen)} not seen in the first fit "
                    f"(classes_ = {list(self.classes_)}); pass every label with "
                    "classes= on the first partial_fit call."
                )
        encoded = self._label_binarizer.transform(labels).astype(dtype)
        if reset:
            self.n_outputs_ = encoded.shape[1]
        cw = None
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, labels).astype(dtype)
        if mask is None:
            return encoded, None, cw, None
        Y = np.zeros((*mask.shape, encoded.shape[1]), dtype)
        Y[mask] = encoded
        step_w = mask.astype(dtype)
        if cw is not None:
            step_w[mask] = cw
        return Y, step_w, None, None

    def _init_outputs(self, n_outputs, classes):
        """Label attributes for weights loaded without a fit."""
        if classes is None:
            raise ValueError(
                "an unfitted RNNClassifier needs classes= (the labels, in the "
                "order of the head's outputs) to load a state_dict."
            )
        lb = LabelBinarizer().fit(np.asarray(classes))
        if lb.y_type_ not in ("binary", "multiclass"):
            raise ValueError(
                f"classes must hold at least 2 distinct labels; got {classes!r}."
            )
        want = 1 if len(lb.classes_) == 2 else len(lb.classes_)
        if n_outputs != want:
            raise ValueError(
                f"head.weight has {n_outputs} outputs but {len(lb.classes_)} classes "
                f"need {want} (one sigmoid output for 2 classes, one softmax output "
                "per class otherwise)."
            )
        if not np.array_equal(lb.classes_, np.asarray(classes)):
            raise ValueError(
                f"classes must be sorted and unique (the order of classes_); got "
                f"{list(classes)!r}, sorted {list(lb.classes_)!r}."
            )
        self._label_binarizer = lb
        self.classes_ = lb.classes_
        self._loss_name = "log_loss" if want > 1 else "binary_log_loss"

    def _make_score_fn(self, val):
        def score(params):
            net = self._network(params)
            pred = self._decode(net.output(net.raw(val.X, val.lengths)))
            return val.score(accuracy_score, self._decode(val.Y), pred)

        return score

    def _decode(self, out):
        """Labels from per-row outputs (probabilities or one-hot)."""
        shape = out.shape[:-1]
        flat = out.reshape(-1, out.shape[-1])
        labels = self._label_binarizer.inverse_transform(flat, threshold=0.5)
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return labels.reshape(*shape, -1)
        return labels.reshape(shape)

    # ------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), \
                (n_samples, n_timesteps) or list of sequences
            As in :meth:`RNNRegressor.fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            One label per sequence (a 2-D indicator matrix for multilabel); with
            ``return_sequences=True`` one label per step,
            ``(n_samples, n_timesteps)`` or a list matching the input lengths.
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
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``X``, ``y``.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every label that can occur; required on the first call.

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit (every "
                "label that can occur)."
            )
        if not first and classes is not None:
            if not np.array_equal(np.sort(classes), np.sort(self.classes_)):
                raise ValueError(
                    f"`classes={list(classes)}` is not the same as on the first "
                    f"call to partial_fit, which was {list(self.classes_)}."
                )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ---------------------------------------------------------- inference
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like or list of sequences

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or per step
            With ``return_sequences=True``: ``(n_samples, n_timesteps,
            n_classes)`` for arrays, a list of ``(n_timesteps_i, n_classes)``
            arrays for list input.
        """
        return self._format_proba(*self._predict_output(X))

    def _format_proba(self, out, lengths, kind):
        """Probabilities in the user's layout from activated network outputs."""
        # saturated sigmoids / softmaxes stay strictly inside (0, 1)
        eps = np.finfo(out.dtype).eps
        out = np.clip(out, eps, 1 - eps)
        if (
            out.shape[-1] == 1
            and self._loss_name == "binary_log_loss"
            and (self._label_binarizer.y_type_ != "multilabel-indicator")
        ):
            out = np.concatenate([1 - out, out], axis=-1)
        if self.return_sequences and kind in ("list", "list1d"):
            return unpad(out, lengths)
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (array input only per step)."""
        proba = self.predict_proba(X)
        if isinstance(proba, list):
            return [np.log(p) for p in proba]
        return np.log(proba)

    def predict(self, X):
        """Predict labels.

        Parameters
        ----------
        X : array-like or list of sequences

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels), or per step
            With ``return_sequences=True``: ``(n_samples, n_timesteps)`` for
            arrays, a list of 1-D label arrays for list input.
        """
        return self._format_predict(*self._predict_output(X))

    def _format_predict(self, out, lengths, kind):
        """Labels in the user's layout from activated network outputs."""
        labels = self._decode(out)
        if self.return_sequences and kind in ("list", "list1d"):
            return [labels[i, : lengths[i]] for i in range(len(lengths))]
        return labels

    def score(self, X, y, sample_weight=None):
        """Accuracy (over all valid steps for per-step labels).

        Parameters
        ----------
        X : array-like or list of sequences
        y : array-like or list
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
        Y3, mask = to_padded_targets(y, lengths, labels=True)
        out = self._outputs(X3, lengths)
        pred = self._decode(out)
        w = score_weights(self, sample_weight, X3, lengths)
        return score_steps(accuracy_score, Y3[:, :, 0], pred, mask, w)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.allow_nan = False
        return tags
