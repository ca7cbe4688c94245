"""The repository's theory reference is ``docs/theory.md``, and every citation of it resolves.

Two failure modes are checked:

- a file still cites ``THEORY.md``, a file that is not in the repository (the old name of the
  theory notes; ``docs/theory.md`` replaces it);
- a citation "docs/theory.md §N" or "docs/theory.md §N.M" (also ranges "§1–2" and lists
  "§1, §5") names a section that ``docs/theory.md`` does not have. Sections are its headings
  ``## N. Title`` and ``### N.M Title``; bare "§N.M" references inside docs/theory.md itself
  must resolve too.

Files are those git tracks plus untracked, non-ignored ones (``git ls-files -co
--exclude-standard``), so a citation is caught before it is committed; without git the
directories are walked instead.
"""

import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from ntkspec.kernels import mlp_kernel
from ntkspec.spectrum import spectrum
from ntkspec.sphere import multiplicity

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
THIS = Path(__file__).resolve()

#: Where a citation of the missing file is an error (CHANGELOG.md may record the rename).
CITATION_SCOPE = (
    "ntkspec/",
    "notebooks/",
    "tests/",
    "docs/",
    "benchmarks/",
    "README.md",
    "BENCHMARKS.md",
)
_OLD_NAME = "THEORY" + ".md"  # spelled in two parts so this file does not cite it
_SECTION = r"\d+(?:\.\d+)?"
_REF = rf"§\s*{_SECTION}(?:\s*[–-]\s*{_SECTION})?"
#: "docs/theory.md" followed by one or more section references: §1, §2.3, §1–2, "§1, §5",
#: "§1 and §3".
_CITATION = re.compile(rf"docs/theory\.md\s*((?:{_REF})(?:\s*(?:,|and|or)\s*{_REF})*)")
_SKIP_DIRS = {".git", ".venv", ".venv-nt", "__pycache__", ".ipynb_checkpoints", "build", "dist"}


