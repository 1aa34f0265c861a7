"""Parity with torch.nn.RNN/LSTM/GRU: weights exchange both ways, outputs, gradients."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skrnn._network import Architecture, backward, forward, init_params, weight_names

torch = pytest.importorskip(
    "torch",
    reason="PyTorch is optional (the benchmark extra); these tests compare with it",
)
pack_padded_sequence = torch.nn.utils.rnn.pack_padded_sequence
pad_packed_sequence = torch.nn.utils.rnn.pad_packed_sequence

TORCH_CLASSES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
# The gradient and parity checks run on both implementations of the scan.
pytestmark = pytest.mark.usefixtures("both_scan_paths")

VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
F, H, N_OUT, T = 2, 3, 2, 5
RAGGED = np.array([5, 2, 4, 1])  # unsorted on purpose (enforce_sorted=False)
FULL = np.array([5, 5, 5])
ATOL = 1e-10


def _arch(cell, nonlinearity, n_layers, bidirectional, return_sequences=True):
    return Architecture(
        cell=cell,
        hidden_sizes=(H,) * n_layers,
        n_inputs=F,
        n_outputs=N_OUT,
        bidirectional=bidirectional,
        nonlinearity=nonlinearity,
        return_sequences=return_sequences,
    )


def _torch_modules(arch):
    """``(recurrent module, head)`` in float64 with PyTorch's own initialisation."""
    kwargs = {"nonlinearity": arch.nonlinearity} if arch.cell == "rnn" else {}
    rnn = TORCH_CLASSES[arch.cell](
        F,
        H,
        num_layers=len(arch.hidden_sizes),
        batch_first=True,
        bidirectional=arch.bidirectional,
        **kwargs,
    )
    head = torch.nn.Linear(arch.n_directions * H, N_OUT)
    return rnn.double(), head.double()


def _torch_state_dict(rnn, head):
    """The two modules as one flat state dict; the head's keys prefixed ``head.``."""
    state = dict(rnn.state_dict())
    state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    return state


def _load_into_torch(arch, params):
    rnn, head = _torch_modules(arch)
    rnn.load_state_dict(
        {k: torch.from_numpy(v) for k, v in params.items() if not k.startswith("head.")}
    )
    head.load_state_dict(
        {k[5:]: torch.from_numpy(v) for k, v in params.items() if k.startswith("head.")}
    )
    return rnn, head


def _torch_state0(arch, state0):
    """Our per-layer, per-direction carries as torch's ``(L * D, B, H)`` tensors."""
    h0 = np.stack([s["h"] for layer in state0 for s in layer])
    if arch.cell != "lstm":
        return torch.tensor(h0, requires_grad=True)
    c0 = np.stack([s["c"] for layer in state0 for s in layer])
    return torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)


def _torch_run(arch, rnn, head, X, lengths, hx=None):
    """Head outputs (many-to-many and many-to-one) and ``h_n`` (and ``c_n``)."""
    x = torch.tensor(X, requires_grad=True)
    packed = pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = rnn(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=X.shape[1])
    h_n = state[0] if arch.cell == "lstm" else state
    last = torch.cat([h_n[-2], h_n[-1]], dim=1) if arch.bidirectional else h_n[-1]
    return x, head(out), head(last), state


def _compare_states(arch, ours, theirs):
    states = theirs if arch.cell == "lstm" else (theirs,)
    keys = ["h", "c"] if arch.cell == "lstm" else ["h"]
    for key, tensor in zip(keys, states, strict=True):
        stacked = np.stack([s[key] for layer in ours for s in layer])
        assert_allclose(stacked, tensor.detach().numpy(), rtol=0, atol=ATOL)


def _valid(lengths):
    return (np.arange(T)[None, :] < lengths[:, None])[:, :, None]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("cell, nonlinearity", VARIANTS)
