"""The constructor parameters a fitted model's predictions read.

Inference builds the fitted network from the fitted attributes
(``hidden_layer_sizes_``, ``bidirectional_``, ``patch_size_``, ``linear_skip_``,
``local_level_``, ...) and from the few parameters below, which have no fitted
counterpart. A fit records their values; a prediction after ``set_params``
changed one would run another network on these weights (a crash in compiled
code, a NumPy shape error, or silently other numbers), so it is refused with
the value the model was fitted with.
"""

__all__ = ["INFERENCE_PARAMS", "check_inference_params", "inference_params"]

#: Parameters that shape the fitted network and are read when it predicts.
INFERENCE_PARAMS = (
    "cell",
    "nonlinearity",
    "n_states",
    "pooling",
    "return_sequences",
    "n_components",
)


def inference_params(estimator):
    """``{name: value}`` of the :data:`INFERENCE_PARAMS` ``estimator`` has."""
    return {
        name: getattr(estimator, name)
        for name in INFERENCE_PARAMS
        if hasattr(estimator, name)
    }


def check_inference_params(estimator):
    """Raise if a parameter of the fitted network changed since it was fitted."""
    fitted = getattr(estimator, "_inference_params", None)
    if fitted is None:
        return
    for name, value in fitted.items():
        now = getattr(estimator, name)
        if now != value:
            raise ValueError(
                f"{name}={now!r} now, but this {type(estimator).__name__} was "
                f"fitted with {name}={value!r}, and its weights are that "
                f"network's. Set it back with set_params({name}={value!r}), or "
                "fit again."
            )
