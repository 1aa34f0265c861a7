"""Argument checks shared by the dataset generators and loaders."""

import numbers

import numpy as np


def check_int(value, name, *, min_value, hint=""):
    """Return ``value`` as an int, or raise if it is not an integer >= min_value.

    ``hint`` is appended to the message to say why the bound exists.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type "
            f"{type(value).__name__}. Pass a whole number such as {name}={min_value}."
        )
    if value < min_value:
        raise ValueError(
            f"{name} must be >= {min_value}{hint}, got {value}. "
            f"Pass {name}={min_value} or larger."
        )
    return int(value)


def check_real(
    value, name, *, low=None, high=None, low_open=False, high_open=False, hint=""
):
    """Return ``value`` as a finite float between ``low`` and ``high``.

    The bounds are inclusive unless ``low_open``/``high_open`` make them strict.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}. Pass a float such as {name}=0.1."
        )
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or too_low or too_high:
        bounds = f"{'(' if low_open else '['}{low if low is not None else '-inf'}, "
        bounds += f"{high if high is not None else 'inf'}{')' if high_open else ']'}"
        raise ValueError(
            f"{name} must be a finite number in {bounds}{hint}, got {value}. "
            f"Pass a value inside that range."
        )
    return value


def check_bool(value, name):
    """Raise a TypeError unless ``value`` is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be True or False, got {value!r}. Pass {name}=True "
            f"or {name}=False."
        )
    return bool(value)
