"""Grid searches in parallel: loky workers share the cores without oversubscribing
them, and a Dask cluster gives exactly the local (joblib) results."""

import os
import warnings

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster, get_task_stream
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from threadpoolctl import threadpool_info

from skrnn import RNNRegressor
from skrnn._parallel import max_threads
from skrnn.datasets import make_adding_problem

GRID = {"cell": ["rnn", "gru"], "hidden_layer_sizes": [(4,), (8,)]}
SCORES = [
    "mean_test_score",
    "split0_test_score",
    "split1_test_score",
    "rank_test_score",
]


def _search(n_jobs):
    X, y = make_adding_problem(n_samples=60, n_timesteps=8, random_state=0)
    search = GridSearchCV(
        RNNRegressor(max_iter=5, random_state=0),
        GRID,
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y), X


@pytest.fixture(scope="module")
def reference():
    return _search(n_jobs=1)


def _assert_same_search(search, reference, X):
    ref, _ = reference
    for key in SCORES:
        assert_array_equal(search.cv_results_[key], ref.cv_results_[key])
    assert search.best_params_ == ref.best_params_
    assert_array_equal(search.predict(X), ref.predict(X))


def test_loky_matches_sequential(reference):
    search, X = _search(n_jobs=2)
    _assert_same_search(search, reference, X)


def _worker_threads(estimator, X, y):
    """A scorer run inside each worker: the thread budgets it sees there."""
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return 100 * max(blas) + max_threads()


def test_loky_workers_do_not_oversubscribe_the_cores():
    # 2 workers on this machine's cores: each worker's BLAS and skrnn's batch
    # sharding get at most its share, and training itself runs BLAS on 1 thread.
    X, y = make_adding_problem(n_samples=40, n_timesteps=6, random_state=0)
    n_jobs = 2
    share = max(1, len(os.sched_getaffinity(0)) // n_jobs)
    search = GridSearchCV(
        RNNRegressor(max_iter=2, random_state=0),
        {"cell": ["rnn", "gru"]},
        cv=2,
        n_jobs=n_jobs,
        scoring=_worker_threads,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    seen = search.cv_results_["mean_test_score"]
    assert (seen // 100 <= share).all() and (seen % 100 <= share).all(), seen


def test_training_runs_blas_on_one_thread(monkeypatch):
    from skrnn import _training

    seen = []
    original = _training.fit_stochastic

    def spy(*args, **kwargs):
        seen.extend(
            p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"
        )
        return original(*args, **kwargs)

    monkeypatch.setattr(_training, "fit_stochastic", spy)
    X, y = make_adding_problem(n_samples=20, n_timesteps=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNRegressor(max_iter=1).fit(X, y)
    assert seen and set(seen) == {1}


def test_dask_backend_matches_sequential(reference):
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as tasks,
        joblib.parallel_backend("dask"),
    ):
        search, X = _search(n_jobs=-1)
        cluster_workers = set(client.scheduler_info()["workers"])
    # the fits really ran as tasks on the cluster's workers
    assert len(cluster_workers) == 2
    assert any("_fit_and_score" in str(task["key"]) for task in tasks.data)
    assert {task["worker"] for task in tasks.data} <= cluster_workers
    _assert_same_search(search, reference, X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
