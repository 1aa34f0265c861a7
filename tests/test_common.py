"""scikit-learn's estimator checks over every estimator and configuration."""

import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer

# As scikit-learn does for its own MLP in its common tests, the instances cap
# max_iter so the suite stays fast; every other parameter keeps its default.
FAST = {"max_iter": 50}
CONFIGS = [
    {},
    {"cell": "rnn"},
    {"cell": "gru"},
    {"cell": "statal"},
    {"bidirectional": True},
    {"solver": "lbfgs"},
]
ESTIMATORS = [
    Estimator(**{**FAST, **config})
    for Estimator in (RNNRegressor, RNNClassifier, Seq2SeqTransformer)
    for config in CONFIGS
]

SAMPLE_WEIGHT_REASON = (
    "{why}; the equivalence itself is checked on a converged full-batch L-BFGS "
    "instance in test_sample_weight_equivalence_converged_lbfgs"
)


def expected_failed_checks(estimator):
    """Checks that cannot apply to an instance, each with its reason."""
    if estimator.solver == "lbfgs":
        why = (
            "with max_iter capped, L-BFGS stops before convergence and float "
            "rounding in sums over repeated rows sends the two fits down "
            "different paths"
        )
    else:
        why = (
            "minibatch solvers draw shuffled minibatches, so repeating a sample "
            "is not the same draw as weighting it"
        )
    return {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON.format(
            why=why
        )
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier, Seq2SeqTransformer])
def test_sample_weight_equivalence_converged_lbfgs(Estimator):
    # A strongly regularised objective has one well-conditioned optimum that
    # L-BFGS reaches from both fits, so weights == repeated rows to 1e-7.
    estimator = Estimator(solver="lbfgs", alpha=1.0, tol=1e-10, max_iter=1000)
    check_sample_weight_equivalence_on_dense_data(Estimator.__name__, estimator)
