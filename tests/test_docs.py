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
from pathlib import Path

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
