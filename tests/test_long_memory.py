"""The statal cell's reason to exist: 'was the marker ever seen' over 500 steps."""

import pytest

from skrnn import RNNClassifier
from skrnn.datasets import make_marker_task

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_statal_detects_a_marker_500_steps_back_and_the_simple_rnn_does_not():
    X, y = make_marker_task(600, 500, random_state=0)
    X_test, y_test = make_marker_task(300, 500, random_state=1)
    scores = {}
    for cell in ("statal", "rnn"):
        clf = RNNClassifier(
            cell=cell,
            hidden_layer_sizes=(8,),
            batch_size=50,
            max_iter=30,
            random_state=0,
        )
        scores[cell] = clf.fit(X, y).score(X_test, y_test)
    assert scores["statal"] > 0.97
    assert scores["rnn"] < 0.75
