"""The documentation site: tested sources for its code, complete API pages, and a real browser.

Three groups of tests:

- sources (always run): every docstring example of every ntkspec module passes ``doctest``;
  every snippet in ``docs/snippets/`` (the code shown on the site) runs and is shown on a page;
  every public name is documented on a public module's API page;
- the built site (``test_site_*``, run by ``make docs`` after its build; skipped when
  ``docs/_build/html`` is missing or older than its sources): every public
  name is in the API inventory ``objects.inv``, every notebook has a page with its figures, and
  no page loads a script, style sheet, font or image from the network;
- headless Chromium (skipped without ``chromium`` or the built site): the index page and one
  notebook page are served from 127.0.0.1 and rendered; the math must be typeset by KaTeX with
  no error, every image must have loaded, there must be no console error, failed request or
  request leaving 127.0.0.1. A screenshot of each page is kept in ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import asyncio
import base64
import doctest
import functools
import http.server
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

import ntkspec

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "docs" / "snippets"
PAGES = ROOT / "docs" / "pages"
SITE = ROOT / "docs" / "_build" / "html"
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

ALL_MODULES = sorted(
    ["ntkspec"] + [m.name for m in pkgutil.walk_packages(ntkspec.__path__, prefix="ntkspec.")]
)
PUBLIC_MODULES = [m for m in ALL_MODULES if not any(p.startswith("_") for p in m.split("."))]

#: What the site is built from: a site older than any of these is stale.
SITE_SOURCES = (
    "ntkspec",
    "docs/pages",
    "docs/snippets",
    "docs/hooks.py",
    "docs/theory.md",
    "docs/design.md",
    "notebooks",
    "mkdocs.yml",
    "CHANGELOG.md",
    "BENCHMARKS.md",
)


def _site_skip_reason() -> str | None:
    """Why the built-site tests cannot run now (no site, or one older than its sources)."""
    built = SITE / "objects.inv"
    if not built.exists():
        return "the site is not built (`make docs` builds docs/_build/html and runs these tests)"
    for name in SITE_SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        files = [f for f in files if "__pycache__" not in f.parts and f.suffix != ".pyc"]
        newer = [f for f in files if f.stat().st_mtime > built.stat().st_mtime]
        if newer:
            return f"the built site is older than {newer[0].relative_to(ROOT)} (run `make docs`)"
    return None


needs_site = pytest.mark.skipif(_site_skip_reason() is not None, reason=str(_site_skip_reason()))


#: Modules whose docstring examples are known to fail, with the reason (reported upstream).
KNOWN_DOCTEST_FAILURES: dict[str, str] = {}


# ----------------------------------------------------------------------------- sources
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            m,
            marks=[pytest.mark.xfail(reason=KNOWN_DOCTEST_FAILURES[m], strict=False)]
            if m in KNOWN_DOCTEST_FAILURES
            else [],
        )
        for m in ALL_MODULES
    ],
)
def test_docstring_examples(name):
    """``doctest`` over the module's docstrings (run under pytest's warnings-as-errors)."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name, globs=vars(module).copy()):
        if test.examples:
            out = []
            result = runner.run(test, out=out.append)
            if result.failed:
                failures.append("".join(out))
    assert not failures, "\n".join(failures)


def _snippet_cases():
    return sorted(p for p in SNIPPETS.iterdir() if p.suffix in (".py", ".sh"))


def _slow_if(path: Path):
    fast = {"spectrum.py", "spectrum_cli.sh"}
    return [] if path.name in fast else [pytest.mark.slow]


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=_slow_if(p), id=p.name) for p in _snippet_cases()],
)
def test_snippet_runs(path, tmp_path):
    """The code shown on the site runs (Python with warnings as errors; shell with ``-e``)."""
    if path.suffix == ".py":  # optional model libraries (the `adapters` extra), e.g. in .venv-nt
        for lib in ("equinox", "flax"):
            if re.search(rf"^\s*(import|from) {lib}\b", path.read_text(), re.M):
                pytest.importorskip(lib)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if path.suffix == ".py":
        cmd = [sys.executable, "-W", "error", str(path)]
    else:
        cmd = ["bash", "-e", "-u", "-o", "pipefail", str(path)]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    assert out.stdout.strip(), "a snippet on the site should print what it shows"


