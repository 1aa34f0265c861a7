"""Shared test configuration: Hypothesis profiles ("ci" by default, "dev" on demand)."""

import os

import pytest
from hypothesis import settings

import skrnn
from skrnn import _fast, _parallel

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


@pytest.fixture(
    scope="module",
    # the compiled run is in the slow selection (CI runs it): the default run
    # keeps the kernels' own equality tests (test_fast_path.py) under 5 minutes
    params=["numpy-scan", pytest.param("fast-scan", marks=pytest.mark.slow)],
)
def both_scan_paths(request):
    """Run a module once on the NumPy scan and once on the compiled kernels.

    ``pytestmark = pytest.mark.usefixtures("both_scan_paths")`` in the gradient
    and parity modules; the compiled run skips without numba.
    """
    fast = request.param == "fast-scan"
    if fast:
        pytest.importorskip("numba", reason="the compiled scan needs numba")
    with skrnn.config_context(fast_path=fast):
        yield fast


@pytest.fixture
def numpy_scan():
    """Run the test on the NumPy scan (tests of its internals), not the kernels."""
    with skrnn.config_context(fast_path=False):
        yield


@pytest.fixture
def shard_every_batch(monkeypatch):
    """Call it to make the scan split any batch into shards, however small."""

    def apply():
        monkeypatch.setattr(_parallel, "MIN_SHARD_WORK", 1)
        monkeypatch.setattr(_parallel, "MIN_SHARD_ROWS", 1)
        monkeypatch.setattr(_parallel, "MIN_SHARD_GATES", 0)
        monkeypatch.setattr(_fast, "MIN_FAST_SHARD_WORK", 0)

    return apply


#: Test modules run at the declared minimum versions of numpy, scipy and
#: scikit-learn (``.ci/run``'s second environment, ``-m min_versions``): the
#: estimators end to end, every solver, the data boundary, threads and streams.
#: About 40 s; test_common's full scikit-learn checks stay on current versions.
MIN_VERSIONS_MODULES = {
    "test_data.py",
    "test_estimator_training.py",
    "test_estimators.py",
    "test_optim.py",
    "test_parallel.py",
    "test_preprocessing.py",
    "test_robustness.py",
    "test_streaming.py",
    "test_training.py",
}


def pytest_ignore_collect(collection_path, config):
    """With ``-m min_versions``, skip the other modules (their optional imports)."""
    if config.getoption("markexpr") != "min_versions":
        return None
    name = collection_path.name
    if name.startswith("test_") and name.endswith(".py"):
        return name not in MIN_VERSIONS_MODULES or None
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in MIN_VERSIONS_MODULES:
            item.add_marker(pytest.mark.min_versions)
