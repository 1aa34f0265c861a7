"""The kinds of sequence-layer stack a network is built on, one registry entry each.

A stack kind owns everything below the head: its weights (names, shapes,
initialisation), the width of each layer, the dropout masks it takes, and its
forward and backward passes over a time-major batch. ``skrnn._network`` adds
the readout, the head and the linear skip on top of any of them and dispatches
through :data:`STACKS` by :func:`stack_kind`.

Every method takes the network's ``Architecture`` first. ``forward(arch,
params, h, lengths, valid, state0, masks, for_backward)`` returns ``(Y, last,
stateT, cache)``: the top layer's outputs ``(T, B, D)``, the output at each
sequence's last valid step ``(B, D)``, the final state (to continue on a next
chunk) and what ``backward(arch, params, cache, dY, dlast, dstateT, need_dX)``
needs; that returns ``(dX, dstate0, grads)``.

What the estimators ask of a kind before building a network: ``cells``
(the ``cell`` names it builds), ``recurrent``
(a state carried through time: bidirectional reading, recurrent dropout and
truncated BPTT apply), ``first_weight`` (the name of the first layer's input
weight, which gives the features per step of a loaded state dict),
``auto_sizes(width, n_timesteps)`` (``hidden_layer_sizes="auto"``) and
``receptive_field(sizes)`` (steps one output can see, None if unbounded).
"""

from collections.abc import Set

import numpy as np

from ._cells import CELLS
from ._recurrent import init_direction, layer_backward, layer_forward
from ._wavenet import param_shapes as wavenet_param_shapes
from ._wavenet import (
    receptive_field,
    wavenet_backward,
    wavenet_depth,
    wavenet_forward,
    wavenet_init,
)

__all__ = ["CELL_NAMES", "STACKS", "layer_keys", "stack_kind"]

_SUFFIXES = ("", "_reverse")
_DIR_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def layer_keys(arch, k):
    """Weight names of recurrent layer ``k``, one list per direction."""
    return [
        [f"{key}_l{k}{_SUFFIXES[d]}" for key in _DIR_KEYS]
        for d in range(arch.n_directions)
    ]


def stack_kind(cell):
    """Key of :data:`STACKS` for a ``cell`` name: the kind whose ``cells``
    hold it."""
    for kind, stack in STACKS.items():
        if cell in stack.cells:
            return kind
    raise KeyError(f"no sequence-layer kind builds cell={cell!r}")


class _CellNames(Set):
    """Every ``cell`` name of every kind in :data:`STACKS`, read from the
    registries at each use, so a cell registered after import counts at once
    (the estimators' parameter constraint reads it when a fit validates)."""

    def __contains__(self, name):
        return any(name in stack.cells for stack in STACKS.values())

    def __iter__(self):
        for stack in STACKS.values():
            yield from stack.cells

    def __len__(self):
        return sum(len(stack.cells) for stack in STACKS.values())

    @classmethod
    def _from_iterable(cls, names):
        return set(names)  # what set operations on the view return


class RecurrentStack:
    """Stacked recurrent layers (``skrnn._recurrent``), one or two directions,
    with PyTorch's weight names (``weight_ih_l0``, ..., ``_reverse``)."""

    #: Every registered recurrent cell (the registry itself: a later
    #: registration is built at once).
    cells = CELLS
    recurrent = True
    first_weight = "weight_ih_l0"

    @staticmethod
    def auto_sizes(width, n_timesteps):
        return (width,)

    @staticmethod
    def receptive_field(sizes):
        return None

    def layer_sizes(self, arch):
        cell = arch.make_cell()
        sizes, n_in = [], arch.n_inputs
        for H in arch.hidden_sizes:
            n_out = arch.n_directions * cell.output_size(H)
            sizes.append((n_in, n_out))
            n_in = n_out
        return sizes

    def param_shapes(self, arch):
        cell, shapes = arch.make_cell(), {}
        for k, (H, (n_in, _)) in enumerate(
            zip(arch.hidden_sizes, self.layer_sizes(arch), strict=True)
        ):
            GH, V = cell.n_gates * H, cell.output_size(H)
            for keys in layer_keys(arch, k):
                block = [(GH, n_in), (GH, V), (GH,), (GH,)]
                shapes.update(zip(keys, block, strict=True))
        return shapes

    def init_params(self, arch, rng, dtype):
        cell, params = arch.make_cell(), {}
        for k, (H, (n_in, _)) in enumerate(
            zip(arch.hidden_sizes, self.layer_sizes(arch), strict=True)
        ):
            for keys in layer_keys(arch, k):
                arrays = init_direction(rng, cell, n_in, H, dtype)
                params.update(zip(keys, arrays, strict=True))
        return params

    def draw_masks(self, arch, mask):
        """``(input, recurrent)`` masks per layer from ``mask(p, width)``:
        ``input_dropout`` below the first layer, ``dropout`` above it, and
        ``recurrent_dropout`` on each direction's ``h_{t-1}``."""
        cell = arch.make_cell()
        inputs, recurrent = [], []
        for k, (H, (n_in, _)) in enumerate(
            zip(arch.hidden_sizes, self.layer_sizes(arch), strict=True)
        ):
            inputs.append(mask(arch.dropout if k else arch.input_dropout, n_in))
            rec = [
                mask(arch.recurrent_dropout, cell.output_size(H))
                for _ in range(arch.n_directions)
            ]
            recurrent.append(None if rec[0] is None else rec)
        return inputs, recurrent

    def _dir_params(self, arch, params, k):
        return [[params[name] for name in keys] for keys in layer_keys(arch, k)]

    def forward(self, arch, params, h, lengths, valid, state0, masks, for_backward):
        cell = arch.make_cell()
        layer_caches, stateT, last = [], [], None
        for k in range(len(arch.hidden_sizes)):
            in_mask = None if masks is None else masks["input"][k]
            if in_mask is not None:
                h = h * in_mask
            h, last, st, c = layer_forward(
                cell,
                self._dir_params(arch, params, k),
                h,
                lengths,
                valid,
                None if state0 is None else state0[k],
                None if masks is None else masks["recurrent"][k],
                for_backward,
            )
            layer_caches.append((c, in_mask))
            stateT.append(st)
        return h, last, stateT, layer_caches

    def backward(self, arch, params, layer_caches, dY, dlast, dstateT, need_dX):
        cell = arch.make_cell()
        grads = {}
        dstate0 = [None] * len(arch.hidden_sizes)
        for k in range(len(arch.hidden_sizes) - 1, -1, -1):
            c, in_mask = layer_caches[k]
            dX, dstate0[k], g = layer_backward(
                cell,
                self._dir_params(arch, params, k),
                c,
                dY,
                dlast,
                None if dstateT is None else dstateT[k],
                need_dX=k > 0 or need_dX,
            )
            for keys, gd in zip(layer_keys(arch, k), g, strict=True):
                grads.update(zip(keys, gd, strict=True))
            if in_mask is not None and dX is not None:
                dX *= in_mask
            dY, dlast = dX, None
        return dY, dstate0, grads


