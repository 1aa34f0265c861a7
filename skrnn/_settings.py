"""Settings resolved or checked before a fit: auto sizes, patches, direction."""

from numbers import Integral

from ._cells import CELLS
from ._linear_skip import requested_skip
from ._stacks import STACKS, stack_kind
from ._warnings import warn_user

__all__ = ["AUTO_PATCHED_STEPS", "AUTO_WIDTH", "SettingsMixin"]

#: Units per layer of ``hidden_layer_sizes="auto"``.
AUTO_WIDTH = 32

#: Most steps a many-to-one network reads with ``patch_size="auto"``.
AUTO_PATCHED_STEPS = 32


class SettingsMixin:
    """What the estimators' parameters mean for the network, before any work.

    ``"auto"`` values resolved from the data (``hidden_layer_sizes``,
    ``patch_size``, ``bidirectional``) and the parameter combinations that
    cannot work, refused with the reason and the fix.
    """

    def _hidden_sizes(self, n_timesteps=None):
        """Layer widths; ``"auto"`` resolved for sequences of ``n_timesteps``."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str) and sizes == "auto":
            return self._stack().auto_sizes(AUTO_WIDTH, n_timesteps)
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not sizes or any(
            not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty tuple of "
                f"positive ints (one width per layer); got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _check_combination(self):
        """Parameter combinations that cannot work, reported before any work."""
        if not self._stack().recurrent:
            self._check_wavenet()
        self._check_local_level()
        size = getattr(self, "patch_size", 1)
        if size not in ("auto", 1) and getattr(self, "return_sequences", False):
            raise ValueError(
                f"patch_size={size} reads {size} steps as one, but "
                "return_sequences=True needs an output at every step. Use "
                "patch_size=1 (or 'auto', which is 1 for per-step outputs)."
            )
        if self.bptt_steps is not None and self._explicitly_bidirectional():
            raise ValueError(
                "bptt_steps (truncated BPTT) cannot be used with bidirectional=True: "
                "the reverse direction reads the whole future of every step. Set "
                "bptt_steps=None or bidirectional=False."
            )
        skip = getattr(self, "linear_skip", 0)
        if skip != "auto" and skip and self.bptt_steps is not None:
            raise ValueError(
                "linear_skip reads the last input steps of each whole sequence, "
                "which truncated BPTT (bptt_steps) cuts into windows. Set "
                "bptt_steps=None or linear_skip=0."
            )
        if self.solver == "lbfgs" and self.bptt_steps is not None:
            raise ValueError(
                "bptt_steps (truncated BPTT) cannot be used with solver='lbfgs': "
                "the truncated gradient is not the gradient of the loss, so the "
                "line search would stop at a worse point. Set bptt_steps=None, or "
                "use solver='adam' or 'sgd'."
            )
        if self.solver == "lbfgs" and (
            self.dropout or self.recurrent_dropout or self.input_dropout
        ):
            raise ValueError(
                "input_dropout, dropout and recurrent_dropout need a stochastic "
                "solver: L-BFGS requires a deterministic objective. Use "
                "solver='adam' or 'sgd', or set all three to 0."
            )

    def _explicitly_bidirectional(self):
        return not isinstance(self.bidirectional, str) and bool(self.bidirectional)

    def _bidirectional(self):
        """``bidirectional`` resolved: ``"auto"`` reads both ways when nothing
        needs the network to be causal (a prediction after the whole sequence,
        a recurrent cell, no truncated BPTT)."""
        if not isinstance(self.bidirectional, str):
            return bool(self.bidirectional)
        return self._stack().recurrent and not (
            getattr(self, "return_sequences", False) or self.bptt_steps is not None
        )

    def _check_wavenet(self):
        sizes = self._hidden_sizes()
        unsupported = {
            "bidirectional=True": self._explicitly_bidirectional(),
            "recurrent_dropout > 0": self.recurrent_dropout,
            "bptt_steps": self.bptt_steps is not None,
        }
        for what, given in unsupported.items():
            if given:
                raise ValueError(
                    f"cell='wavenet' does not support {what}: the dilated causal "
                    "convolutions have no recurrence (and read only the past). "
                    "Use a recurrent cell, or drop that setting."
                )
        if len(set(sizes)) != 1:
            raise ValueError(
                "cell='wavenet' needs equal widths in hidden_layer_sizes (each entry "
                "is one dilated layer with residual connections); got "
                f"{self.hidden_layer_sizes!r}. For example (32,) * 8 gives 8 layers "
                "with a receptive field of 256 steps."
            )

    def _patch_size(self, n_timesteps):
        """Steps per patch for training sequences of up to ``n_timesteps``."""
        size = getattr(self, "patch_size", 1)
        if size != "auto":
            return int(size)
        if self.return_sequences or not getattr(
            CELLS.get(self.cell), "auto_patches", 1
        ):
            return 1  # per-step outputs, or a cell that reads step by step
        return max(1, -(-n_timesteps // AUTO_PATCHED_STEPS))

    def _linear_skip(self, n_timesteps, n_samples=None):
        """Input steps the linear skip reads, for ``n_samples`` training
        sequences this long: at most their length, in whole patches."""
        k = requested_skip(self, self._n_step_features, n_samples)
        k = min(k, n_timesteps)
        size = getattr(self, "patch_size_", 1)
        return -(-k // size) * size

    def _same_skip(self):
        """Whether ``linear_skip`` still gives the fitted ``linear_skip_``
        (capped at the training length and rounded up to whole patches)."""
        if getattr(self, "linear_skip", 0) == "auto":
            return True  # a warm start keeps the skip the model has
        k = requested_skip(self, getattr(self, "_n_step_features", 1))
        fitted = getattr(self, "linear_skip_", 0)
        if bool(k) != bool(fitted):
            return False
        length = getattr(self, "_fit_n_timesteps", None)  # None: ragged
        capped = length if k > fitted and length is not None else k
        return self._linear_skip(capped) == fitted

    def _skip_steps(self):
        """The linear skip in network steps (patches): covers ``linear_skip_``."""
        return getattr(self, "linear_skip_", 0) // getattr(self, "patch_size_", 1)

    def _stack(self):
        """The registry entry of this ``cell``'s sequence layers."""
        return STACKS[stack_kind(self.cell)]

    def _receptive_field(self):
        """Input steps one output sees (in steps, not patches), or None."""
        field = self._stack().receptive_field(self.hidden_layer_sizes_)
        return None if field is None else getattr(self, "patch_size_", 1) * field

    def _warn_short_receptive_field(self, n_timesteps):
        field = self._receptive_field()
        if field is not None and 4 * field < n_timesteps:
            warn_user(
                f"cell='wavenet' with {len(self.hidden_layer_sizes_)} layers sees "
                f"only the last {field} steps of each output, and the training "
                f"sequences have up to {n_timesteps}. Add layers (each doubles the "
                "receptive field) or use hidden_layer_sizes='auto', which covers "
                "the training length.",
                UserWarning,
            )
