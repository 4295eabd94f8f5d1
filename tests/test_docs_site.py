"""The built documentation site: README's links land on pages that exist,
and a real headless browser (Chromium) renders the index, an API page and
a guide page with their text.

The site is the one ``.ci/run`` built (its path in ``CRNN_DOCS_HTML``);
without that variable the test builds it from ``docs/`` where the docs
extra is installed, and skips where it is not (the wheel's and sanitizer's
torch-free runs). With ``CRNN_DOCS_HTML`` set a missing browser is an
error, not a skip: CI installs Chromium before it runs the suite.

README links to the pages' sources, ``docs/guide/serving.rst`` (GitHub
renders them; the site is not hosted); each such link stands for the
built page at the same place, ``guide/serving.html``."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BROWSERS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    given = os.environ.get("CRNN_DOCS_HTML")
    if given:
        path = Path(given)
        assert (path / "index.html").is_file(), f"CRNN_DOCS_HTML={given} holds no built site"
        return path
    for module in ["sphinx", "pydata_sphinx_theme", "numpydoc", "sphinx_gallery"]:
        pytest.importorskip(module, reason='the docs extra (pip install ".[docs]") builds the site')
    out = tmp_path_factory.mktemp("docs-html")
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                        str(DOCS), str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="session")
def browser():
    for name in [os.environ.get("CRNN_BROWSER")] + BROWSERS:
        if name and shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CRNN_DOCS_HTML"):
        pytest.fail("CRNN_DOCS_HTML is set (CI) but no Chromium is installed")
    pytest.skip("no headless browser (apt-get install chromium)")


def readme_links():
    """(target, anchor) of every Markdown link and image in README."""
    text = README.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)     # not inside code
    links = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", text)
    assert links, "README links to its docs"
    return [tuple(link.partition("#")[::2]) for link in links]


def github_anchor(heading):
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_readme_links_resolve(site):
    headings = {github_anchor(h) for h in
                re.findall(r"^#+ (.*)$", re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"),
                                                flags=re.S | re.M), re.M)}
    pages = []
    for target, anchor in readme_links():
        if re.match(r"\w+://", target):
            continue                                  # none today; not checked offline
        if not target:
            assert anchor in headings, f"README links to #{anchor}, a heading it does not have"
            continue
        assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"
        if target.startswith("docs/") and target.endswith(".rst"):
            page = site / Path(target).relative_to("docs").with_suffix(".html")
            assert page.is_file(), f"README links to {target}, but the site has no {page.name}"
            pages.append(target)
    # the feature list's pages, as the README promises them
    for name in ["serving", "onnx", "scaling", "c_api", "r", "guarantees", "modes", "performance"]:
        assert f"docs/guide/{name}.rst" in pages, name


def render(browser, page, tmp_path):
    """The DOM Chromium builds for ``page`` (scripts run) and a screenshot."""
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"]
    url = page.resolve().as_uri()
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}   # not under ASan's
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr
    png = tmp_path / (page.stem + ".png")
    shot = subprocess.run(flags + [f"--screenshot={png}", url], capture_output=True, text=True,
                          timeout=120, env=env)
    assert shot.returncode == 0, shot.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank 1280 x 1000 page compresses to a few kB; text, code and tables do not
    assert len(data) > 20_000, f"{page}: a {len(data)}-byte screenshot looks blank"
    return dom.stdout


@pytest.mark.parametrize("page, expected", [
    ("index.html", ["<title>crnn", "Where to go next", "guide/index.html", "api.html"]),
    ("generated/crnn.RNN.html", ["crnn.RNN", "hidden_size", "num_layers", "backward"]),
    ("guide/performance.html", ["Performance", "<table", "LSTM batch N=64 L=100 H=512",
                                "AVX-512 path", "GEMM floor"]),
])
def test_pages_render_in_a_browser(site, browser, tmp_path, page, expected):
    dom = render(browser, site / page, tmp_path)
    for text in expected:
        assert text in dom, f"{page}: the rendered page lacks {text!r}"
    # the theme framed it: its header and navigation bar, with the guide
    assert "User guide" in dom and "bd-header" in dom
