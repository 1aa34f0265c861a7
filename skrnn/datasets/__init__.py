"""Synthetic sequence tasks and small real time-series datasets for skrnn."""

from ._generators import (
    make_adding_problem,
    make_copy_task,
    make_marker_task,
    make_memory_task,
)
from ._real import load_airline, load_japanese_vowels, load_macrodata
from ._series import mackey_glass, make_mackey_glass, make_noisy_sine

__all__ = [
    "load_airline",
    "load_japanese_vowels",
    "load_macrodata",
    "mackey_glass",
    "make_adding_problem",
    "make_copy_task",
    "make_mackey_glass",
    "make_marker_task",
    "make_memory_task",
    "make_noisy_sine",
]
