"""JSON values of a model file: typed readers, scalars, hyperparameters, generators."""

import math

import numpy as np

from ._persistence_format import Invalid, short

__all__ = [
    "boolean",
    "decode_param",
    "encode_param",
    "integer",
    "integers",
    "json_value",
    "mt_state",
    "nonnegative",
    "one_of",
    "optional",
    "random_state",
    "real",
    "unit",
]

_NON_FINITE = ("inf", "-inf", "nan")
_MT_KEYS = 624
_MAX_DEPTH = 4


# ------------------------------------------------------------------ readers
def integer(lo, hi=2**62):
    """Reader of an int (not a bool) in ``[lo, hi]``."""

    def read(node, where):
        if type(node) is not int or not lo <= node <= hi:
            raise Invalid(
                f"{where} must be an integer from {lo} to {hi}; got {short(node)}"
            )
        return node

    return read


def integers(lo, hi=2**62):
    """Reader of a non-empty list of ints in ``[lo, hi]``, returned as a tuple."""
    item = integer(lo, hi)

    def read(node, where):
        if not isinstance(node, list) or not node or len(node) > 2**16:
            raise Invalid(f"{where} must be a list of integers; got {short(node)}")
        return tuple(item(v, f"{where}[{i}]") for i, v in enumerate(node))

    return read


def real(finite=True, positive=False):
    """Reader of a number (> 0 if ``positive``); ``finite=False`` also takes the
    tagged ``inf`` / ``-inf``."""

    def read(node, where):
        if positive and not (type(node) in (int, float) and node > 0):
            raise Invalid(f"{where} must be a positive number; got {short(node)}")
        if not finite and isinstance(node, dict) and set(node) == {"__float__"}:
            if node["__float__"] in ("inf", "-inf"):
                return float(node["__float__"])
        if type(node) not in (int, float) or not math.isfinite(node):
            raise Invalid(f"{where} must be a finite number; got {short(node)}")
        return node

    return read


def reals():
    """Reader of a non-empty list of finite numbers, returned as a tuple of float."""
    item = real()

    def read(node, where):
        if not isinstance(node, list) or not node or len(node) > 2**16:
            raise Invalid(f"{where} must be a list of numbers; got {short(node)}")
        return tuple(float(item(v, f"{where}[{i}]")) for i, v in enumerate(node))

    return read


def unit(closed_right):
    """Reader of a number in ``[0, 1]`` (``closed_right``) or ``[0, 1)``."""

    def read(node, where):
        inside = type(node) in (int, float) and 0 <= node
        inside = inside and (node <= 1 if closed_right else node < 1)
        if not inside:
            interval = "[0, 1]" if closed_right else "[0, 1)"
            raise Invalid(f"{where} must be a number in {interval}; got {short(node)}")
        return node

    return read


def nonnegative(node, where):
    """Reader of a finite number >= 0."""
    if type(node) not in (int, float) or not (math.isfinite(node) and node >= 0):
        raise Invalid(f"{where} must be a finite number >= 0; got {short(node)}")
    return node


def one_of(*choices):
    """Reader of one of ``choices`` (same type too: True is not 1)."""

    def read(node, where):
        if not any(type(node) is type(c) and node == c for c in choices):
            raise Invalid(f"{where} must be one of {list(choices)}; got {short(node)}")
        return node

    return read


def boolean(node, where):
    if type(node) is not bool:
        raise Invalid(f"{where} must be true or false; got {short(node)}")
    return node


def optional(reader):
    """``reader``, or None."""

    def read(node, where):
        return None if node is None else reader(node, where)

    return read


# ------------------------------------------------------------------ scalars
def json_value(value, where):
    """A fitted scalar as JSON: numbers, str, bool or None; non-finite floats tagged."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return [json_value(v, where) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    raise Invalid(f"{where} has the unexpected type {type(value).__name__}")


def mt_state(rs):
    """The JSON state of a ``RandomState`` (its MT19937 generator)."""
    _, keys, pos, has_gauss, gauss = rs.get_state(legacy=True)
    return {
        "keys": keys.tolist(),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "gauss": float(gauss),
    }


def random_state(node, where):
    """A ``RandomState`` in the state :func:`mt_state` wrote, checked first."""
    if not isinstance(node, dict) or set(node) != {"keys", "pos", "has_gauss", "gauss"}:
        raise Invalid(f"{where} is not a random generator state")
    keys = node["keys"]
    if not (
        isinstance(keys, list)
        and len(keys) == _MT_KEYS
        and all(type(k) is int and 0 <= k < 2**32 for k in keys)
    ):
        raise Invalid(f"{where} needs {_MT_KEYS} 32-bit generator keys")
    state = (
        "MT19937",
        np.array(keys, dtype=np.uint32),
        integer(0, _MT_KEYS)(node["pos"], f"{where}.pos"),
        one_of(0, 1)(node["has_gauss"], f"{where}.has_gauss"),
        real()(node["gauss"], f"{where}.gauss"),
    )
    rs = np.random.RandomState(0)
    rs.set_state(state)
    return rs


# ----------------------------------------------------------- hyperparameters
def encode_param(value, where, depth=0):
    """A hyperparameter (``get_params`` value) as JSON."""
    if depth > _MAX_DEPTH:
        raise Invalid(f"{where} is nested too deeply to save")
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": mt_state(value)}
    if isinstance(value, (tuple, list)):
        items = [
            encode_param(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)
        ]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        pairs = [
            [
                encode_param(k, f"{where} key", depth + 1),
                encode_param(v, where, depth + 1),
            ]
            for k, v in value.items()
        ]
        return {"__pairs__": pairs}
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
        return {"__array__": {"dtype": value.dtype.str, "values": value.tolist()}}
    return json_value(value, where)


def decode_param(node, where, depth=0):
    """The hyperparameter :func:`encode_param` wrote; the estimator validates it."""
    if depth > _MAX_DEPTH:
        raise Invalid(f"{where} is nested too deeply")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if isinstance(node, list):
        return [decode_param(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node)]
    if not isinstance(node, dict) or len(node) != 1:
        raise Invalid(f"{where} has an unreadable value")
    ((tag, value),) = node.items()
    if tag == "__float__" and value in _NON_FINITE:
        return float(value)
    if tag == "__random_state__":
        return random_state(value, where)
    if tag == "__tuple__" and isinstance(value, list):
        return tuple(decode_param(v, where, depth + 1) for v in value)
    if tag == "__pairs__" and isinstance(value, list):
        if not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise Invalid(f"{where} is a malformed mapping")
        return {
            decode_param(k, where, depth + 1): decode_param(v, where, depth + 1)
            for k, v in value
        }
    if (
        tag == "__array__"
        and isinstance(value, dict)
        and set(value) == {"dtype", "values"}
    ):
        dtype = np.dtype(value["dtype"]) if isinstance(value["dtype"], str) else None
        values = value["values"]
        if dtype is None or dtype.kind not in "biuf" or not isinstance(values, list):
            raise Invalid(f"{where} is a malformed array")
        if not all(type(v) in (int, float, bool) for v in values):
            raise Invalid(f"{where} is a malformed array")
        return np.array(values, dtype=dtype)
    raise Invalid(f"{where} has an unreadable value")