def test_every_snippet_is_shown_and_every_include_exists():
    included = set()
    for page in PAGES.rglob("*.md"):
        for name in re.findall(r'--8<--\s+"([^"]+)"', page.read_text()):
            assert (SNIPPETS / name).is_file(), f"{page.name} includes a missing snippet {name}"
            included.add(name)
    unused = {p.name for p in _snippet_cases()} - included
    assert not unused, f"snippets no page shows (so nothing keeps them honest): {unused}"


def _canonical(module: str, name: str) -> str:
    """Where ``module.name`` is documented: the ntkspec module that defines it, else ``module``.

    An object counts as defined in module M when it has ``__module__ == M``, M is public and
    holds it under its ``__qualname__`` (functions, classes, jitted functions). Constants, and
    objects defined in private modules, are documented where they are listed.
    """
    obj = getattr(importlib.import_module(module), name)
    home, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if (
        isinstance(home, str)
        and home.startswith("ntkspec.")
        and isinstance(qual, str)
        and not any(part.startswith("_") for part in home.split("."))
        and getattr(importlib.import_module(home), qual, None) is obj
    ):
        return f"{home}.{qual}"
    return f"{module}.{name}"


def _public_names() -> dict[str, str]:
    """``{"module.name": canonical}`` for ``ntkspec.__all__`` and every public module."""
    return {
        f"{module}.{name}": _canonical(module, name)
        for module in PUBLIC_MODULES
        for name in getattr(importlib.import_module(module), "__all__", ())
        if not name.startswith("__")
    }


def test_every_public_module_declares_its_api():
    missing = [m for m in PUBLIC_MODULES if not hasattr(importlib.import_module(m), "__all__")]
    assert not missing, f"public modules without __all__ (their API page would be empty): {missing}"


def test_every_public_name_has_a_documented_home():
    """Each public name is defined in a public module that lists it in ``__all__``.

    The API pages render exactly those names (docs/hooks.py); a name defined in a private
    module, or missing from its home's ``__all__``, would have no entry.
    """
    bad = []
    for public, canonical in _public_names().items():
        home, _, name = canonical.rpartition(".")
        module = importlib.import_module(home) if home in ALL_MODULES else None
        listed = getattr(module, "__all__", ())
        if home not in PUBLIC_MODULES or name not in listed:
            bad.append(f"{public} -> {canonical}")
    assert not bad, "public names without an API entry:\n" + "\n".join(bad)


