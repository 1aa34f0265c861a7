"""What a model file keeps to continue training: optimizer state, generator, counts."""

import numpy as np

from ._optim import AdamOptimizer, SGDOptimizer
from ._persistence_format import Invalid
from ._persistence_values import (
    boolean,
    integer,
    json_value,
    mt_state,
    nonnegative,
    one_of,
    optional,
    random_state,
    real,
    unit,
)
from ._training import TrainState

__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_SCRATCH",
    "TRAIN_FIELDS",
    "decode_training",
    "encode_training",
    "training_entries",
]

#: Each optimizer: its class, its constructor arguments, the state it updates
#: and its per-weight slots (one array per weight, shaped like it), each with
#: the reader that checks it. The readers are the only check: the optimizers
#: trust their arguments, whose ranges are those of the estimators' parameters.
OPTIMIZERS = {
    "adam": (
        AdamOptimizer,
        {
            "learning_rate_init": real(positive=True),
            "beta_1": unit(closed_right=False),
            "beta_2": unit(closed_right=False),
            "epsilon": real(positive=True),
            "lr_schedule": one_of("constant", "adaptive"),
        },
        {
            "t": integer(0),
            "learning_rate": real(positive=True),
            "base_rate": real(positive=True),
        },
        ("ms", "vs"),
    ),
    "sgd": (
        SGDOptimizer,
        {
            "learning_rate_init": real(positive=True),
            "lr_schedule": one_of("constant", "invscaling", "adaptive"),
            "momentum": unit(closed_right=True),
            "nesterov": boolean,
            "power_t": nonnegative,
        },
        {"learning_rate": real(positive=True)},
        ("velocities",),
    ),
}
#: Buffers an optimizer rebuilds itself: never stored.
OPTIMIZER_SCRATCH = ("_work", "_steps", "_scaled_grads")
#: Scalars of ``TrainState`` stored as they are.
_SCALARS = {
    "best_loss": real(finite=False),
    "best_validation_score": real(finite=False),
    "no_improvement_count": integer(0),
    # partial_fit's divergence threshold, set by its first batch and kept
    "divergence_limit": optional(real(positive=True)),
}
#: ``TrainState`` fields that equal a fitted attribute: stored once, as that.
_LINKED = {
    "params": "state_dict_",
    "loss_curve": "loss_curve_",
    "grad_norm_curve": "grad_norm_curve_",
    "n_iter": "n_iter_",
    "t": "t_",
}
#: Every ``TrainState`` field: stored, linked, or (``best_params``, the best
#: weights of the last early-stopping fit, which every fit resets) dropped.
TRAIN_FIELDS = (*_SCALARS, *_LINKED, "optimizer", "validation_scores", "best_params")
_SCORES = "training/validation_scores.npy"


def _same(a, b):
    """Whether a training-state field holds what the fitted attribute holds."""
    if isinstance(a, dict):  # the weights: the same arrays, or equal ones
        return list(a) == list(b) and all(
            a[k] is b[k] or np.array_equal(a[k], b[k]) for k in a
        )
    return type(a) is type(b) and a == b


def _encode_optimizer(opt, names, arrays):
    if opt is None:
        return None
    kind = next((k for k, v in OPTIMIZERS.items() if type(opt) is v[0]), None)
    if kind is None:
        raise Invalid(f"its optimizer {type(opt).__name__} is not one skrnn saves")
    _, args, state, slots = OPTIMIZERS[kind]
    node = {"type": kind}
    for name in (*args, *state):
        node[name] = json_value(getattr(opt, name), f"optimizer.{name}")
    for slot in slots:
        values = getattr(opt, slot)
        if len(values) != len(names):
            raise Invalid(
                f"its optimizer holds {len(values)} {slot} for {len(names)} weights"
            )
        for name, value in zip(names, values, strict=True):
            arrays[f"training/{slot}/{name}.npy"] = value
    return node


def encode_training(est, arrays):
    """The ``training`` section of the file; its arrays are added to ``arrays``."""
    state = est._train_state
    if not isinstance(state, TrainState) or set(vars(state)) != set(TRAIN_FIELDS):
        raise Invalid("its training state is not one this skrnn can store")
    for field, attr in _LINKED.items():
        if not _same(getattr(state, field), getattr(est, attr)):
            raise Invalid(f"its training state disagrees with {attr}")
    shared = est._random_state is est.random_state
    node = {
        "random_state": {"same_as": "random_state"}
        if shared
        else mt_state(est._random_state),
        "optimizer": _encode_optimizer(state.optimizer, list(est.state_dict_), arrays),
        "validation_scores": _SCORES,
    }
    for name in _SCALARS:
        node[name] = json_value(getattr(state, name), f"training.{name}")
    arrays[_SCORES] = np.asarray(state.validation_scores, dtype=np.float64)
    return node


def training_entries(node, weight_names):
    """Entry names the ``training`` section refers to, checked for its keys."""
    if not isinstance(node, dict):
        raise Invalid("the training section is missing")
    if set(node) != {"random_state", "optimizer", "validation_scores", *_SCALARS}:
        raise Invalid(f"the training section has keys {sorted(node)[:8]}")
    if node["validation_scores"] != _SCORES:
        raise Invalid("training.validation_scores must name its fixed entry")
    opt = node["optimizer"]
    if opt is None:
        return [_SCORES]
    if not isinstance(opt, dict) or opt.get("type") not in OPTIMIZERS:
        raise Invalid("training.optimizer is of an unknown type")
    _, args, state, slots = OPTIMIZERS[opt["type"]]
    if set(opt) != {"type", *args, *state}:
        raise Invalid(f"training.optimizer has keys {sorted(opt)[:8]}")
    slots = [f"training/{s}/{n}.npy" for s in slots for n in weight_names]
    return [_SCORES, *slots]


def _decode_optimizer(node, weights, reader):
    if node is None:
        return None
    cls, args, state, slots = OPTIMIZERS[node["type"]]
    kwargs = {k: read(node[k], f"optimizer.{k}") for k, read in args.items()}
    opt = cls(list(weights.values()), **kwargs)
    for name, read in state.items():
        setattr(opt, name, read(node[name], f"optimizer.{name}"))
    for slot in slots:
        values = [reader.array(f"training/{slot}/{name}.npy") for name in weights]
        if not all(np.isfinite(v).all() for v in values):
            raise Invalid(f"the optimizer's {slot} contain NaN or infinity")
        if slot == "vs" and any((v < 0).any() for v in values):
            raise Invalid("Adam's second moments (vs) must not be negative")
        setattr(opt, slot, values)
    return opt


def decode_training(est, node, reader):
    """Restore ``_random_state`` and ``_train_state`` from the ``training`` section."""
    rs = node["random_state"]
    if rs == {"same_as": "random_state"}:
        if not isinstance(est.random_state, np.random.RandomState):
            raise Invalid("training.random_state refers to a random_state it lacks")
        est._random_state = est.random_state
    else:
        est._random_state = random_state(rs, "training.random_state")
    scores = reader.array(_SCORES)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise Invalid("training.validation_scores must be finite numbers")
    state = TrainState(
        params=est.state_dict_,
        optimizer=_decode_optimizer(node["optimizer"], est.state_dict_, reader),
        loss_curve=list(est.loss_curve_),
        grad_norm_curve=list(est.grad_norm_curve_),
        validation_scores=scores.tolist(),
        n_iter=est.n_iter_,
        t=est.t_,
    )
    for name, read in _SCALARS.items():
        setattr(state, name, read(node[name], f"training.{name}"))
    est._train_state = state
