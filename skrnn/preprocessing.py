"""Sequence preprocessing: scaling, windows, padding and wide-table reshaping."""

from ._padding import PadTruncate, WideToSequence, pad_sequences
from ._scaling import SequenceScaler
from ._windowing import SlidingWindowTransformer, make_windows

__all__ = [
    "PadTruncate",
    "SequenceScaler",
    "SlidingWindowTransformer",
    "WideToSequence",
    "make_windows",
    "pad_sequences",
]
