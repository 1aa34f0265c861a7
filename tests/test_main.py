"""``python -m skrnn``: the demo's grid search runs and reports its best model."""

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline

from skrnn import RNNRegressor, __main__
from skrnn.__main__ import main
from skrnn.preprocessing import SequenceScaler

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_dataset_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    return env


def test_the_module_runs_as_a_script(tmp_path):
    # the entry point itself (python -m skrnn), stopped at its argument check
    result = subprocess.run(
        [sys.executable, "-m", "skrnn", "--n-jobs", "0"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "must not be 0" in result.stderr


def _tiny_task():
    """A small forecasting task and a short-trained regressor, for the demo."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(48, 5, 1))
    y = X[:, -1, 0] - 0.5 * X[:, -2, 0]
    small = functools.partial(
        RNNRegressor, hidden_layer_sizes=(3,), max_iter=15, early_stopping=False
    )
    cv = KFold(2)
    return "tiny", X[:36], y[:36], X[36:], y[36:], small, cv, "r2"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_demo_ranks_by_cv_score_and_scores_the_best_held_out(monkeypatch, capsys):
    monkeypatch.setitem(__main__.DATASETS, "tiny", _tiny_task)
    assert main(["--dataset", "tiny", "--quick", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    _, X, y, X_test, y_test, small, cv, _ = _tiny_task()

    def model(cell):
        return make_pipeline(SequenceScaler(), small(cell=cell, random_state=0))

    cv_score = {
        cell: np.mean(cross_validate(model(cell), X, y, cv=cv)["test_score"])
        for cell in ("rnn", "gru")
    }
    table = re.findall(r"^(rnn|gru)\s+(-?\d\.\d+)\s+\d+\.\d+s$", out, re.M)
    assert [cell for cell, _ in table] == sorted(cv_score, key=cv_score.get)[::-1]
    assert [s for _, s in table] == [f"{cv_score[c]:.3f}" for c, _ in table]
    best = table[0][0]
    held_out = model(best).fit(X, y).score(X_test, y_test)
    assert f"Best: cell={best} " in out
    assert out.rstrip().endswith(f"held-out R² = {held_out:.3f}")


@pytest.mark.slow  # a grid search with cross-validation: a minute or more
def test_quick_demo_reports_the_best_candidate(tmp_path):
    # CI runs the vowels demo itself; this is the forecasting one, end to end
    result = subprocess.run(
        [sys.executable, "-m", "skrnn", "--quick", "--dataset", "airline"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    table = re.findall(r"^(rnn|gru)\s+(-?\d\.\d+)\s+\d+\.\d+s$", out, re.M)
    assert sorted(cell for cell, _ in table) == ["gru", "rnn"]
    scores = [float(s) for _, s in table]
    assert scores == sorted(scores, reverse=True)  # best first
    best = re.search(
        r"Best: cell=(\w+) \(hidden_layer_sizes_=\((\d+),\), \d+ epochs\); "
        r"held-out R² = (-?\d\.\d+)",
        out,
    )
    assert best is not None, out
    assert best.group(1) == table[0][0]
    # the mean of the training changes scores about 0 on the held-out year
    assert float(best.group(3)) > 0.5
