"""Structure rules of the ``ntkspec`` package, checked on its source (AST, nothing imported).

- No module imports another module's private (``_underscore``) names, by ``from m import _x``
  or by ``m._x`` on an imported package module. The private *modules* ``ntkspec._compat``,
  ``ntkspec._io`` and ``ntkspec._validate`` are the package's internal toolboxes: importing
  them (``from ntkspec import _compat``) and their public names is allowed; their private
  names are not.
- ``ntkspec/report.py`` and ``ntkspec/experiments/summary.py`` (the presentation layer) import
  neither ``ntkspec.kernels`` nor ``ntkspec.spectrum`` directly (nor names the package
  re-exports from them): they work on saved results, not on kernels.
- No function is longer than ``MAX_FUNCTION_LINES`` (from its ``def`` line to its last line,
  docstring included).
- No ``functools.lru_cache`` / ``functools.cache`` on a function with a parameter that is not
  a plain value: a cache keyed on a kernel or a callable holds the user's object alive and
  returns stale results when it is mutated or merely compares equal. Every parameter of a
  cached function must be annotated with a plain type (int, float, str, bool, bytes, None,
  tuples and ``Literal`` of those).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ntkspec"
TOOLBOXES = {"ntkspec._compat", "ntkspec._io", "ntkspec._validate"}
PRESENTATION = ("report.py", "experiments/summary.py")
FORBIDDEN_IN_PRESENTATION = ("ntkspec.kernels", "ntkspec.spectrum")
MAX_FUNCTION_LINES = 85
PLAIN_TYPES = {"int", "float", "str", "bool", "bytes", "None", "tuple", "Tuple", "Literal"}
CACHE_DECORATORS = {"lru_cache", "cache"}


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    """``{"ntkspec.x.y": (path, tree)}`` for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return out


MODULES = _modules()


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <node.module> import ...`` inside ``module``."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module][0].name == "__init__.py"
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_import_violations() -> list[str]:
    bad = []
    for module, (path, tree) in MODULES.items():
        aliases = {}  # local name -> imported ntkspec module
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("ntkspec"):
                        if any(_private(p) for p in a.name.split(".")) and a.name not in TOOLBOXES:
                            bad.append(f"{_where(path, node)} import {a.name}")
                        if a.asname:
                            aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                if not source.startswith("ntkspec"):
                    continue
                if source not in TOOLBOXES and any(_private(p) for p in source.split(".")):
                    bad.append(f"{_where(path, node)} from {source} import ...")
                for a in node.names:
                    full = f"{source}.{a.name}"
                    if full in MODULES:
                        aliases[a.asname or a.name] = full
                    if _private(a.name) and full not in TOOLBOXES:
                        bad.append(f"{_where(path, node)} from {source} import {a.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and aliases[node.value.id] != module
            ):
                bad.append(f"{_where(path, node)} {aliases[node.value.id]}.{node.attr}")
    return bad


def _reexports() -> dict[str, str]:
    """Names that ``ntkspec/__init__.py`` imports, with the module they come from."""
    out = {}
    for node in ast.walk(MODULES["ntkspec"][1]):
        if isinstance(node, ast.ImportFrom):
            source = _absolute("ntkspec", node)
            for a in node.names:
                out[a.asname or a.name] = source
    return out


def _presentation_violations() -> list[str]:
    bad, reexports = [], _reexports()

    def forbidden(name: str) -> bool:
        return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_IN_PRESENTATION)

    for rel in PRESENTATION:
        path = PACKAGE / rel
        module = "ntkspec." + rel.removesuffix(".py").replace("/", ".")
        for node in ast.walk(MODULES[module][1]):
            if isinstance(node, ast.Import):
                bad += [f"{_where(path, node)} import {a.name}" for a in node.names
                        if forbidden(a.name)]  # fmt: skip
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                for a in node.names:
                    origin = reexports.get(a.name, "") if source == "ntkspec" else ""
                    if forbidden(source) or forbidden(f"{source}.{a.name}") or forbidden(origin):
                        bad.append(f"{_where(path, node)} from {source} import {a.name}")
    return bad


def _functions(tree: ast.AST, prefix: str = ""):
    """``(qualified name, node)`` of every function, nested ones and methods included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _long_functions(limit: int) -> list[str]:
    bad = []
    for path, tree in MODULES.values():
        for name, node in _functions(tree):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{name}:{length}")
    return bad


def _decorator_name(dec: ast.expr) -> str:
    target = dec.func if isinstance(dec, ast.Call) else dec
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _plain(annotation: ast.expr | None) -> bool:
    """Whether an annotation names only plain value types (``tuple[int, ...]``, ``int | None``)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant):
        if isinstance(annotation.value, str):  # a string annotation
            return _plain(ast.parse(annotation.value, mode="eval").body)
        return annotation.value is None or annotation.value is Ellipsis
    if isinstance(annotation, ast.Name):
        return annotation.id in PLAIN_TYPES
    if isinstance(annotation, ast.Attribute):
        return annotation.attr in PLAIN_TYPES
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _plain(annotation.left) and _plain(annotation.right)
    if isinstance(annotation, ast.Subscript):
        if _decorator_name(annotation.value) == "Literal":
            return True
        inner = annotation.slice
        items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        return _plain(annotation.value) and all(_plain(i) for i in items)
    return False


