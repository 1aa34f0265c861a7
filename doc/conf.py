"""Sphinx configuration for the skrnn documentation (PyData theme, gallery)."""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the skrnn sources next to doc/
sys.path.insert(0, str(HERE))  # _diagrams.py, used by the plot directive

import skrnn  # noqa: E402

project = "skrnn"
author = "the skrnn developers"
copyright = "the skrnn developers, BSD-3-Clause"
release = skrnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "auto_examples/*.ipynb", "**.py.md5"]
default_role = "literal"

# -- API reference ----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_validation_checks = set()

# Methods inherited from scikit-learn keep scikit-learn's docstrings, whose
# :ref: and :term: roles point into scikit-learn's own site (labels such as
# "metadata_routing" that exist only there). They are rendered as plain text,
# with or without the network. The metadata-routing methods (set_fit_request,
# get_metadata_routing, ...) are scikit-learn machinery, documented there and
# left out here (api.rst says so).
_ROUTING = re.compile(r"^(get_metadata_routing|set_\w+_request)$")
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _skip_member(app, what, name, obj, skip, options):
    if _ROUTING.match(name):
        return True
    # methods every exception has (with_traceback, add_note), not skrnn API
    if getattr(getattr(obj, "__objclass__", None), "__module__", None) == "builtins":
        return True
    return None


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn."):
        text = _SKLEARN_ROLE.sub(lambda m: m.group(1).strip(), "\n".join(lines))
        lines[:] = text.split("\n")


# -- Links to other projects (needs the network; SKRNN_DOCS_OFFLINE=1 skips) --
intersphinx_mapping = {}
if os.environ.get("SKRNN_DOCS_OFFLINE", "0") in ("", "0"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "joblib": ("https://joblib.readthedocs.io/en/stable", None),
    }

# -- Diagrams drawn by matplotlib (``.. plot::``) ---------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"font.size": 10}
plot_pre_code = ""
plot_working_directory = str(HERE)

# -- Gallery ----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skrnn",),
    "backreferences_dir": "gen_modules/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
}

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skrnn {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"install": [], "quick_start": []}
html_static_path = []


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