class ConvolutionStack:
    """The dilated causal convolution stack (``skrnn._wavenet``): every entry
    of ``hidden_sizes`` is one layer of that many channels (all equal)."""

    cells = ("wavenet",)
    recurrent = False
    first_weight = "input.weight"

    @staticmethod
    def auto_sizes(width, n_timesteps):
        """Enough layers for the receptive field to cover the sequences."""
        return (width,) * wavenet_depth(n_timesteps or 1)

    @staticmethod
    def receptive_field(sizes):
        return receptive_field(len(sizes))

    @staticmethod
    def _size(arch):
        """``(n_channels, n_layers)``."""
        return arch.hidden_sizes[0], len(arch.hidden_sizes)

    @staticmethod
    def _own(params):
        """The stack's weights (not the head's nor the skip's)."""
        return {k: v for k, v in params.items() if not k.startswith(("head.", "skip."))}

    def layer_sizes(self, arch):
        C = arch.hidden_sizes[0]
        return [(arch.n_inputs, C), *[(C, C)] * (len(arch.hidden_sizes) - 1)]

    def param_shapes(self, arch):
        return dict(wavenet_param_shapes(arch.n_inputs, *self._size(arch)))

    def init_params(self, arch, rng, dtype):
        n_channels, n_layers = self._size(arch)
        return wavenet_init(
            rng, arch.n_inputs, n_channels=n_channels, n_layers=n_layers, dtype=dtype
        )

    def draw_masks(self, arch, mask):
        """An ``input_dropout`` mask on the input only (no recurrence)."""
        return [mask(arch.input_dropout, arch.n_inputs)], [None]

    def forward(self, arch, params, h, lengths, valid, state0, masks, for_backward):
        # the stack reads right-padded batches only, so ``valid`` is the mask of
        # ``lengths`` (the estimators refuse truncated BPTT, the one caller of
        # left-aligned windows, for cell="wavenet")
        in_mask = None if masks is None else masks["input"][0]
        if in_mask is not None:
            h = h * in_mask
        ragged = lengths.min() < h.shape[0]
        Y, stateT, cache = wavenet_forward(
            self._own(params),
            h,
            lengths if ragged else None,
            n_layers=len(arch.hidden_sizes),
            state=state0,
            for_backward=for_backward,
        )
        last = Y[lengths - 1, np.arange(Y.shape[1])]
        return Y, last, stateT, (cache, in_mask, lengths, Y.shape)

    def backward(self, arch, params, stack_cache, dY, dlast, dstateT, need_dX):
        cache, in_mask, lengths, shape = stack_cache
        if dlast is not None:
            dY = np.zeros(shape, dlast.dtype) if dY is None else dY.copy()
            dY[lengths - 1, np.arange(len(lengths))] += dlast
        dX, grads = wavenet_backward(self._own(params), dY, cache, need_dX)
        if in_mask is not None and dX is not None:
            dX *= in_mask
        return dX, None, grads


#: Sequence-layer stacks keyed by :func:`stack_kind`.
STACKS = {"recurrent": RecurrentStack(), "wavenet": ConvolutionStack()}

#: The ``cell`` names the estimators accept: a live view of every kind's ``cells``.
CELL_NAMES = _CellNames()
