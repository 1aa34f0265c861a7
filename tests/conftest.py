"""Shared test configuration: Hypothesis profiles ("ci" by default, "dev" on demand)."""

import os

import pytest
from hypothesis import settings

from skrnn import _parallel

# "ci": the same examples on every run and every machine, so a failure reproduces
# exactly; print_blob=True prints the @reproduce_failure line for a failing example.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=20,
    print_blob=True,
)
# "dev": HYPOTHESIS_PROFILE=dev python -m pytest tests/ -- five times the examples,
# still derandomized so a failure found locally reproduces in CI with the same blob.
settings.register_profile(
    "dev",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def shard_every_batch(monkeypatch):
    """Call it to make the scan split any batch into shards, however small."""

    def apply():
        monkeypatch.setattr(_parallel, "MIN_SHARD_WORK", 1)
        monkeypatch.setattr(_parallel, "MIN_SHARD_ROWS", 1)
        monkeypatch.setattr(_parallel, "MIN_SHARD_GATES", 0)

    return apply
