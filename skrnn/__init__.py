"""Recurrent neural networks as first-class scikit-learn estimators, in NumPy."""

from ._classifier import RNNClassifier
from ._regressor import RNNRegressor
from ._training import DivergenceWarning

__version__ = "0.1.0.dev0"

__all__ = ["DivergenceWarning", "RNNClassifier", "RNNRegressor", "__version__"]
