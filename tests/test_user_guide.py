"""The examples in the documentation pages (``doc/**/*.rst``) run as written."""

import doctest
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "doc"
PAGES = sorted(p for p in DOC.rglob("*.rst") if ">>>" in p.read_text())


def test_the_pages_with_examples_are_found():
    assert {"training.rst", "cells.rst", "quick_start.rst"} <= {p.name for p in PAGES}


@pytest.mark.slow  # about 40 s in all: CI runs them in the slow selection
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_pass(page):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testfile(
            str(page), module_relative=False, optionflags=flags, verbose=False
        )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) failed in {page.name}"
