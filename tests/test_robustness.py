"""Failed calls never damage a model; threads, refits and odd inputs (issue 14)."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from skrnn import RNNClassifier, RNNRegressor, _parallel


def _blas_threads():
    return sorted(
        (i["filepath"], i["num_threads"])
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


@pytest.fixture(scope="module")
def stream_model():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 12, 2))
    y = X.sum(axis=2)
    reg = RNNRegressor("gru", (6,), return_sequences=True, max_iter=3, random_state=0)
    with pytest.warns(Warning):
        reg.fit(X, y)
    return reg, X


@pytest.fixture
def two_blas_threads():
    """Every loaded BLAS on 2 threads for the test (set directly, then put back)."""
    libs = _parallel._BLAS.lib_controllers
    found = [lib.get_num_threads() for lib in libs]
    for lib in libs:
        lib.set_num_threads(2)
    yield
    for lib, n in zip(libs, found, strict=True):
        lib.set_num_threads(n)


def test_threads_predicting_and_streaming_match_sequential_and_keep_blas(
    stream_model, two_blas_threads
):
    reg, X = stream_model
    want_pred = [reg.predict(X[i : i + 4]) for i in range(0, 40, 4)]
    want_stream = []
    s = reg.stream()
    for a in range(0, 12, 3):
        want_stream.append(s.predict(X[:5, a : a + 3]))
    results, errors = {}, []
    barrier = threading.Barrier(6)

    def predicting(k):
        barrier.wait()
        try:
            results[k] = [
                reg.predict(X[i : i + 4]) for _ in range(5) for i in range(0, 40, 4)
            ]
        except BaseException as exc:
            errors.append(exc)

    def streaming(k):
        barrier.wait()
        try:
            out = []
            for _ in range(5):
                s = reg.stream()
                out += [s.predict(X[:5, a : a + 3]) for a in range(0, 12, 3)]
            results[k] = out
        except BaseException as exc:
            errors.append(exc)

    before = _blas_threads()
    threads = [
        threading.Thread(target=predicting if k % 2 else streaming, args=(k,))
        for k in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _blas_threads()
    assert not errors
    assert after == before
    for k, got in results.items():
        want = want_pred * 5 if k % 2 else want_stream * 5
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert len(results) == 6
