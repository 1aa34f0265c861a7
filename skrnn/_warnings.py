"""Warnings that point at the user's call, not at skrnn's internals."""

import os
import sys
import warnings

__all__ = ["warn_user"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: Frames of scikit-learn's ``_fit_context`` wrapper (and mixins such as
#: ``fit_transform``) sit between the user's call and ours.
_SKLEARN_BASE = os.path.join("sklearn", "base.py")


def _internal(filename):
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE) or path.endswith(_SKLEARN_BASE)


def warn_user(message, category):
    """``warnings.warn`` with the stack level of the first frame outside skrnn.

    The warning then names the user's line (``reg.fit(X, y)``), or the
    scikit-learn helper that called ``fit`` (a grid search), whatever the depth
    of skrnn's own calls.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and _internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
