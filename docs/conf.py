"""Sphinx configuration: ``pip install ".[docs]"`` then
``python -m sphinx -W -b html docs docs/_build/html``."""
import os
import sys

import crnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # _gallery.py

project = "crnn"
author = "the crnn developers"
copyright = "the crnn developers, BSD-3-Clause"
version = release = crnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",   # MathJax shipped with the pages, not from a CDN
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]

# the API reference: one page per public name, from the docstrings
autosummary_generate = True
autosummary_imported_members = True      # crnn re-exports its classes
autosummary_ignore_module_all = False    # a module's __all__ says what is public
autodoc_preserve_defaults = True         # np.float32, as written
autodoc_typehints = "none"               # the signatures carry them; numpydoc the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# the gallery from examples/: the examples that need nothing beyond the docs
# extra run while the pages build, with --quick (a few seconds in all), so
# their pages show what they print and plot; torch_checkpoint.py (torch)
# and distributed_train.py (MPI ranks) are shown, and run by the test suite
# (tests/test_scripts*.py) as every example is.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/(forecast|classify_packed|streaming)\.py$",
    "reset_argv": "_gallery.quick_argv",
    "download_all_examples": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"crnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # code-heavy pages get the full width; the API pages keep their contents
    "secondary_sidebar_items": {"index": [], "guide/*": [], "auto_examples/*": []},
}
html_sidebars = {"index": []}
html_static_path = ["_static"]
html_css_files = ["crnn.css"]
