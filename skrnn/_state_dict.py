"""Weights in PyTorch ``state_dict()`` layout into fitted or unfitted estimators."""

import numpy as np
from sklearn.utils import check_random_state

from ._inference_params import inference_params
from ._training import TrainState

__all__ = ["StateDictMixin"]


class StateDictMixin:
    """``load_state_dict`` for :class:`~skrnn._base.BaseRNN` (not for direct use)."""

    def load_state_dict(self, state_dict, *, classes=None):
        """Load weights in PyTorch ``state_dict()`` layout.

        Into a fitted model, the weights replace its own (same keys and
        shapes). Into an unfitted estimator, they make it a fitted model: its
        ``cell``, ``hidden_layer_sizes``, ``bidirectional`` and ``n_states``
        must match the weights, whose shapes give the features per step
        (``n_features_in_``) and the outputs (``head.weight``). A regressor then
        predicts the raw head output (``target_mean_`` 0, ``target_scale_`` 1);
        a classifier needs ``classes`` (one output for 2 classes, sigmoid; one
        per class otherwise, softmax). Weights loaded so can be trained on with
        ``partial_fit`` or ``warm_start``.

        Parameters
        ----------
        state_dict : dict of array-like
            For example a PyTorch module's ``state_dict()`` converted with
            ``.numpy()``, with the head's ``head.weight`` and ``head.bias``.
        classes : array-like of shape (n_classes,), default=None
            The class labels, in the order of the head's outputs; required for
            an unfitted :class:`~skrnn.RNNClassifier`, not accepted otherwise.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "state_dict_"):
            return self._load_unfitted(state_dict, classes)
        if classes is not None:
            raise ValueError(
                "classes is only for loading weights into an unfitted "
                "RNNClassifier; a fitted model keeps its classes_."
            )
        new = self._checked_state_dict(state_dict, self._arch(), self._dtype_of())
        for k, v in new.items():
            self.state_dict_[k][...] = v
        return self

    def _dtype_of(self):
        return next(iter(self.state_dict_.values())).dtype

    @staticmethod
    def _checked_state_dict(state_dict, arch, dtype, hint=""):
        """The weights as fresh arrays of ``dtype``, checked against ``arch``."""
        shapes = arch.param_shapes()
        missing = [k for k in shapes if k not in state_dict]
        extra = [k for k in state_dict if k not in shapes]
        if "skip.weight" in missing + extra:
            hint += (
                " skip.weight is the weight of linear_skip, which a PyTorch module "
                "has none of: load a module's weights into a model fitted with "
                "linear_skip=0."
            )
        if missing or extra:
            raise ValueError(
                f"state_dict keys do not match this model: missing {missing}, "
                f"unexpected {extra}. Build the model with the same cell, "
                f"hidden_layer_sizes and bidirectional settings.{hint}"
            )
        new = {}
        for k, shape in shapes.items():
            value = np.array(state_dict[k], dtype=dtype, copy=True)
            if value.shape != tuple(shape):
                raise ValueError(
                    f"state_dict[{k!r}] has shape {value.shape}; this model needs "
                    f"{tuple(shape)}.{hint}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"state_dict[{k!r}] contains NaN or infinity.")
            new[k] = value
        return new

    def _load_unfitted(self, state_dict, classes):
        """Make an unfitted estimator the model that ``state_dict`` describes."""
        if not hasattr(self, "_init_outputs"):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict needs a fitted model: fit "
                "it on data of the right shapes (max_iter=1 is enough), then load "
                "the weights."
            )
        before = dict(vars(self))
        try:
            return self._load_unfitted_unsafe(state_dict, classes)
        except BaseException:  # a refused state dict leaves it unfitted
            vars(self).clear()
            vars(self).update(before)
            raise

    def _load_unfitted_unsafe(self, state_dict, classes):
        self._check_combination()
        key = self._stack().first_weight
        for k in (key, "head.weight"):
            if k not in state_dict or np.ndim(state_dict[k]) < 2:
                raise ValueError(
                    f"state_dict needs a 2-D {k!r} (found "
                    f"{'none' if k not in state_dict else np.shape(state_dict[k])}); "
                    "pass the recurrent module's state_dict() with the head's "
                    "weights as 'head.weight' and 'head.bias'."
                )
        if getattr(self, "linear_skip", 0) not in (0, "auto"):
            raise ValueError(
                f"linear_skip={self.linear_skip} has no counterpart in a PyTorch "
                "module: load its weights with linear_skip=0."
            )
        size = getattr(self, "patch_size", 1)
        self.patch_size_ = 1 if size == "auto" else int(size)
        self.hidden_layer_sizes_ = self._hidden_sizes()
        self.bidirectional_ = (
            f"{key}_reverse" in state_dict  # "auto": as the module was
            if isinstance(self.bidirectional, str)
            else bool(self.bidirectional)
        )
        n_inputs = int(np.shape(state_dict[key])[1])
        n_outputs = int(np.shape(state_dict["head.weight"])[0])
        if n_inputs % self.patch_size_:
            raise ValueError(
                f"{key} reads {n_inputs} inputs per step, not a multiple of "
                f"patch_size={self.patch_size_}."
            )
        skip = state_dict.get("skip.weight")  # "auto": as the weights are
        auto_skip = getattr(self, "linear_skip", 0) == "auto" and np.ndim(skip) == 2
        width = int(np.shape(skip)[1]) if auto_skip else 0
        self.linear_skip_ = width // n_inputs * self.patch_size_
        first = next(iter(state_dict.values()))
        dtype = np.float32 if np.asarray(first).dtype == np.float32 else np.float64
        arch = self._architecture(n_inputs, n_outputs, self.return_sequences)
        hint = (
            f" The shapes were compared with cell={self.cell!r}, "
            f"hidden_layer_sizes={self.hidden_layer_sizes!r}, "
            f"bidirectional={self.bidirectional_}, pooling={self.pooling!r}: set "
            "those to the module's (pooling='last' for a head on h_n)."
        )
        weights = self._checked_state_dict(state_dict, arch, dtype, hint)
        self._init_outputs(n_outputs, classes)
        n_features = n_inputs // self.patch_size_
        self.n_features_in_ = self._n_step_features = n_features
        if hasattr(self, "local_level"):
            self._fix_levels(n_outputs, n_features)
        self._fitted_layout = "sequences"
        self._fit_n_timesteps = None
        self.n_outputs_ = n_outputs
        self._random_state = check_random_state(self.random_state)
        self.state_dict_ = weights
        self._inference_params = inference_params(self)
        self._train_state = TrainState(self.state_dict_)
        self._sync_attributes(self._train_state, self._hyper())
        return self
