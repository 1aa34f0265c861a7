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


CONVERGED_LBFGS = [
    RNNRegressor(solver="lbfgs", alpha=1.0, tol=1e-10, max_iter=1000),
    RNNClassifier(solver="lbfgs", alpha=1.0, tol=1e-10, max_iter=1000),
    # The 30-step autoencoder has many near-equal optima; a tiny tanh RNN is the
    # size at which L-BFGS converges to the same one from both fits.
    Seq2SeqTransformer(
        cell="rnn",
        hidden_layer_sizes=(2,),
        n_components=1,
        solver="lbfgs",
        alpha=5.0,
        tol=1e-10,
        max_iter=3000,
    ),
]


@pytest.mark.parametrize("estimator", CONVERGED_LBFGS, ids=lambda e: type(e).__name__)
def test_sample_weight_equivalence_converged_lbfgs(estimator):
    # A strongly regularised objective has one well-conditioned optimum that
    # L-BFGS reaches from both fits, so weights == repeated rows to 1e-7.
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
