"""Failed calls never damage a model; threads, refits and odd inputs (issue 14)."""

import copy
import threading
import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_info

from skrnn import (
    DivergenceError,
    RNNClassifier,
    RNNRegressor,
    Seq2SeqTransformer,
    _bptt,
    _lbfgs,
    _parallel,
)
from skrnn.__main__ import main as cli_main
from skrnn._network import Architecture
from skrnn.preprocessing import SequenceScaler, make_windows

#: One fit of the regressor's network, where a test is about one training run
#: (the folds of early_stopping="auto": test_epoch_cv; the skip: test_linear_skip)
PLAIN = {"early_stopping": False, "linear_skip": 0}


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
    reg = RNNRegressor(
        "gru", (6,), return_sequences=True, max_iter=3, random_state=0, **PLAIN
    )
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


# ------------------------------------------------------- a failing call restores
def _attributes(est):
    """Every fitted attribute, deep-copied, for equality checks."""
    params = est.get_params(deep=False)
    return {k: copy.deepcopy(v) for k, v in vars(est).items() if k not in params}


def _assert_same(a, b, where="attributes"):
    """Equal, recursively, leaving nothing out: dicts, sequences, arrays and
    scalars by value, a RandomState by its state, any other object (the
    training state, its optimizer, a label encoder) by its attributes."""
    if isinstance(a, np.random.RandomState):
        a, b = a.get_state(), b.get_state()
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where, strict=True)
    elif isinstance(a, (int, float, str, bytes, np.generic, type(None))):
        assert a == b or (a != a and b != b), where
    else:
        _assert_same(vars(a), vars(b), where)


