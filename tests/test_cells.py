"""Tests of skrnn._cells: gate order and variants pinned by hand-computed values."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skrnn._cell_contract import fold_bias
from skrnn._cells import CELLS, sigmoid_
from skrnn._recurrent import make_cell
from skrnn._scan import scan_forward

CELL_NAMES = sorted(CELLS)


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def _one_unit(name, w_ih, w_hh, b_ih, b_hh, xs, h0, c0=None, nonlinearity="tanh"):
    """Run a one-unit, one-input cell over the scalar inputs ``xs`` (batch of 1)."""
    cell = make_cell(name, nonlinearity)
    params = [
        np.array(w_ih, float).reshape(-1, 1),
        np.array(w_hh, float).reshape(-1, 1),
        np.array(b_ih, float),
        np.array(b_hh, float),
    ]
    carry0 = {"h": np.array([[h0]])}
    if c0 is not None:
        carry0["c"] = np.array([[c0]])
    X = np.array(xs, float).reshape(-1, 1, 1)
    return scan_forward(cell, params, X, carry0)


# ------------------------------------------------------------------------- sigmoid


def test_sigmoid_in_place_matches_the_logistic_function():
    x = np.array([-800.0, -30.0, -2.0, 0.0, 0.5, 3.0, 30.0, 800.0])
    expected = [sig(v) if abs(v) < 700 else float(v > 0) for v in x]
    out = sigmoid_(x)
    assert out is x
    # 0.5 tanh(x / 2) + 0.5 is exact to ~1 ulp of 1, not relative near 0
    assert_allclose(x, expected, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------- LSTM

# Distinct values per gate row, so any permutation of (i, f, g, o) changes the result.
LSTM_W_IH = [0.5, -0.3, 0.8, 0.2]
LSTM_W_HH = [0.1, 0.4, -0.6, 0.7]
LSTM_B_IH = [0.1, 0.2, -0.1, 0.05]
LSTM_B_HH = [-0.2, 0.3, 0.15, 0.1]


def _lstm_by_hand(xs, h, c):
    """PyTorch's equations, gate order (i, f, g, o), one unit, with ``math``."""
    hs, cs = [], []
    for x in xs:
        pre = [
            LSTM_W_IH[k] * x + LSTM_B_IH[k] + LSTM_W_HH[k] * h + LSTM_B_HH[k]
            for k in range(4)
        ]
        i, f, g, o = sig(pre[0]), sig(pre[1]), math.tanh(pre[2]), sig(pre[3])
        c = f * c + i * g
        h = o * math.tanh(c)
        hs.append(h)
        cs.append(c)
    return hs, cs


def test_lstm_three_steps_by_hand():
    xs, h0, c0 = [0.9, -1.3, 0.4], -0.4, 0.6
    cache = _one_unit("lstm", LSTM_W_IH, LSTM_W_HH, LSTM_B_IH, LSTM_B_HH, xs, h0, c0)
    hs, cs = _lstm_by_hand(xs, h0, c0)
    assert_allclose(cache["h"][1:, 0, 0], hs, rtol=1e-12)
    assert_allclose(cache["c"][1:, 0, 0], cs, rtol=1e-12)


# Biases that open (+30) or close (-30) a gate, and a candidate pre-activation of 0.7
# (w_ih = w_hh = 0); per case, the expected (h, c) from c0 = 0.5 in words.
LSTM_SWITCHES = {
    # input open, forget closed, output open: c = g, h = tanh(g)
    "write": ([30.0, -30.0, 0.7, 30.0], math.tanh(0.7)),
    # input closed, forget open, output open: c = c0, h = tanh(c0)
    "keep": ([-30.0, 30.0, 0.7, 30.0], 0.5),
    # input closed, forget closed: c = 0 and h = 0 whatever the output gate
    "forget": ([-30.0, -30.0, 0.7, 30.0], 0.0),
}