# ----------------------------------------------------------------------------- built site
def _read_inventory(path: Path) -> set[str]:
    lines = path.read_bytes().split(b"\n", 4)
    assert lines[0].startswith(b"# Sphinx inventory version 2"), lines[0]
    body = zlib.decompress(lines[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


@needs_site
def test_site_inventory_has_every_public_name():
    inventory = _read_inventory(SITE / "objects.inv")
    missing = sorted(c for c in _public_names().values() if c not in inventory)
    assert not missing, f"public names missing from the built API pages: {missing}"
    for module in PUBLIC_MODULES:
        assert (SITE / "api" / f"{module}.html").is_file(), module


@needs_site
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_site_notebook_page_has_outputs(path):
    page = SITE / "notebooks" / f"{path.stem}.html"
    assert page.is_file(), f"no page for {path.name}"
    html = page.read_text()
    source = path.read_text()
    if "plt." in source or "matplotlib" in source:
        assert "data:image/png;base64," in html, f"{page.name}: no figure rendered"
    assert "jp-OutputArea-output" in html, f"{page.name}: no outputs (not executed?)"
    assert "Traceback (most recent call last)" not in html, f"{page.name}: an error output"


_EXTERNAL = re.compile(
    r"<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.I
)


@needs_site
def test_site_loads_nothing_from_the_network():
    offenders = []
    for page in SITE.rglob("*.html"):
        for m in _EXTERNAL.finditer(page.read_text(errors="replace")):
            offenders.append(f"{page.relative_to(SITE)}: {m.group(0)[:120]}")
    assert not offenders, "\n".join(offenders[:20])


# ----------------------------------------------------------------------------- Chromium
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`)"
)


def _markdown_math(path: Path) -> bool:
    """Whether a notebook's markdown cells hold TeX math (``$…$``) for KaTeX to typeset."""
    nb = json.loads(path.read_text())
    md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.search(r"\$[^$\n]+\$", md) is not None


@functools.cache
def _notebook_page() -> Path:
    """The notebook to render: the first with math in markdown and figures, else with figures."""
    with_figures = [p for p in NOTEBOOKS if "plt." in p.read_text()] or NOTEBOOKS
    return next((p for p in with_figures if _markdown_math(p)), with_figures[0])


class _Server:
    """The built site on an ephemeral port of 127.0.0.1, in a background thread."""

    def __enter__(self):
        handler = functools.partial(_QuietHandler, directory=str(SITE))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Chromium:
    """Headless Chromium with a DevTools endpoint on 127.0.0.1 and a fresh profile."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--mute-audio",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
    )

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="ntkspec-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *self.FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        self.ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


_PROBE = r"""(() => {
  const imgs = [...document.images];
  return {
    title: document.title,
    katex: document.querySelectorAll('.katex').length,
    katexErrors: [...document.querySelectorAll('.katex-error')].map(e => e.textContent),
    rawMath: [...document.querySelectorAll('.arithmatex')]
      .filter(e => !e.querySelector('.katex')).map(e => e.textContent.slice(0, 80))
      .concat([...document.querySelectorAll('.jp-MarkdownCell')].map(e => e.textContent)
        .flatMap(t => t.match(/\$[^$\n]+\$/g) || [])),
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
    fontsLoaded: document.fonts.status,
  };
})()"""


async def _render(ws_url: str, url: str, screenshot: Path) -> dict:
    """Load ``url`` in the page target; return the probe, console errors and requests."""
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url, max_message_size=256 * 2**20)
    ids = iter(range(1, 10**6))
    events: list[dict] = []

    async def call(method, **params):
        msg_id = next(ids)
        await conn.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(conn.read_message(), 120))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            events.append(msg)

    for domain in ("Page", "Runtime", "Log", "Network"):
        await call(f"{domain}.enable")
    await call(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=1000,
        deviceScaleFactor=1,
        mobile=False,
    )
    await call("Page.navigate", url=url)
    deadline = time.monotonic() + 120
    while not any(e.get("method") == "Page.loadEventFired" for e in events):
        assert time.monotonic() < deadline, f"{url} did not finish loading"
        events.append(json.loads(await asyncio.wait_for(conn.read_message(), 120)))
    await call("Runtime.evaluate", expression="document.fonts.ready", awaitPromise=True)
    await asyncio.sleep(0.5)  # let late console messages and requests arrive
    probe = (await call("Runtime.evaluate", expression=_PROBE, returnByValue=True))["result"]
    shot = await call("Page.captureScreenshot", format="png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    conn.close()
    while await asyncio.wait_for(conn.read_message(), 30) is not None:  # until the socket closes
        pass
    return {"probe": probe["value"], "events": events}


def _problems(events: list[dict], origin: str) -> list[str]:
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(
                f"exception: {p['exceptionDetails'].get('text')} "
                f"{p['exceptionDetails'].get('exception', {}).get('description', '')}"
            )
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value') for a in p['args']]}")
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"request failed: {p.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if not url.startswith((origin, "data:", "blob:", "about:")):
                out.append(f"request leaves the site: {url}")
    return out


@needs_site
@needs_browser
@pytest.mark.parametrize("page", ["index", "notebook"])
def test_site_page_renders_in_chromium(page):
    """Typeset math (the index has formulas; a notebook only if its markdown has TeX), every
    image loaded, and no console error, failed request or request leaving the site."""
    if page == "index":
        path, expect_math = "index.html", True
    else:
        nb = _notebook_page()
        path, expect_math = f"notebooks/{nb.stem}.html", _markdown_math(nb)
    with _Server() as origin, _Chromium() as browser:
        shot = SCREENSHOTS / (Path(path).stem + ".png")
        result = asyncio.run(_render(browser.ws_url, origin + path, shot))
    probe, problems = result["probe"], _problems(result["events"], origin)
    assert not problems, "\n".join(problems)
    assert probe["katex"] > 0 or not expect_math, f"{path}: no math was typeset"
    assert not probe["katexErrors"], probe["katexErrors"]
    assert not probe["rawMath"], f"{path}: math left untypeset: {probe['rawMath']}"
    assert probe["images"] > 0 and not probe["broken"], probe
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