def _cache_violations() -> list[str]:
    bad = []
    for path, tree in MODULES.values():
        for name, node in _functions(tree):
            if not any(_decorator_name(d) in CACHE_DECORATORS for d in node.decorator_list):
                continue
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            params += [a for a in (args.vararg, args.kwarg) if a is not None]
            for p in params:
                if not _plain(p.annotation):
                    shown = ast.unparse(p.annotation) if p.annotation else "no annotation"
                    bad.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}"
                        f"({p.arg}: {shown}) is cached"
                    )
    return bad


# ----------------------------------------------------------------------------- the checker
def _check(code: str, check) -> list[str]:
    """Run ``check`` on a one-module package made of ``code`` (tests of the checks)."""
    saved = dict(MODULES)
    try:
        MODULES.clear()
        init = ast.parse("from ntkspec.spectrum import spectrum")
        MODULES.update(
            {
                "ntkspec": (PACKAGE / "__init__.py", init),
                "ntkspec.report": (PACKAGE / "report.py", ast.parse(code)),
                "ntkspec.experiments.summary": (PACKAGE / "experiments/summary.py", ast.parse("")),
                "ntkspec.kernels": (PACKAGE / "kernels.py", ast.parse("")),
            }
        )
        return check()
    finally:
        MODULES.clear()
        MODULES.update(saved)


@pytest.mark.parametrize(
    "code, hits",
    [
        ("from ntkspec.kernels import _QUADRATURE_ACTIVATIONS", 1),
        ("from .kernels import _series", 1),
        ("import ntkspec.kernels as k\nx = k._private", 1),
        ("from ntkspec import kernels\nx = kernels._private", 1),
        ("from ntkspec import _compat, _io\nfrom ntkspec._validate import check_int", 0),
        ("from ntkspec._validate import _helper", 1),
        ("from ntkspec.kernels import mlp_kernel\nx = obj._private", 0),
    ],
)
def test_private_import_check_catches(code, hits):
    assert len(_check(code, _private_import_violations)) == hits


@pytest.mark.parametrize(
    "code, hits",
    [
        ("from ntkspec.spectrum import Spectrum", 1),
        ("import ntkspec.kernels", 1),
        ("from ntkspec import kernels", 1),
        ("from ntkspec import spectrum", 1),  # re-exported from ntkspec.spectrum
        ("from . import spectrum", 1),
        ("from ntkspec.experiments.metrics import COMPARE_FLOOR", 0),
    ],
)
def test_presentation_check_catches(code, hits):
    assert len(_check(code, _presentation_violations)) == hits


@pytest.mark.parametrize(
    "code, hits",
    [
        ("@functools.lru_cache(maxsize=64)\ndef _t(kernel: ZonalKernel, which: str): ...", 1),
        ("@functools.lru_cache\ndef _s(kernel, order: int): ...", 1),
        ("@functools.cache\ndef _f(fn: Callable[[float], float]): ...", 1),
        ("@lru_cache(None)\ndef _r(panels: int, d: 'tuple[int, ...]', w: float | None): ...", 0),
        ("@functools.lru_cache(maxsize=1)\ndef _ref() -> tuple: ...", 0),
        ("class A:\n    @functools.lru_cache\n    def m(self, k: int): ...", 1),  # self
        ("@functools.lru_cache\ndef _l(mode: Literal['a', 'b']): ...", 0),
    ],
)
def test_cache_check_catches(code, hits):
    assert len(_check(code, _cache_violations)) == hits


def test_length_check_counts_docstrings():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    code = f'def f():\n    """Doc."""\n{body}\n\ndef g():\n    return 1\n'
    assert _check(code, lambda: _long_functions(MAX_FUNCTION_LINES)) == [
        f"ntkspec/report.py:f:{MAX_FUNCTION_LINES + 2}"
    ]


# ----------------------------------------------------------------------------- the package
def test_no_private_names_imported_across_modules():
    bad = _private_import_violations()
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_presentation_layer_imports_neither_kernels_nor_spectrum():
    bad = _presentation_violations()
    assert not bad, "report/summary import kernels or spectrum:\n" + "\n".join(bad)


def test_no_function_longer_than_the_limit():
    bad = _long_functions(MAX_FUNCTION_LINES)
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(bad)


def test_no_cache_keyed_on_kernels_or_callables():
    bad = _cache_violations()
    assert not bad, "caches keyed on non-plain values:\n" + "\n".join(bad)