def _repo_files() -> list[Path]:
    """Text-candidate files of the checkout (tracked + untracked not ignored)."""
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        out = subprocess.run(
            [git, "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [ROOT / p for p in out.split("\0") if p]
    else:  # a source tree without git metadata
        paths = [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
        ]
    return sorted(p for p in paths if p.is_file())


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary (figures, .npz)


def _sections(markdown: str) -> set[str]:
    """Section numbers of ``## N. Title`` and subsection numbers of ``### N.M Title``."""
    top = re.findall(r"^## (\d+)\.\s", markdown, re.M)
    sub = re.findall(r"^### (\d+\.\d+)\s", markdown, re.M)
    return set(top) | set(sub)


def _expand(ref: str) -> list[str]:
    """The section numbers one reference needs: "1–3" -> 1, 2, 3; "2.3–2.5" -> both ends."""
    ends = re.findall(_SECTION, ref)
    if len(ends) == 2 and "." not in ends[0] + ends[1]:
        return [str(n) for n in range(int(ends[0]), int(ends[1]) + 1)]
    return ends


def cited_sections(text: str) -> list[str]:
    """Every section number named by a "docs/theory.md §…" citation in ``text``, in order."""
    out = []
    for match in _CITATION.finditer(text):
        for ref in re.findall(_REF, match.group(1)):
            out.extend(_expand(ref))
    return out


def test_citation_parser():
    text = (
        "see docs/theory.md §1–3; docs/theory.md §2.6 and §5.4, docs/theory.md §4, §6.\n"
        "docs/theory.md (no section) and docs/theory.md § 3.1"
    )
    assert cited_sections(text) == ["1", "2", "3", "2.6", "5.4", "4", "6", "3.1"]
    assert _sections("## 1. A\n### 1.1 B\n## 2. C\n#### 2.1.1 D\n") == {"1", "1.1", "2"}


def test_theory_md_has_its_sections_and_references():
    text = THEORY.read_text(encoding="utf-8")
    sections = _sections(text)
    assert {"1", "2", "3", "4", "5", "6"} <= sections, sorted(sections)
    for top in ("1", "2", "3", "5"):  # each main section is split into subsections
        assert any(s.startswith(top + ".") for s in sections), top
    assert re.search(r"^## References$", text, re.M)
    # Bare cross-references inside the document resolve as well.
    inner = {n for ref in re.findall(_REF, text) for n in _expand(ref)}
    assert inner - sections == set(), sorted(inner - sections)


def test_theory_citations_name_existing_sections():
    sections = _sections(THEORY.read_text(encoding="utf-8"))
    bad = []
    for path in _repo_files():
        if path == THIS:
            continue
        text = _text(path)
        if text is None or "docs/theory.md" not in text:
            continue
        for number in cited_sections(text):
            if number not in sections:
                bad.append(f"{path.relative_to(ROOT)}: docs/theory.md §{number}")
    assert not bad, "citations of sections docs/theory.md does not have:\n" + "\n".join(bad)


def test_no_file_cites_the_missing_THEORY_md():
    """Fails while a file still cites the old theory notes, which are not in the repository.

    Fix: replace the name by ``docs/theory.md`` (section numbers §1–§4 are kept; §5 of the old
    notes is split over docs/theory.md §5 (numerics) and §6 (further kernels)).
    """
    offenders = []
    for path in _repo_files():
        rel = path.relative_to(ROOT).as_posix()
        if path == THIS or not rel.startswith(CITATION_SCOPE):
            continue
        text = _text(path)
        if text is None or _OLD_NAME not in text:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if _OLD_NAME in line:
                offenders.append(f"{rel}:{number}")
    assert not offenders, (
        f"{len(offenders)} line(s) cite {_OLD_NAME}, which is not in the repository; cite "
        "docs/theory.md instead:\n" + "\n".join(offenders)
    )


# ----------------------------------------------------------------------------- the formulas
# Statements of docs/theory.md checked against independent computations (mpmath closed forms,
# exact series), so that the reference cannot drift from the truth.


def _lam_monomial(n: int, k: int, d: int):
    """λ_k(tⁿ) of docs/theory.md §1.6 in mpmath (0 unless n >= k, n ≡ k mod 2)."""
    if n < k or (n - k) % 2:
        return mpmath.mpf(0)
    return (
        mpmath.factorial(n)
        / mpmath.factorial(n - k)
        * mpmath.gamma(mpmath.mpf(d) / 2)
        * mpmath.gamma(mpmath.mpf(n - k + 1) / 2)
        / (mpmath.sqrt(mpmath.pi) * 2**k * mpmath.gamma(mpmath.mpf(n + k + d) / 2))
    )


@pytest.mark.parametrize("d", [2, 3, 5, 12])
def test_monomial_closed_form_matches_funk_hecke_quadrature(d):
    """§1.6 against ntkspec's θ quadrature of §1.4 on κ(t) = tⁿ (a different computation)."""
    with mpmath.workdps(30):
        for n in range(10):
            spec = spectrum(lambda t, n=n: t**n, d, 11)
            ref = np.array([float(_lam_monomial(n, k, d)) for k in range(12)])
            np.testing.assert_allclose(spec.eigenvalues, ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("d", [2, 3, 7, 50])
def test_monomial_trace_bound_and_ratio(d):
    """§1.6: Σ_k N λ_k(tⁿ) = 1, λ_k(tⁿ) <= 1/N(d, k), the ratio of consecutive terms and
    where the terms start to decrease."""
    with mpmath.workdps(40):
        for n in range(14):
            lam = [_lam_monomial(n, k, d) for k in range(n + 1)]
            total = mpmath.fsum(multiplicity(d, k) * lam[k] for k in range(n + 1))
            assert abs(total - 1) < mpmath.mpf(10) ** -35
            tol = mpmath.mpf(10) ** -35
            assert all(0 <= lam[k] <= (1 + tol) / multiplicity(d, k) for k in range(n + 1))
        for k in range(7):
            for n in range(k, k + 40, 2):
                ratio = _lam_monomial(n + 2, k, d) / _lam_monomial(n, k, d)
                formula = mpmath.mpf((n + 2) * (n + 1)) / ((n + 2 - k) * (n + k + d))
                assert abs(ratio / formula - 1) < mpmath.mpf(10) ** -35
                exact = Fraction((n + 2) * (n + 1), (n + 2 - k) * (n + k + d))
                assert (exact <= 1) == ((d - 1) * (n + 2) >= k * (k + d - 2))
        assert abs(_lam_monomial(1, 1, d) - mpmath.mpf(1) / d) < mpmath.mpf(10) ** -35


def _two_layer_relu_ntk_taylor(M: int) -> list:
    """Exact Taylor coefficients a_0..a_M of NTK(t) = t·k0(t) + k1(t) (docs/theory.md §2.3).

    NTK(t) = t + (√(1 − t²) + 2 t arcsin t)/π (§2.6), with the binomial series of √(1 − t²) and
    arcsin t = Σ_j (2j)! / (4^j (j!)² (2j + 1)) t^{2j+1}.
    """
    a = [mpmath.mpf(0)] * (M + 1)
    a[0] = 1 / mpmath.pi
    a[1] = mpmath.mpf(1)
    c = mpmath.mpf(1)  # (2j)! / (4^j (j!)²) for j = m - 1
    for m in range(1, M // 2 + 1):
        j = m - 1
        if j > 0:
            c *= mpmath.mpf(2 * j - 1) / (2 * j)
        sqrt_term = (-1) ** m * mpmath.binomial(mpmath.mpf(1) / 2, m)
        a[2 * m] = (sqrt_term + 2 * c / (2 * j + 1)) / mpmath.pi
    return a


#: §2.7: the two-layer bias-free ReLU NTK on S^2, exactly.
_EXACT_S2 = {0: (1, 2), 1: (1, 3), 2: (5, 64), 3: (0, 1), 4: (1, 192), 5: (0, 1), 6: (23, 16384)}


@pytest.mark.parametrize(("d", "M"), [(3, 600), (50, 60)])
def test_nonnegative_series_and_its_tail_bound(d, M):
    """§1.7 and §5.4 on the two-layer ReLU NTK: a_n >= 0, Σ a_n <= κ(1) = 2, and

        S_M = Σ_{n<=M} a_n λ_k(tⁿ) <= λ_k <= S_M + (κ(1) − Σ_{n<=M} a_n) λ_k(t^{n0}),

    n0 the first n > M of k's parity (valid since (d − 1)(M + 3) >= k(k + d − 2)). λ_k is the
    exact value of §2.7 for d = 3 and ntkspec's quadrature (within its 1e-14 error) for d = 50.
    """
    with mpmath.workdps(30):
        a = _two_layer_relu_ntk_taylor(M)
        assert all(x >= 0 for x in a)
        mass = mpmath.fsum(a)
        assert 0 < 2 - mass < 1
        if d == 3:
            exact = {k: mpmath.mpf(p) / q for k, (p, q) in _EXACT_S2.items()}
            slack = mpmath.mpf(0)
        else:
            lam = spectrum(mlp_kernel(1), d, 6).eigenvalues
            exact = {k: mpmath.mpf(float(lam[k])) for k in range(7)}
            slack = mpmath.mpf(1e-14 * float(lam[0]))
        for k, lam_k in exact.items():
            assert (d - 1) * (M + 3) >= k * (k + d - 2)
            partial = mpmath.fsum(a[n] * _lam_monomial(n, k, d) for n in range(k, M + 1, 2))
            n0 = M + 1 if (M + 1 - k) % 2 == 0 else M + 2
            bound = (2 - mass) * _lam_monomial(n0, k, d)
            assert partial <= lam_k + slack, k
            assert lam_k <= partial + bound + slack, k
