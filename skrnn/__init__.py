"""Recurrent neural networks as first-class scikit-learn estimators, in NumPy."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
