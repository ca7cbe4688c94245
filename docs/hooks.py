"""MkDocs hooks that build the ntkspec site from the repository's own sources.

Everything on the site except the hand-written pages in ``docs/pages/`` is generated here at
build time, so nothing is copied by hand and nothing goes stale:

- the theory (``docs/theory.md``), design notes, ``CHANGELOG.md``, ``BENCHMARKS.md`` and the
  notebook index (``notebooks/README.md``) become pages; their relative links are rewritten to
  point into the site, or turned into plain text naming the repository path;
- ``notebooks/*.ipynb`` are rendered (by mkdocs-jupyter) from the executed copies that
  ``tests/test_notebooks.py`` saves in ``docs/_build/executed/notebooks/``; a copy that is
  missing, older than its notebook or made from other source bytes is executed here first (a
  failing cell, or an error output in a copy, fails the build);
- one API page per public module (``ntkspec.*`` without a leading underscore), rendering
  exactly the names in the module's ``__all__`` that it defines; ``api/index.md`` gets a table
  of ``ntkspec.__all__``;
- KaTeX (installed from npm by ``make docs``) is served from the site, so math renders offline.

After the build, every public name must appear in the site's ``objects.inv``; a missing one
fails the build. Sphinx roles in docstrings (``:func:`ntkspec.sphere.gegenbauer```) become
cross-references; one naming a fully qualified public ``ntkspec`` object that does not exist
fails the build. Run with ``make docs``; see ``docs/design.md`` ("Documentation site").
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import os
import pkgutil
import posixpath
import re
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "_build"
EXECUTED = BUILD / "executed" / "notebooks"  # written by tests/test_notebooks.py
KATEX = BUILD / "node" / "node_modules" / "katex" / "dist"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")
PACKAGE = "ntkspec"
log = logging.getLogger("mkdocs.hooks.ntkspec")

#: Repository files rendered as pages: repository path -> page path in the site.
PAGES = {
    "docs/theory.md": "theory.md",
    "docs/design.md": "design.md",
    "CHANGELOG.md": "changelog.md",
    "BENCHMARKS.md": "benchmarks.md",
    "notebooks/README.md": "notebooks/index.md",
}
API_INDEX_MARKER = "<!-- ntkspec:api-index -->"
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]+)\)")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc):<code>~?([\w.]+)</code>")
_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


# ----------------------------------------------------------------------------- public API
def public_modules() -> list[str]:
    """Names of the public modules of ntkspec: no path component starts with ``_``."""
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=PACKAGE + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def canonical_name(module: str, name: str) -> str:
    """Where ``module.name`` is documented: the ntkspec module that defines it, else ``module``.

    An object counts as defined in module M when it has ``__module__ == M``, M is public and
    holds it under its ``__qualname__`` (functions, classes, jitted functions). Constants, and
    objects defined in private modules, are documented where they are listed.
    """
    obj = getattr(importlib.import_module(module), name)
    home, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if (
        isinstance(home, str)
        and home.startswith(PACKAGE + ".")
        and isinstance(qual, str)
        and not any(part.startswith("_") for part in home.split("."))
        and getattr(importlib.import_module(home), qual, None) is obj
    ):
        return f"{home}.{qual}"
    return f"{module}.{name}"


def public_names() -> dict[str, str]:
    """Every public name (``ntkspec.__all__`` and each public module's ``__all__``).

    Returns:
      ``{"module.name": canonical identifier}``; the canonical identifier is where the API
      pages document the object (see :func:`canonical_name`).
    """
    out = {}
    for module in public_modules():
        for name in getattr(importlib.import_module(module), "__all__", ()):
            if not name.startswith("__"):
                out[f"{module}.{name}"] = canonical_name(module, name)
    return out


def defined_members(module: str) -> list[str]:
    """The names of ``module.__all__`` whose canonical home is ``module`` itself."""
    mod = importlib.import_module(module)
    return [
        n
        for n in getattr(mod, "__all__", ())
        if not n.startswith("__") and canonical_name(module, n) == f"{module}.{n}"
    ]


def read_inventory(path: Path) -> set[str]:
    """Identifiers of a Sphinx ``objects.inv`` (version 2) file."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    text = zlib.decompress(data[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in text.splitlines() if line.strip()}


# ----------------------------------------------------------------------------- notebooks
def source_digest(path: Path) -> str:
    """SHA-256 of a notebook's bytes, recorded in its executed copy (``metadata.ntkspec``)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_fresh(source: Path, executed: Path) -> bool:
    """Whether ``executed`` is a usable executed copy of ``source``."""
    if not executed.exists() or executed.stat().st_mtime < source.stat().st_mtime:
        return False
    meta = json.loads(executed.read_text()).get("metadata", {}).get("ntkspec", {})
    return meta.get("source_sha256") == source_digest(source)


def execute_notebook(source: Path, executed: Path) -> None:
    """Execute ``source`` in this interpreter's kernel; save it with its outputs to ``executed``."""
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    import nbclient
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp, "jupyter", "kernels", "ntkspec-docs-python")
        spec_dir.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "ntkspec docs", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(spec_dir.parents[1]), os.environ.get("JUPYTER_PATH", "")]
        )
        nb = nbformat.read(source, as_version=4)
        work = Path(tmp, "work")
        work.mkdir()
        client = nbclient.NotebookClient(
            nb,
            kernel_name="ntkspec-docs-python",
            timeout=300,
            allow_errors=False,
            resources={"metadata": {"path": str(work)}},
        )
        try:
            client.execute()
        except nbclient.exceptions.CellExecutionError as e:
            raise PluginError(f"{source.name}: a cell failed:\n{e}") from None
    nb.metadata["ntkspec"] = {"source_sha256": source_digest(source)}
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = executed.with_suffix(".tmp")
    nbformat.write(nb, tmp_path)
    os.replace(tmp_path, executed)


