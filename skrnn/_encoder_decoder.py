"""Encoder-decoder network: a sequence encoded to a vector, decoded to a sequence."""

from dataclasses import dataclass

import numpy as np

from ._network import Architecture

__all__ = ["EncoderDecoder"]


@dataclass(frozen=True)
class EncoderDecoder:
    """Two networks joined by a fixed-size code ``Z``.

    The encoder reads the input sequence (many-to-one); its linear head is the
    code ``Z`` of ``n_components`` values. The decoder reads ``Z`` at every step
    of the output sequence (many-to-many, unidirectional) and its head gives
    the output features. Parameters carry the prefixes ``"encoder."`` and
    ``"decoder."`` in front of the PyTorch-layout names.

    Parameters
    ----------
    encoder : Architecture
        ``return_sequences=False``, ``n_outputs == n_components``.
    decoder : Architecture
        ``return_sequences=True``, ``n_inputs == n_components``.
    """

    encoder: Architecture
    decoder: Architecture

    return_sequences = True

    @staticmethod
    def split(params):
        """``(encoder weights, decoder weights)``, each without its prefix."""
        enc, dec = {}, {}
        for name, value in params.items():
            part, _, rest = name.partition(".")
            (enc if part == "encoder" else dec)[rest] = value
        return enc, dec

    def init_params(self, rng, dtype=np.float64):
        enc = self.encoder.init_params(rng, dtype)
        dec = self.decoder.init_params(rng, dtype)
        return {
            **{f"encoder.{k}": v for k, v in enc.items()},
            **{f"decoder.{k}": v for k, v in dec.items()},
        }

    def weight_names(self):
        return list(self.param_shapes())

    def param_shapes(self):
        return {
            **{f"encoder.{k}": v for k, v in self.encoder.param_shapes().items()},
            **{f"decoder.{k}": v for k, v in self.decoder.param_shapes().items()},
        }

    def draw_masks(self, rng, batch, dtype):
        enc = self.encoder.draw_masks(rng, batch, dtype)
        dec = self.decoder.draw_masks(rng, batch, dtype)
        return None if enc is None and dec is None else (enc, dec)

    def encode(self, params, X, lengths, masks=None, for_backward=True):
        """Codes ``Z`` of shape (batch, n_components), and the encoder cache."""
        enc, _ = self.split(params)
        Z, _, cache = self.encoder.forward(
            enc, X, lengths, masks=masks, for_backward=for_backward
        )
        return Z, cache

    def decode(self, params, Z, out_lengths, masks=None, for_backward=True):
        """Outputs (batch, max(out_lengths), n_outputs) read from codes ``Z``."""
        _, dec = self.split(params)
        T = int(out_lengths.max())
        Xd = np.broadcast_to(Z[:, None, :], (len(Z), T, Z.shape[1]))
        raw, _, cache = self.decoder.forward(
            dec, Xd, out_lengths, masks=masks, for_backward=for_backward
        )
        return raw, cache

    def forward(
        self,
        params,
        X,
        lengths,
        *,
        out_lengths,
        masks=None,
        for_backward=True,
        **kwargs,
    ):
        """Encode then decode; ``raw`` has shape (batch, max(out_lengths), n_out)."""
        if kwargs.get("state0") is not None or kwargs.get("valid") is not None:
            raise ValueError("the encoder-decoder does not take state0 or valid.")
        enc_masks, dec_masks = (None, None) if masks is None else masks
        Z, enc_cache = self.encode(params, X, lengths, enc_masks, for_backward)
        raw, dec_cache = self.decode(params, Z, out_lengths, dec_masks, for_backward)
        return raw, None, (enc_cache, dec_cache)

    def backward(self, params, cache, draw, **kwargs):
        enc_cache, dec_cache = cache
        enc, dec = self.split(params)
        g_dec, _, dXd = self.decoder.backward(dec, dec_cache, draw, need_dX=True)
        dZ = dXd.sum(axis=1)
        g_enc, _, _ = self.encoder.backward(enc, enc_cache, dZ)
        grads = {
            **{f"encoder.{k}": v for k, v in g_enc.items()},
            **{f"decoder.{k}": v for k, v in g_dec.items()},
        }
        return grads, None, None
