"""``python -m skrnn``: the demo's grid search runs and reports its best model."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skrnn.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_dataset_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.slow  # a grid search with cross-validation: a minute or more
def test_quick_demo_reports_the_best_candidate(tmp_path):
    # CI runs the vowels demo itself; this is the forecasting one, end to end
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [sys.executable, "-m", "skrnn", "--quick", "--dataset", "airline"],
        cwd=tmp_path,
        env=env,
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