def executed_notebooks() -> list[Path]:
    """The executed copy of every ``notebooks/*.ipynb``, executing the stale ones first."""
    out = []
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        executed = EXECUTED / source.name
        if not is_fresh(source, executed):
            log.info("executing %s (no fresh executed copy)", source.name)
            execute_notebook(source, executed)
        cells = json.loads(executed.read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", ()) if o["output_type"] == "error"]
        if errors:
            raise PluginError(f"{executed}: the executed copy holds errors: {errors[0]['ename']}")
        out.append(executed)
    return out


# ----------------------------------------------------------------------------- pages
def rewrite_links(text: str, repo_path: str, site_path: str) -> str:
    """Point relative links of a repository file at the site, or unlink what the site lacks."""
    site_of = {
        **PAGES,
        **{
            f"docs/figures/{p.name}": f"figures/{p.name}"
            for p in (ROOT / "docs" / "figures").glob("*")
        },
    }
    site_of.update(
        {f"notebooks/{p.name}": f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    )

    def fix(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target):
            return m.group(0)
        path, _, frag = target.partition("#")
        repo_target = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
        if repo_target in site_of:
            rel = posixpath.relpath(site_of[repo_target], posixpath.dirname(site_path) or ".")
            return f"{bang}[{label}]({rel}{'#' + frag if frag else ''})"
        return f"{label} (`{repo_target}` in the repository)"

    return _LINK.sub(fix, text)


def api_page(module: str) -> str:
    """Markdown of the API page of one public module."""
    members = defined_members(module)
    lines = [
        f"::: {module}",
        "    options:",
        "      show_root_heading: true",
        "      show_root_full_path: true",
        "      heading_level: 1",
        f"      members: {json.dumps(members)}",
        "",
    ]
    reexports = [
        n
        for n in getattr(importlib.import_module(module), "__all__", ())
        if n not in members and not n.startswith("__")
    ]
    if reexports:
        lines += ["## Names documented with the module that defines them", ""]
        for n in reexports:
            ident = canonical_name(module, n)
            lines.append(f"- [`{module}.{n}`][{ident}]: in `{ident.rsplit('.', 1)[0]}`")
    return "\n".join(lines) + "\n"


def api_index_table() -> str:
    """A table of ``ntkspec.__all__`` (name linked to its entry, summary line), then the modules."""
    pkg = importlib.import_module(PACKAGE)
    rows = ["| name | summary |", "|---|---|"]
    for name in pkg.__all__:
        if name.startswith("__"):
            continue
        ident = canonical_name(PACKAGE, name)
        doc = inspect.getdoc(getattr(pkg, name)) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        summary = summary.replace("|", "\\|")
        rows.append(f"| [`ns.{name}`][{ident}] | {summary} |")
    modules = [f"- [`{m}`]({m}.md)" for m in public_modules()]
    return "\n".join(rows) + "\n\n## Modules\n\n" + "\n".join(modules) + "\n"


def notebook_title(path: Path) -> str:
    """``01_spectra_on_the_sphere.ipynb`` -> ``01 · Spectra on the sphere``."""
    number, _, words = path.stem.partition("_")
    return f"{number} · {words.replace('_', ' ').capitalize()}"


def api_nav() -> list[dict]:
    """Nav entries of the per-module API pages."""
    return [{m: f"api/{m}.md"} for m in public_modules()]


# ----------------------------------------------------------------------------- hooks
def on_config(config):
    """Fill the nav sections whose first entry is ``notebooks/index.md`` / ``api/index.md``."""
    sys.path.insert(0, str(ROOT))
    extra = {
        "notebooks/index.md": [
            {notebook_title(p): f"notebooks/{p.name}"}
            for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
        ],
        "api/index.md": api_nav(),
    }

    def walk(items):
        for item in items:
            if isinstance(item, dict):
                for value in item.values():
                    if isinstance(value, list):
                        if value and isinstance(value[0], str) and value[0] in extra:
                            value.extend(extra[value[0]])
                        walk(value)

    walk(config.nav or [])
    return config


@event_priority(100)  # before mkdocs-jupyter wraps the .ipynb files
def on_files(files, config):
    """Add the generated pages, the executed notebooks, the figures and KaTeX."""
    for repo_path, site_path in PAGES.items():
        text = (ROOT / repo_path).read_text(encoding="utf-8")
        files.append(
            File.generated(config, site_path, content=rewrite_links(text, repo_path, site_path))
        )
    for fig in sorted((ROOT / "docs" / "figures").glob("*")):
        files.append(File.generated(config, f"figures/{fig.name}", abs_src_path=str(fig)))
    for nb in executed_notebooks():
        # A real File (src_dir set), not File.generated: mkdocs-jupyter's wrapper recomputes
        # abs_src_path from src_dir.
        files.append(
            File(
                f"notebooks/{nb.name}",
                src_dir=str(EXECUTED.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    for module in public_modules():
        files.append(File.generated(config, f"api/{module}.md", content=api_page(module)))
    if not (KATEX / "katex.min.js").exists():
        raise PluginError(f"KaTeX not found in {KATEX}; run `make docs` (it installs it)")
    for path in sorted(KATEX.rglob("*")):
        rel = path.relative_to(KATEX).as_posix()
        if path.is_file() and (rel in KATEX_FILES or rel.startswith("fonts/")):
            files.append(File.generated(config, f"assets/katex/{rel}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Insert the generated table of ``ntkspec.__all__`` into ``api/index.md``."""
    if API_INDEX_MARKER in markdown:
        markdown = markdown.replace(API_INDEX_MARKER, api_index_table())
    return markdown


def on_page_content(html, page, config, files):
    """Sphinx roles become cross-references; notebooks lose their CDN MathJax loader."""
    html = _MATHJAX.sub("", html)

    def ref(m: re.Match) -> str:
        ident = m.group(1)
        # Must resolve: fully qualified public ntkspec names. Relative names and private
        # ones (not on the site) link when they can and stay plain code otherwise.
        public = not any(part.startswith("_") for part in ident.split("."))
        optional = "" if ident.startswith(PACKAGE + ".") and public else " optional"
        return f'<autoref identifier="{ident}"{optional}><code>{ident}</code></autoref>'

    return _ROLE.sub(ref, html)


@event_priority(-100)  # after mkdocstrings has written objects.inv
def on_post_build(config):
    """Fail when a public name has no entry in the API reference."""
    inventory = read_inventory(Path(config.site_dir) / "objects.inv")
    missing = sorted(
        {f"{n} (documented as {c})" for n, c in public_names().items() if c not in inventory}
    )
    if missing:
        raise PluginError("public names missing from the API pages:\n  " + "\n  ".join(missing))
    shutil.rmtree(Path(config.site_dir) / "__pycache__", ignore_errors=True)
