"""One batch's loss and gradients, by full or truncated backpropagation through time."""

from dataclasses import dataclass

import numpy as np

from ._losses import LOSSES
from ._network import penalty

__all__ = ["TrainData", "batch_loss_grad"]


@dataclass
class TrainData:
    """A right-padded training set in the layout the network consumes.

    ``X`` (n_samples, n_steps, n_inputs), ``lengths`` (n_samples,), targets ``Y``
    in the raw-output layout ((n_samples, n_outputs) or (n_samples, n_steps,
    n_outputs)), ``sample_weight`` (n_samples,) and ``step_mask`` (n_samples,
    n_steps) of per-step weights (0 on padded steps) or None for many-to-one.
    """

    X: np.ndarray
    lengths: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray
    step_mask: object = None
    out_lengths: object = None

    def __len__(self):
        return len(self.X)

    def extra(self):
        """Keyword arguments the network's forward needs besides X and lengths."""
        return {} if self.out_lengths is None else {"out_lengths": self.out_lengths}

    def take(self, idx):
        """The rows ``idx``, trimmed to their longest sequence."""
        lengths = self.lengths[idx]
        T = int(lengths.max())
        Y, mask, out = self.Y[idx], None, None
        if self.out_lengths is not None:
            out = self.out_lengths[idx]
            T_out = int(out.max())
            Y, mask = Y[:, :T_out], self.step_mask[idx, :T_out]
        elif self.step_mask is not None:
            Y, mask = Y[:, :T], self.step_mask[idx, :T]
        return TrainData(
            self.X[idx, :T], lengths, Y, self.sample_weight[idx], mask, out
        )

    def row_weights(self):
        if self.step_mask is None:
            return self.sample_weight
        return self.sample_weight[:, None] * self.step_mask

    def score(self, metric, truth, pred):
        """``metric`` over the rows training weights, with those weights.

        ``truth`` and ``pred`` are laid out as ``Y``; with per-step targets only
        the steps of positive weight count (scikit-learn's MLP weights its
        validation score the same way).
        """
        w = self.row_weights()
        if self.step_mask is None:
            return metric(truth, pred, sample_weight=w)
        keep = self.step_mask > 0
        return metric(truth[keep], pred[keep], sample_weight=w[keep])


def _left_align(X, lengths):
    """Shift every right-padded sequence so that it ends at the last step."""
    T = X.shape[1]
    shift = T - lengths
    src = (np.arange(T)[None, :] - shift[:, None]) % T
    return X[np.arange(len(X))[:, None], src]


def batch_loss_grad(arch, loss, params, batch, alpha, bptt_steps=None, masks=None):
    """Loss and gradients of one batch, by full or truncated BPTT.

    With ``bptt_steps = k`` the batch is left-aligned (each sequence ends at the
    last step, padding in front, where the state does not move), cut into windows
    of ``k`` steps counted from the end, and run window by window with the state
    carried forward but the gradient cut at every window boundary. Many-to-one
    losses live in the last window only; earlier windows then just carry state.
    """
    w_rows = batch.row_weights()
    w = w_rows / w_rows.sum()
    n_eff = batch.sample_weight.sum()
    T = batch.X.shape[1]
    fn = LOSSES[loss]
    if bptt_steps is None or bptt_steps >= T:
        raw, _, cache = arch.forward(
            params, batch.X, batch.lengths, masks=masks, **batch.extra()
        )
        n_out = raw.shape[-1]
        value, draw = fn(raw.reshape(-1, n_out), batch.Y.reshape(-1, n_out), w.ravel())
        grads, _, _ = arch.backward(params, cache, draw.reshape(raw.shape))
        return value + penalty(params, alpha, n_eff, grads), grads
    X = _left_align(batch.X, batch.lengths)
    valid = np.arange(T)[None, :] >= (T - batch.lengths)[:, None]
    if arch.return_sequences:
        Y = _left_align(batch.Y, batch.lengths)
        w = _left_align(w, batch.lengths)
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    value, state = 0.0, None
    starts = list(range(T - bptt_steps, 0, -bptt_steps))[::-1]
    bounds = list(zip([0, *starts], [*starts, T], strict=True))
    for a, b in bounds:
        raw, state, cache = arch.forward(
            params,
            X[:, a:b],
            batch.lengths,
            valid=valid[:, a:b].T,
            state0=state,
            masks=masks,
        )
        if not (arch.return_sequences or b == T):
            continue  # many-to-one: earlier windows only carry the state
        n_out = raw.shape[-1]
        if arch.return_sequences:
            v, draw = fn(
                raw.reshape(-1, n_out), Y[:, a:b].reshape(-1, n_out), w[:, a:b].ravel()
            )
        else:
            v, draw = fn(raw, batch.Y, w)
        g, _, _ = arch.backward(params, cache, draw.reshape(raw.shape))
        for name in grads:
            grads[name] += g[name]
        value += v
    return value + penalty(params, alpha, n_eff, grads), grads