@pytest.mark.parametrize("case", sorted(LSTM_SWITCHES))
def test_lstm_gate_positions_with_one_gate_pattern_at_a_time(case):
    bias, c_expected = LSTM_SWITCHES[case]
    cache = _one_unit("lstm", [0] * 4, [0] * 4, bias, [0] * 4, [1.0], 0.3, 0.5)
    h, c = cache["h"][1, 0, 0], cache["c"][1, 0, 0]
    assert c == pytest.approx(c_expected, abs=1e-9)
    assert h == pytest.approx(math.tanh(c_expected), abs=1e-9)
    # and what the equations give with the saturated gates computed by math
    i, f, g, o = sig(bias[0]), sig(bias[1]), math.tanh(bias[2]), sig(bias[3])
    assert c == pytest.approx(f * 0.5 + i * g, rel=1e-12, abs=1e-15)
    assert h == pytest.approx(o * math.tanh(f * 0.5 + i * g), rel=1e-12, abs=1e-15)


def test_lstm_closed_output_gate_hides_the_cell():
    # i, f open, o closed: the cell adds up but h stays ~0
    cache = _one_unit(
        "lstm", [0] * 4, [0] * 4, [30, 30, 0.7, -30], [0] * 4, [1.0], 0, 0.5
    )
    assert cache["c"][1, 0, 0] == pytest.approx(0.5 + math.tanh(0.7), abs=1e-9)
    assert abs(cache["h"][1, 0, 0]) < 1e-12


# ----------------------------------------------------------------------------- GRU

GRU_W_IH = [0.6, -0.4, 0.9]
GRU_W_HH = [0.3, 0.5, -0.8]
GRU_B_IH = [0.1, -0.2, 0.2]
GRU_B_HH = [0.4, 0.1, 1.5]  # a large b_hn separates the two GRU variants


def _gru_by_hand(x, h, reset_after=True):
    """One step, gate order (r, z, n), one unit, with ``math``."""
    pre = [GRU_W_IH[k] * x + GRU_B_IH[k] for k in range(3)]
    r = sig(pre[0] + GRU_W_HH[0] * h + GRU_B_HH[0])
    z = sig(pre[1] + GRU_W_HH[1] * h + GRU_B_HH[1])
    if reset_after:  # PyTorch / cuDNN: r * (W_hn h + b_hn)
        n = math.tanh(pre[2] + r * (GRU_W_HH[2] * h + GRU_B_HH[2]))
    else:  # Cho et al. (2014): W_hn (r * h) + b_hn
        n = math.tanh(pre[2] + GRU_W_HH[2] * (r * h) + GRU_B_HH[2])
    return (1 - z) * n + z * h


def test_gru_applies_the_reset_gate_after_the_hidden_matmul():
    x, h0 = 0.7, -0.5
    cache = _one_unit("gru", GRU_W_IH, GRU_W_HH, GRU_B_IH, GRU_B_HH, [x], h0)
    got = cache["h"][1, 0, 0]
    assert got == pytest.approx(_gru_by_hand(x, h0, reset_after=True), rel=1e-12)
    assert abs(got - _gru_by_hand(x, h0, reset_after=False)) > 1e-2


def test_gru_two_steps_by_hand():
    xs, h = [0.7, -1.1], 0.2
    cache = _one_unit("gru", GRU_W_IH, GRU_W_HH, GRU_B_IH, GRU_B_HH, xs, h)
    for t, x in enumerate(xs):
        h = _gru_by_hand(x, h)
        assert cache["h"][t + 1, 0, 0] == pytest.approx(h, rel=1e-12)


@pytest.mark.parametrize(
    "b_iz, expected",
    [
        (30.0, 0.3),  # update gate open: keep h_{t-1}
        (-30.0, math.tanh(0.8)),  # update gate closed: take the candidate n
    ],
)
def test_gru_update_gate_position(b_iz, expected):
    # r, z read biases 0 and b_iz; n reads 0.8 (no hidden term: w_hh = b_hh = 0)
    cache = _one_unit("gru", [0] * 3, [0] * 3, [0.0, b_iz, 0.8], [0] * 3, [1.0], 0.3)
    assert cache["h"][1, 0, 0] == pytest.approx(expected, abs=1e-9)