def test_our_weights_in_torch_give_our_outputs(
    cell, nonlinearity, n_layers, bidirectional
):
    arch = _arch(cell, nonlinearity, n_layers, bidirectional)
    rng = np.random.RandomState(n_layers)
    params = init_params(arch, rng)
    for name, p in params.items():  # non-zero biases everywhere
        params[name] = p + 0.2 * rng.standard_normal(p.shape)
    rnn, head = _load_into_torch(arch, params)
    for lengths in [RAGGED, FULL]:
        X = rng.standard_normal((len(lengths), T, F))
        _, probe, _ = forward(arch, params, X, lengths)
        state0 = [
            [{k: rng.standard_normal(v.shape) for k, v in s.items()} for s in layer]
            for layer in probe
        ]
        with torch.no_grad():
            _, seq, one, state = _torch_run(
                arch, rnn, head, X, lengths, _torch_state0(arch, state0)
            )
        raw, stateT, _ = forward(arch, params, X, lengths, state0=state0)
        valid = _valid(lengths)
        assert_allclose(raw * valid, seq.numpy() * valid, rtol=0, atol=ATOL)
        _compare_states(arch, stateT, state)
        arch1 = _arch(cell, nonlinearity, n_layers, bidirectional, False)
        raw1, _, _ = forward(arch1, params, X, lengths, state0=state0)
        assert_allclose(raw1, one.numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize("cell, nonlinearity", VARIANTS)
def test_torch_weights_in_ours_give_torch_outputs(
    cell, nonlinearity, n_layers, bidirectional
):
    arch = _arch(cell, nonlinearity, n_layers, bidirectional)
    torch.manual_seed(n_layers)
    rnn, head = _torch_modules(arch)
    state = _torch_state_dict(rnn, head)
    ours = init_params(arch, np.random.RandomState(0))
    assert list(state) == weight_names(arch) == list(ours)
    for name, tensor in state.items():
        assert tuple(tensor.shape) == ours[name].shape, name
    params = {k: v.detach().numpy().copy() for k, v in state.items()}
    X = np.random.RandomState(1).standard_normal((len(RAGGED), T, F))
    with torch.no_grad():
        _, seq, one, torch_state = _torch_run(arch, rnn, head, X, RAGGED)
    raw, stateT, _ = forward(arch, params, X, RAGGED)
    valid = _valid(RAGGED)
    assert_allclose(raw * valid, seq.numpy() * valid, rtol=0, atol=ATOL)
    _compare_states(arch, stateT, torch_state)
    arch1 = _arch(cell, nonlinearity, n_layers, bidirectional, False)
    assert_allclose(
        forward(arch1, params, X, RAGGED)[0], one.numpy(), rtol=0, atol=ATOL
    )


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell, nonlinearity", VARIANTS)
def test_gradients_equal_torch_autograd(cell, nonlinearity, return_sequences):
    """Two bidirectional layers, a ragged batch, random initial and final states."""
    arch = _arch(cell, nonlinearity, 2, True, return_sequences)
    rng = np.random.RandomState(5)
    params = {
        k: p + 0.2 * rng.standard_normal(p.shape)
        for k, p in init_params(arch, rng).items()
    }
    X = rng.standard_normal((len(RAGGED), T, F))
    _, probe, _ = forward(arch, params, X, RAGGED)
    state0 = [
        [{k: rng.standard_normal(v.shape) for k, v in s.items()} for s in layer]
        for layer in probe
    ]
    raw, stateT, cache = forward(arch, params, X, RAGGED, state0=state0)
    R = rng.standard_normal(raw.shape)
    if return_sequences:
        R *= _valid(RAGGED)
    S = [
        [{k: rng.standard_normal(v.shape) for k, v in s.items()} for s in layer]
        for layer in stateT
    ]
    grads, dstate0, dX = backward(arch, params, cache, R, S, need_dX=True)

    rnn, head = _load_into_torch(arch, params)
    hx = _torch_state0(arch, state0)
    x, seq, one, state = _torch_run(arch, rnn, head, X, RAGGED, hx)
    loss = ((seq if return_sequences else one) * torch.from_numpy(R)).sum()
    states = state if cell == "lstm" else (state,)
    keys = ["h", "c"] if cell == "lstm" else ["h"]
    for key, tensor in zip(keys, states, strict=True):
        s = np.stack([d[key] for layer in S for d in layer])
        loss = loss + (tensor * torch.from_numpy(s)).sum()
    loss.backward()

    theirs = _torch_state_dict(rnn, head)
    named = dict(rnn.named_parameters())
    named.update({f"head.{k}": v for k, v in head.named_parameters()})
    assert list(grads) == list(theirs)
    for name, g in grads.items():
        assert_allclose(g, named[name].grad.numpy(), rtol=0, atol=ATOL, err_msg=name)
    assert_allclose(dX, x.grad.numpy(), rtol=0, atol=ATOL)
    hx = hx if cell == "lstm" else (hx,)
    for key, tensor in zip(keys, hx, strict=True):
        ours = np.stack([d[key] for layer in dstate0 for d in layer])
        assert_allclose(ours, tensor.grad.numpy(), rtol=0, atol=ATOL)
