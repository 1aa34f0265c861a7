"""The statal cell's reason to exist: 'was the marker ever seen' over 500 steps."""

import pytest

from skrnn import RNNClassifier
from skrnn.datasets import make_marker_task

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.slow  # 600 sequences of 500 steps, 30 epochs: over a minute
def test_statal_detects_a_marker_500_steps_back():
    # Balanced classes: chance is 0.5, and the marker can sit anywhere in the
    # 500 steps, so the answer needs memory of the whole sequence.
    X, y = make_marker_task(600, 500, random_state=0)
    X_test, y_test = make_marker_task(300, 500, random_state=1)
    clf = RNNClassifier(
        cell="statal",
        hidden_layer_sizes=(8,),
        batch_size=50,
        max_iter=30,
        n_iter_no_change=10,
        random_state=0,
    )
    assert clf.fit(X, y).score(X_test, y_test) > 0.97