# ----------------------------------------------------------------------------- RNN


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_two_steps_by_hand(nonlinearity):
    phi = math.tanh if nonlinearity == "tanh" else (lambda v: max(v, 0.0))
    w, u, b_ih, b_hh = 0.8, -1.2, 0.1, -0.3
    xs, h = [1.5, 0.5, -2.0], 0.4
    cache = _one_unit("rnn", [w], [u], [b_ih], [b_hh], xs, h, None, nonlinearity)
    pres = []
    for t, x in enumerate(xs):
        pres.append(w * x + b_ih + u * h + b_hh)
        h = phi(pres[-1])
        assert cache["h"][t + 1, 0, 0] == pytest.approx(h, rel=1e-12, abs=1e-300)
    # the case exercises both signs, so relu and tanh really differ
    assert min(pres) < 0 < max(pres)


def test_rnn_relu_is_unbounded_and_tanh_is_not():
    out = {
        nl: _one_unit("rnn", [3.0], [0.0], [0.0], [0.0], [2.0, -2.0], 0.0, None, nl)
        for nl in ["relu", "tanh"]
    }
    assert_array_equal(out["relu"]["h"][1:, 0, 0], [6.0, 0.0])
    assert_allclose(out["tanh"]["h"][1:, 0, 0], [math.tanh(6.0), math.tanh(-6.0)])


# ------------------------------------------------------------------ cell contract


@pytest.mark.parametrize("name", CELL_NAMES)
def test_registered_cells_follow_the_contract(name):
    cell = make_cell(name, n_states=2)
    assert isinstance(cell.n_gates, int) and cell.n_gates >= 1
    assert "h" not in cell.hidden_carries
    for H in (1, 3):
        V = cell.output_size(H)
        assert isinstance(V, int) and V >= H
        # init_biases changes the zeroed biases in place and nothing else
        b_ih, b_hh = np.zeros(cell.n_gates * H), np.zeros(cell.n_gates * H)
        assert cell.init_biases(b_ih, b_hh, H) is None
        b_ih0, b_hh0 = b_ih.copy(), b_hh.copy()
        bias, b_hidden = fold_bias(cell, b_ih, b_hh, H)
        assert bias.shape == (cell.n_gates * H,)
        if cell.hidden_gates:
            assert b_hidden.shape == (cell.hidden_gates * H,)
        else:
            assert b_hidden is None
        assert_array_equal(b_ih, b_ih0)
        assert_array_equal(b_hh, b_hh0)
        assert isinstance(cell.alloc(3, H, np.float32), dict)
    # hidden-gate blocks are trailing blocks, never all of them
    assert 0 <= cell.hidden_gates < cell.n_gates
    # carries and saved step values have distinct names
    names = ["h", *cell.hidden_carries, *cell.saved]
    assert len(set(names)) == len(names)
    # a gate buffer that is the output buffer has the output's width, and its
    # gradient is the hidden-side one
    if cell.gates_in_output:
        assert cell.n_gates * 3 == cell.output_size(3)
        assert cell.hidden_gates == 0
        assert not cell.hidden_carries


@pytest.mark.parametrize("name", CELL_NAMES)
def test_padded_steps_carry_every_state_unchanged(name):
    rng = np.random.RandomState(0)
    cell = make_cell(name, n_states=2)
    H = 2
    V = cell.output_size(H)
    G = cell.n_gates
    params = [
        rng.standard_normal((G * H, 3)),
        rng.standard_normal((G * H, V)),
        rng.standard_normal(G * H),
        rng.standard_normal(G * H),
    ]
    valid = np.array([[True, True], [True, False], [False, False]])
    cache = scan_forward(cell, params, rng.standard_normal((3, 2, 3)), None, valid)
    for carry in ("h", *cell.hidden_carries):
        c = cache[carry]
        assert_array_equal(c[2, 1], c[1, 1])
        assert_array_equal(c[3, :], c[2, :])
        assert not np.array_equal(c[1, 1], c[0, 1])