def _data(n=24, T=6, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    return X, X[:, :, 0].sum(axis=1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refused_refit_leaves_a_fitted_classifier_exactly_as_it_was():
    X, y = _data()
    labels = np.where(y > 0, "up", "down")
    clf = RNNClassifier("gru", (4,), max_iter=2, random_state=0).fit(X, labels)
    before, pred = _attributes(clf), clf.predict(X)
    X3 = np.random.RandomState(1).normal(size=(24, 6, 3))
    three = np.array(["a", "b", "c"] * 8)
    with pytest.raises(ValueError, match="negative"):
        clf.fit(X3, three, sample_weight=-np.ones(24))
    with pytest.raises(ValueError, match="samples"):
        clf.fit(X3, three[:5])
    with pytest.raises(ValueError, match="features per time step"):
        clf.partial_fit(X3, three)
    _assert_same(_attributes(clf), before)
    np.testing.assert_array_equal(clf.predict(X), pred)
    assert list(clf.classes_) == ["down", "up"] and clf.n_features_in_ == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refused_regressor_refit_keeps_its_outputs_and_target_scaling():
    X, y = _data()
    reg = RNNRegressor("rnn", (4,), max_iter=2, random_state=0).fit(X, y)
    before = _attributes(reg)
    # recent scikit-learn refuses all-zero weights itself, older ones leave it
    # to skrnn's check
    with pytest.raises(ValueError, match="sums to zero|non-zero"):
        reg.fit(X[:, :, :1], np.c_[y, y, y] * 100, sample_weight=np.zeros(24))
    _assert_same(_attributes(reg), before)
    # refused once the new network's settings and random state were drawn
    reg.set_params(hidden_layer_sizes=(10**5,))
    with pytest.raises(ValueError, match="parameters"):
        reg.fit(X[:, :, :1], y)
    _assert_same(_attributes(reg), before)
    assert reg.predict(X).shape == (24,)


class _InterruptAfter:
    """Wraps batch_loss_grad: raises KeyboardInterrupt on its n-th call."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return _real_batch_loss_grad(*args, **kwargs)


_real_batch_loss_grad = _bptt.batch_loss_grad


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_interrupted_adam_keeps_the_last_completed_epoch(monkeypatch):
    X, y = _data(n=24)
    kw = dict(cell="gru", hidden_layer_sizes=(4,), batch_size=8, random_state=0)
    kw.update(PLAIN)
    two = RNNRegressor(**kw, max_iter=2).fit(X, y)
    reg = RNNRegressor(**kw, max_iter=5)
    # 3 batches per epoch: the 8th call is in the middle of epoch 3
    monkeypatch.setattr(_bptt, "batch_loss_grad", _InterruptAfter(8))
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    assert reg.n_iter_ == 2 and len(reg.loss_curve_) == 2
    assert reg.loss_curve_ == two.loss_curve_
    for k, v in two.state_dict_.items():
        np.testing.assert_array_equal(reg.state_dict_[k], v)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_interrupted_lbfgs_keeps_its_last_accepted_iterate(monkeypatch):
    X, y = _data(n=16)
    kw = dict(cell="rnn", hidden_layer_sizes=(3,), solver="lbfgs", random_state=0)
    kw.update(PLAIN)
    reg = RNNRegressor(**kw, max_iter=50)
    monkeypatch.setattr(_bptt, "batch_loss_grad", _InterruptAfter(15))
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    monkeypatch.undo()
    n = reg.n_iter_
    assert 1 <= n == len(reg.loss_curve_)
    assert np.isfinite(reg.best_loss_) and reg.best_loss_ == min(reg.loss_curve_)
    same = RNNRegressor(**kw, max_iter=n).fit(X, y)
    assert same.loss_curve_[:n] == reg.loss_curve_
    for k, v in same.state_dict_.items():
        np.testing.assert_array_equal(reg.state_dict_[k], v)


def test_interrupt_before_any_lbfgs_iteration_leaves_the_model_unfitted(
    monkeypatch,
):
    X, y = _data(n=16)
    reg = RNNRegressor("rnn", (3,), solver="lbfgs", random_state=0)
    monkeypatch.setattr(_bptt, "batch_loss_grad", _InterruptAfter(1))
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    assert not hasattr(reg, "state_dict_") and not hasattr(reg, "n_features_in_")


# --------------------------------------------------- partial_fit divergence
def test_partial_fit_one_batch_per_call_catches_slow_growth(monkeypatch):
    X, y = _data(n=8)
    reg = RNNRegressor("rnn", (3,), solver="sgd", random_state=0)
    reg.partial_fit(X, y)
    growth = {"k": 0}

    def growing(*args, **kwargs):  # the loss grows tenfold with every call
        value, grads = _real_batch_loss_grad(*args, **kwargs)
        growth["k"] += 1
        return value * 10.0 ** growth["k"], grads

    monkeypatch.setattr(_bptt, "batch_loss_grad", growing)
    with pytest.raises(DivergenceError, match="keeps the model it had before"):
        for _ in range(10):
            reg.partial_fit(X, y)
    assert 6 <= growth["k"] <= 8
    assert reg.n_iter_ == growth["k"]  # the call that diverged was undone


# ------------------------------------------------------------ dtype overflow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_model_refuses_float64_input_beyond_float32():
    X, y = _data()
    reg = RNNRegressor("gru", (4,), bidirectional=False, max_iter=2, random_state=0)
    reg.fit(X.astype(np.float32), y.astype(np.float32))
    big = X.copy()
    big[3, 2, 1] = 1e39
    with pytest.raises(ValueError, match="beyond the range of float32"):
        reg.predict(big)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        reg.stream().predict(big)
    assert np.isfinite(reg.predict(X)).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "make",
    [
        lambda: RNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0),
        lambda: RNNRegressor(
            hidden_layer_sizes=(4,), max_iter=2, early_stopping=False, random_state=0
        ),
        lambda: Seq2SeqTransformer(hidden_layer_sizes=(4,), max_iter=2),
    ],
)
def test_targets_whose_spread_overflows_are_refused_and_keep_the_model(make):
    # a standard deviation beyond float64 would make every prediction NaN
    X, y = _data()
    est = make()
    target = X if isinstance(est, Seq2SeqTransformer) else y
    est.fit(X, target)
    before = est.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow noise
        with pytest.raises(ValueError, match="y is too large"):
            est.fit(X, target * 1e300)
    np.testing.assert_array_equal(est.predict(X), before)


@pytest.mark.parametrize(
    ("params", "what"),
    [
        ({"linear_skip": 3}, "linear skip's"),
        (
            {"local_level": "last", "level_features": 0, "linear_skip": 0},
            "level gain's",
        ),
    ],
)
def test_inputs_whose_spread_overflows_are_refused_by_the_ridges(params, what):
    X, y = _data()
    X = X * 1e200  # finite, but their squares are not
    est = RNNRegressor(
        hidden_layer_sizes=(4,), early_stopping=False, random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow noise
        with pytest.raises(ValueError, match=f"the {what} ridge regression overflow"):
            est.fit(X, y)
    assert not hasattr(est, "state_dict_")


# ------------------------------------------------- warm start, new network
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "change", [{"hidden_layer_sizes": (5,)}, {"cell": "lstm"}, {"bidirectional": False}]
)
def test_warm_start_with_a_new_architecture_starts_afresh(change):
    X, y = _data()
    kw = dict(cell="gru", hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    kw.update(PLAIN)
    reg = RNNRegressor(**kw).fit(X, y)
    reg.set_params(warm_start=True, **change).fit(X, y)
    fresh = RNNRegressor(**{**kw, **change}).fit(X, y)
    assert reg.state_dict_.keys() == fresh.state_dict_.keys()
    for k, v in fresh.state_dict_.items():
        np.testing.assert_array_equal(reg.state_dict_[k], v)
    assert reg.n_iter_ == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_refuses_a_changed_architecture():
    X, y = _data()
    reg = RNNRegressor("gru", (4,), random_state=0).partial_fit(X, y)
    before = _attributes(reg)
    reg.set_params(hidden_layer_sizes=(6,))
    with pytest.raises(ValueError, match="changed since the model was fitted"):
        reg.partial_fit(X, y)
    _assert_same(_attributes(reg), before)


# ------------------------------------------------- a stream keeps its model
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("refit", ["fit", "partial_fit", "load_state_dict"])
def test_stream_opened_before_a_refit_serves_the_model_it_was_opened_on(refit):
    X, y = _data(T=8)
    reg = RNNRegressor("gru", (4,), return_sequences=True, max_iter=2)
    reg.set_params(random_state=0).fit(X, np.cumsum(X[:, :, 0], axis=1))
    original = copy.deepcopy(reg)
    stream = reg.stream()
    first = stream.predict(X[:3, :4])
    if refit == "fit":
        reg.set_params(random_state=1).fit(X * 3, -np.cumsum(X[:, :, 1], axis=1))
    elif refit == "partial_fit":
        reg.partial_fit(X * 3, -np.cumsum(X[:, :, 1], axis=1))
    else:
        reg.load_state_dict({k: v * 0.5 for k, v in reg.state_dict_.items()})
    rest = stream.predict(X[:3, 4:])
    want = original.predict(X[:3])
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), want)
    assert not np.allclose(reg.predict(X[:3]), want)


# ------------------------------------------------------------------ L-BFGS
def test_lbfgs_refuses_truncated_bptt():
    X, y = _data()
    reg = RNNRegressor("gru", (4,), solver="lbfgs", bptt_steps=2)
    with pytest.raises(ValueError, match="bptt_steps.*lbfgs"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")


def test_lbfgs_warns_on_an_abnormal_stop(monkeypatch):
    minimize = _lbfgs.scipy.optimize.minimize

    def abnormal(*args, **kwargs):
        result = minimize(*args, **kwargs)
        result.status, result.message = 2, "ABNORMAL_TERMINATION_IN_LNSRCH"
        return result

    monkeypatch.setattr(_lbfgs.scipy.optimize, "minimize", abnormal)
    X, y = _data()
    reg = RNNRegressor("rnn", (3,), solver="lbfgs", max_iter=500, random_state=0)
    with pytest.warns(ConvergenceWarning, match="ABNORMAL_TERMINATION") as rec:
        reg.fit(X, y)
    assert len(rec) == 1 and rec[0].filename == __file__


def test_lbfgs_verbose_prints_every_iteration(capsys):
    X, y = _data()
    reg = RNNRegressor("rnn", (3,), solver="lbfgs", max_iter=5, verbose=True, **PLAIN)
    with pytest.warns(ConvergenceWarning):
        reg.set_params(random_state=0).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "loss =" in ln]
    assert len(lines) == reg.n_iter_ == 5
    assert lines[0].startswith("Iteration 1, loss = ")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_convergence_warning_points_at_the_callers_line_once_per_fit(solver):
    X, y = _data()
    reg = RNNRegressor("rnn", (3,), solver=solver, max_iter=2, random_state=0, **PLAIN)
    with pytest.warns(ConvergenceWarning) as rec:
        reg.fit(X, y)
    assert len(rec) == 1
    assert rec[0].filename == __file__


# ---------------------------------------------------- early-stopping weights
def test_early_stopping_scores_the_validation_split_with_its_weights():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5, 1))
    y = X[:, :, 0].sum(axis=1)
    w = np.ones(120)
    w[::2] = 0
    y[::2] = rng.normal(scale=1e3, size=60)  # weightless rows: noise, ignored
    reg = RNNRegressor(
        "gru", (8,), early_stopping=True, validation_fraction=0.5, max_iter=30
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.set_params(random_state=0).fit(X, y, sample_weight=w)
    # weighted, the validation R2 is that of the learnable rows
    assert reg.best_validation_score_ > 0.5


def test_validation_split_of_weightless_rows_is_refused():
    X, y = _data(n=10)
    w = np.zeros(10)
    w[0] = 1  # one weighted row: a 50% split of weightless rows cannot be scored
    reg = RNNRegressor("rnn", (3,), early_stopping=True, validation_fraction=0.2)
    with pytest.raises(ValueError, match="weight zero"):
        for seed in range(5):  # some seed draws the weighted row into training
            reg.set_params(random_state=seed).fit(X, y, sample_weight=w)


# -------------------------------------------------------------- small edges
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_forecast_refuses_booleans_for_steps_and_window():
    series = np.sin(np.arange(60) * 0.3)
    X, y = make_windows(series, window=8)
    reg = RNNRegressor("rnn", (3,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        reg.forecast(series[None, -8:], n_steps=True)
    with pytest.raises(ValueError, match="window must be"):
        reg.forecast(series[None, -8:], n_steps=2, window=True)


def test_huge_network_is_refused_before_allocating():
    X, y = _data()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="parameters"):
            RNNRegressor("lstm", (10**7,)).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_multistep_multivariate_windows_get_the_reshape_advice():
    series = np.random.RandomState(0).normal(size=(60, 2))
    X, y = make_windows(series, window=8, horizon=3)
    assert y.shape == (50, 3, 2)
    reg = RNNRegressor("rnn", (3,), max_iter=2, random_state=0, **PLAIN)
    with pytest.raises(ValueError, match=r"y.reshape\(len\(y\), -1\)"):
        reg.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, y.reshape(len(y), -1))
    assert reg.forecast(X[:2], n_steps=5).shape == (2, 5, 2)


def test_cli_refuses_zero_jobs(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["--n-jobs", "0"])
    assert exc.value.code == 2
    assert "must not be 0" in capsys.readouterr().err


# ------------------------------------------------- set_output and DataFrames
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_global_pandas_output_keeps_sequence_pipelines_working():
    pd = pytest.importorskip("pandas", reason="DataFrame output needs pandas")
    X, y = _data()
    pipe = make_pipeline(
        SequenceScaler(), RNNRegressor("rnn", (3,), max_iter=2, random_state=0)
    )
    want = pipe.fit(X, y).predict(X)
    with sklearn.config_context(transform_output="pandas"):
        got = pipe.fit(X, y).predict(X)
        assert isinstance(SequenceScaler().fit_transform(X), np.ndarray)
        table = SequenceScaler().fit_transform(X[:, :, 0])
        assert isinstance(table, pd.DataFrame)
        assert isinstance(
            SequenceScaler().fit(X[:, :, 0]).transform(X[:, :, 0]), pd.DataFrame
        )
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="SequenceScaler.set_output.*cannot hold"):
        SequenceScaler().set_output(transform="pandas").fit_transform(X)


def test_nan_padded_dataframe_rows_get_the_list_advice():
    pd = pytest.importorskip("pandas", reason="the case is a DataFrame")
    df = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, np.nan], [6.0, np.nan, np.nan]])
    reg = RNNRegressor("rnn", (3,))
    with pytest.raises(ValueError, match="Pass a list of sequences"):
        reg.fit(df, [1.0, 2.0, 3.0])
    gap = pd.DataFrame([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    with pytest.raises(ValueError, match="impute missing values"):
        reg.fit(gap, [1.0, 2.0])


# ------------------------------------------- state dicts into unfitted models
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unfitted_regressor_takes_a_state_dict_and_predicts_raw_head_output():
    X, y = _data(F=3)
    Y = np.c_[y, -2 * y]
    fitted = RNNRegressor("gru", (4,), max_iter=3, random_state=0).fit(X, Y)
    foreign = {k: v.copy() for k, v in fitted.state_dict_.items()}
    reg = RNNRegressor("gru", (4,)).load_state_dict(foreign)
    assert reg.n_features_in_ == 3 and reg.n_outputs_ == 2
    raw = (fitted.predict(X) - fitted.target_mean_) / fitted.target_scale_
    np.testing.assert_allclose(reg.predict(X), raw, rtol=1e-12, atol=1e-12)
    reg.partial_fit(X, Y)  # and it trains on
    assert reg.n_iter_ == 1
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(5,\)"):
        RNNRegressor("gru", (5,)).load_state_dict(foreign)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("labels", [["no", "yes"], ["a", "b", "c"]])
def test_unfitted_classifier_takes_a_state_dict_with_its_classes(labels):
    X, _ = _data()
    y = np.array(labels * 12)[:24]
    fitted = RNNClassifier("rnn", (4,), max_iter=3, random_state=0).fit(X, y)
    foreign = {k: v.copy() for k, v in fitted.state_dict_.items()}
    with pytest.raises(ValueError, match="needs classes="):
        RNNClassifier("rnn", (4,)).load_state_dict(foreign)
    clf = RNNClassifier("rnn", (4,)).load_state_dict(foreign, classes=labels)
    np.testing.assert_array_equal(clf.predict(X), fitted.predict(X))
    np.testing.assert_allclose(clf.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "concat", "last_max_mean"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "statal", "wavenet"])
def test_param_shapes_are_those_of_the_initial_weights(cell, pooling):
    # the warm-start, size and load_state_dict checks read shapes without
    # allocating; they must be the shapes training would create
    arch = Architecture(
        cell, (3, 3), 2, 4, bidirectional=cell != "wavenet", n_states=2, pooling=pooling
    )
    params = arch.init_params(np.random.RandomState(0))
    assert arch.param_shapes() == {k: v.shape for k, v in params.items()}
    assert list(arch.param_shapes()) == list(params)


# The optimizers and clipping trust their arguments (they run on every batch):
# every setting a user can get wrong is refused by the estimator, at fit and
# partial_fit, before any work, naming the parameter.
BAD_TRAINING_SETTINGS = [
    ("solver", "rmsprop"),
    ("learning_rate", "linear"),
    ("learning_rate_init", 0.0),
    ("learning_rate_init", -1e-3),
    ("learning_rate_init", float("nan")),
    ("momentum", 1.5),
    ("momentum", -0.1),
    ("nesterovs_momentum", "yes"),
    ("power_t", -1.0),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0.0),
    ("clip_norm", 0.0),
    ("clip_value", -1.0),
]


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier, Seq2SeqTransformer])
@pytest.mark.parametrize("name, bad", BAD_TRAINING_SETTINGS)
def test_bad_training_settings_are_refused_before_any_work(
    monkeypatch, Estimator, name, bad
):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8, 5, 2))
    y = {RNNRegressor: X.sum(axis=(1, 2)), RNNClassifier: X[:, 0, 0] > 0}
    args = (X,) if Estimator is Seq2SeqTransformer else (X, y[Estimator])
    kwargs = {"classes": [False, True]} if Estimator is RNNClassifier else {}
    est = Estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(*args)
    weights = copy.deepcopy(est.state_dict_)

    def no_work(*a, **k):
        raise AssertionError("training started despite an invalid parameter")

    monkeypatch.setattr(_bptt, "batch_loss_grad", no_work)
    est.set_params(**{name: bad})
    fresh = Estimator(**{name: bad})
    calls = [(est.fit, {}), (fresh.fit, {})]
    if name != "solver":  # partial_fit exists for the stochastic solvers only
        calls.append((est.partial_fit, kwargs))
    for method, extra in calls:
        with pytest.raises(
            ValueError, match=rf"'{name}' parameter of {Estimator.__name__}"
        ):
            method(*args, **extra)
    assert not hasattr(fresh, "state_dict_")
    for k, w in weights.items():
        np.testing.assert_array_equal(est.state_dict_[k], w)
