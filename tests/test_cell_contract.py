"""The cell contract (skrnn._cell_contract): a new cell is one class plus its
registration, and every cell's step sees distinct, explicit arrays."""

import numpy as np
import pytest
from _estimator_cases import assert_training_gradient
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skrnn import RNNRegressor
from skrnn._cell_contract import Cell, sigmoid_
from skrnn._cells import CELLS
from skrnn._network import Architecture, init_params
from skrnn._recurrent import init_direction, make_cell
from skrnn._scan import scan_backward, scan_forward

# Both scan paths: a cell without compiled kernels runs the NumPy loop on either.
pytestmark = pytest.mark.usefixtures("both_scan_paths")


class MinimalGatedCell(Cell):
    r"""A test-only cell: a forget gate mixing a candidate into the state.

    .. math::
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        u_t = \tanh(W_{iu} x_t + b_{iu} + W_{hu} h_{t-1} + b_{hu}) \\
        m_t = \lambda m_{t-1} + u_t \\
        h_t = (1 - f_t) \odot h_{t-1} + f_t \odot \tanh(m_t)

    with a fixed leak :math:`\lambda = 1/2`. It has what the standard cells have
    between them: two gates, a hidden carry ``m``, a saved value
    (:math:`\tanh(m_t)`), a direct path from :math:`h_{t-1}` to :math:`h_t` and
    its own initial biases, in one class that no other module knows about.
    """

    n_gates = 2
    hidden_carries = ("m",)
    saved = ("tanh_m",)
    leak = 0.5

    @staticmethod
    def init_biases(b_ih, b_hh, hidden_size):
        b_ih[:hidden_size] = -1.0  # the state mostly kept at first

    def alloc(self, batch, hidden_size, dtype):
        return {
            "tmp": np.empty((batch, hidden_size), dtype),
            "direct": np.empty((batch, hidden_size), dtype),
        }

    def forward(self, gates, hg, prev, out, saved, scratch):
        H = hg.shape[1] // 2
        gates += hg
        f, u = sigmoid_(gates[:, :H]), np.tanh(gates[:, H:], out=gates[:, H:])
        m = np.multiply(prev["m"], self.leak, out=out["m"])
        m += u
        tm = np.tanh(m, out=saved["tanh_m"])
        h = np.subtract(tm, prev["h"], out=out["h"])  # h = h_prev + f (tanh m - h)
        h *= f
        h += prev["h"]

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        dh, dm = dout["h"], dout["m"]
        H = dh.shape[1]
        f, u = gates[:, :H], gates[:, H:]
        df, du = dgates[:, :H], dgates[:, H:]
        tm, tmp = saved["tanh_m"], scratch["tmp"]
        # dm += dh * f * (1 - tanh(m)^2)
        np.multiply(tm, tm, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= f
        tmp *= dh
        dm += tmp
        # df = dh * (tanh m - h_prev) * f (1 - f); du = dm (1 - u^2)
        np.subtract(tm, prev["h"], out=df)
        df *= dh
        np.subtract(1, f, out=tmp)
        df *= f
        df *= tmp
        np.multiply(u, u, out=du)
        np.subtract(1, du, out=du)
        du *= dm
        dm *= self.leak
        return {"h": np.multiply(dh, tmp, out=scratch["direct"]), "m": dm}


@pytest.fixture
def minimal_gated(monkeypatch):
    """The test-only cell, registered as ``"minimal_gated"`` for the test."""
    monkeypatch.setitem(CELLS, "minimal_gated", MinimalGatedCell)
    return "minimal_gated"


@pytest.mark.parametrize("loss", ["squared_error", "log_loss"])
def test_a_registered_cell_trains_by_the_real_loss(minimal_gated, loss):
    """``batch_loss_grad`` as training calls it, on a cell that is one class and
    one CELLS entry: stacked, bidirectional, ragged, per-step weights, dropout
    masks and the L2 penalty."""
    arch = Architecture(
        minimal_gated,
        (2, 3),
        2,
        2,
        bidirectional=True,
        return_sequences=True,
        dropout=0.3,
        recurrent_dropout=0.3,
    )
    rng = np.random.RandomState(0)
    params = {
        name: p + rng.uniform(-0.5, 0.5, p.shape)
        for name, p in init_params(arch, rng, np.float64).items()
    }
    assert_training_gradient(arch, params, loss, rng)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_estimators_accept_a_cell_registered_after_import(minimal_gated):
    """``cell=`` is checked against the registry when a fit validates it, not
    when the estimator classes were defined: a cell registered later trains,
    predicts and scores through RNNRegressor, and the refusal of an unknown
    name lists it among the valid ones."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (60, 6, 2))
    y = X[:, -2:, 0].sum(axis=1)
    reg = RNNRegressor(
        minimal_gated, 6, max_iter=60, early_stopping=False, random_state=0
    ).fit(X, y)
    # the cell's two gates per unit, in both directions
    assert reg.state_dict_["weight_ih_l0"].shape == (12, 2)
    assert reg.state_dict_["weight_ih_l0_reverse"].shape == (12, 2)
    assert reg.loss_curve_[-1] < reg.loss_curve_[0] / 4
    assert reg.score(X, y) > 0.9
    # a batch's products may run through other BLAS kernels than a subset's
    # (OpenBLAS's small-matrix kernels on AVX-512): equal to rounding, not bits
    assert_allclose(reg.predict(X[:5]), reg.predict(X)[:5], rtol=1e-12)
    with pytest.raises(InvalidParameterError, match="'minimal_gated'"):
        RNNRegressor("no such cell").fit(X, y)


def _spy(cell):
    """``cell`` whose steps check their arguments, then run unchanged."""
    seen = {"forward": 0, "backward": 0}

    def arrays(*args):
        found = []
        for a in args:
            if isinstance(a, dict):
                found += [v for v in a.values() if isinstance(v, np.ndarray)]
            elif isinstance(a, np.ndarray):
                found.append(a)
        return found

    def distinct(found, allowed=frozenset()):
        for i, a in enumerate(found):
            for b in found[i + 1 :]:
                if {id(a), id(b)} <= allowed:
                    continue
                assert not np.shares_memory(a, b), (a.shape, b.shape)

    class Spy(type(cell)):
        def forward(self, gates, hg, prev, out, saved, scratch):
            seen["forward"] += 1
            allowed = {id(gates), id(out["h"])} if self.gates_in_output else set()
            # the scratch dict is the cell's own: it may hold what it likes
            distinct(arrays(gates, hg, prev, out, saved), allowed)
            return super().forward(gates, hg, prev, out, saved, scratch)

        def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
            seen["backward"] += 1
            assert (gates is None) == self.gates_in_output
            assert (dhg is None) == (not self.hidden_gates)
            distinct(arrays(dout, gates, prev, out, saved, dgates, dhg))
            return super().backward(dout, gates, prev, out, saved, dgates, dhg, scratch)

    spy = Spy.__new__(Spy)
    spy.__dict__.update(vars(cell))
    return spy, seen


@pytest.mark.parametrize("name", [*sorted(CELLS), "minimal_gated"])
def test_each_step_sees_distinct_arrays(name, minimal_gated, numpy_scan):
    """No argument of a step aliases another (the gradient row is not the gate
    row), except the output row that a ``gates_in_output`` cell computes in;
    the checked run gives the same numbers bit for bit (on the NumPy scan: a
    subclass has no compiled kernels)."""
    rng = np.random.RandomState(1)
    T, B, F, H = 6, 4, 3, 2
    cell = make_cell(name, n_states=2)
    params = [
        p + rng.uniform(-0.5, 0.5, p.shape)
        for p in init_direction(rng, cell, F, H, np.float64)
    ]
    X = rng.randn(T, B, F)
    valid = np.arange(T)[:, None] < np.array([6, 4, 1, 6])[None, :]
    mask = rng.uniform(0.5, 1.5, (B, cell.output_size(H)))
    dY = rng.randn(T, B, cell.output_size(H))
    spy, seen = _spy(cell)
    runs = []
    for c in (cell, spy):
        cache = scan_forward(c, params, X, None, valid, mask)
        h = cache["h"].copy()
        dX, dcarry0, grads = scan_backward(c, params, X, cache, dY)
        runs.append([h, dX, *dcarry0.values(), *grads])
    assert seen == {"forward": T, "backward": T}
    for a, b in zip(*runs, strict=True):
        assert_array_equal(a, b)
