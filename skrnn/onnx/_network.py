"""The network in ONNX: sequence-layer stack, readout and linear head.

Each estimator parameter that shapes predictions is handled by one function
here (or, for the output side, in ``_estimators``) and listed in
:data:`NETWORK_PARAMS` with the values it exports. A parameter added to the
estimators later is refused by :func:`~skrnn.onnx._common.check_exportable`
unless it keeps its default, until its function and its entry are added.
"""

from ._common import as_dtype
from ._recurrent import CELL_STEPS, recurrent_stack
from ._wavenet import last_step, wavenet_stack

__all__ = ["NETWORK_PARAMS", "SUPPORTED", "TRAINING_PARAMS", "network_raw"]

#: Parameters that only shape training: a fitted model predicts the same
#: function whatever their values (dropout is off in predict).
TRAINING_PARAMS = dict.fromkeys(
    "dropout recurrent_dropout solver alpha batch_size learning_rate "
    "learning_rate_init power_t momentum nesterovs_momentum beta_1 beta_2 epsilon "
    "max_iter max_fun tol n_iter_no_change early_stopping validation_fraction "
    "shuffle random_state verbose warm_start clip_norm clip_value bptt_steps "
    "class_weight".split()
)
#: Parameters of the network the converter writes: None means every value is
#: exported, a set lists the values the converter implements.
NETWORK_PARAMS = {
    "cell": {*CELL_STEPS, "wavenet"},
    "nonlinearity": {"tanh", "relu"},
    "hidden_layer_sizes": None,
    "bidirectional": None,
    "n_states": None,
    "return_sequences": None,
    "n_components": None,
}
SUPPORTED = {**TRAINING_PARAMS, **NETWORK_PARAMS}


def _wavenet(b, arch, params, Xt, lengths):
    Y = wavenet_stack(b, params, Xt, len(arch.hidden_sizes))
    return Y, None if arch.return_sequences else last_step(b, Y, lengths)


#: Sequence-layer stacks by ``Architecture.kind``: ``(Y (T, N, D), last (N, D))``.
STACKS = {"recurrent": recurrent_stack, "wavenet": _wavenet}


def _readout(b, arch, Y, last):
    """What the head reads: every step ``(N, T, D)`` or the last one ``(N, D)``."""
    return b.transpose(Y, 1, 0, 2) if arch.return_sequences else last


def network_raw(b, arch, params, Xt, lengths):
    """Head output before the output activation.

    Parameters
    ----------
    b : GraphBuilder
    arch : skrnn._network.Architecture
    params : dict of ndarray
        ``state_dict_`` layout.
    Xt : str
        Time-major input ``(T, N, F)``.
    lengths : str or None
        int64 ``(N,)`` valid steps of each sequence.

    Returns
    -------
    raw : str
        ``(N, n_outputs)`` (many-to-one: the head reads each sequence's last
        valid step) or ``(N, T, n_outputs)`` with ``arch.return_sequences``.
    """
    params = as_dtype(params, b.dtype)
    Y, last = STACKS[arch.kind](b, arch, params, Xt, lengths)
    features = _readout(b, arch, Y, last)
    return b.linear(features, params["head.weight"], params["head.bias"])
