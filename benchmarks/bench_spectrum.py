"""Accuracy and speed of ``ntkspec.spectrum`` against the alternatives, in one run.

Sections (all against the mpmath reference ``tests/data/spectra_reference.json``):

1. Speed: ``spectrum(mlp_kernel(4), 3, kmax)`` for kmax = 100, 1000, 10000.
2. Side by side for the depth-4 ReLU NTK, k <= 100, d = 3 and d = 10:
   (a) ntkspec; (b) Gauss–Jacobi in t with the same node count as ntkspec's stored rule;
   (c) the Gram route: n uniform points, ``eigh(K / n)``, clusters read off by multiplicity.
   Plus a convergence sweep (d = 3): both quadratures at equal node counts.
3. Accuracy of ntkspec over all 168 reference cases, including how far below λ_max
   every eigenvalue keeps a relative error <= 1e-6 (the "stretch" measurement).
4. ``routes``: per dimension (2 … 10⁴, both reference files) and route (quadrature, series,
   automatic choice), the worst relative error, the share of λ_k within 1e-10 and whether
   the reported error bounded the true error everywhere.

Uses only the public API. Errors are computed exactly: each float64 result is converted to a
``Fraction`` and compared with the 32-digit reference. Timings are medians after a warm-up
(JIT compile); every ratio compares numbers measured in this run.

    .venv/bin/python -m benchmarks.bench_spectrum [--quick] [--json FILE] [--only SECTION]

(or ``python benchmarks/bench_spectrum.py`` with ntkspec installed or ``PYTHONPATH=.``).
Results and their interpretation: BENCHMARKS.md, "Spectrum accuracy and speed".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy
from scipy.special import gammaln, roots_jacobi

from benchmarks._machine import machine
from ntkspec import gegenbauer, mlp_kernel, multiplicity, sample_sphere, spectrum

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "spectra_reference.json"
KMAX_REF = 100
PANEL_NODES = 32  # nodes per panel of ntkspec's composite θ rule (see spectrum's docstring)
TOL = 1e-14  # spectrum's default tol
REL_BAR = 1e-6  # "resolved" eigenvalues: λ_k >= REL_BAR · λ_max
STRICT = 1e-10  # the per-case pass bar for relative error on resolved eigenvalues
STRETCH = 1e-6  # relative error bar of the stretch measurement


# ----------------------------------------------------------------------------- helpers
def x64():
    """Local float64 JAX (never flips the global flag): jax.enable_x64 or the old experimental."""
    if jax.config.jax_enable_x64:
        return contextlib.nullcontext()
    new = getattr(jax, "enable_x64", None)
    if callable(new):
        return new(True)
    from jax.experimental import enable_x64

    return enable_x64()


def block(out):
    return jax.block_until_ready(out) if isinstance(out, jax.Array) else out


def bench(fn, repeats: int, warmup: int = 1, budget_s: float = float("inf")):
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls; last output.

    Stops early (after at least one timed call) once the timed calls exceed ``budget_s``.
    """
    for _ in range(warmup):
        out = block(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = block(fn())
        times.append(time.perf_counter() - t0)
        if sum(times) > budget_s:
            break
    return float(np.median(times)), times, out


def _machine() -> dict:
    return machine(
        numpy=np.__version__,
        scipy=scipy.__version__,
        blas_threads_env={
            k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ
        },
    )


def load_reference(path: Path) -> list[dict]:
    cases = json.loads(path.read_text())["cases"]
    for c in cases:
        c["exact"] = [Fraction(s) for s in c["eigenvalues"]]
    return cases


def find_case(cases, *, activation="relu", kernel="ntk", dim, depth, bias_var=0.0) -> dict:
    for c in cases:
        if (c["activation"], c["kernel"], c["dim"], c["depth"]) == (activation, kernel, dim, depth):
            if float(c["bias_var"]) == bias_var:
                return c
    raise KeyError((activation, kernel, dim, depth, bias_var))


def errors(approx: dict[int, float], exact: list[Fraction], kmax_rel: int | None = None) -> dict:
    """Exact error statistics of ``approx`` (degree -> float) against ``exact``.

    ``rel``: max relative error over degrees with λ_k >= REL_BAR·λ_max (optionally k <= kmax_rel);
    ``abs``: max |error| / λ_max over every degree present (the exact zeros included).
    """
    scale = max(abs(x) for x in exact)
    rel, ab, k_rel = 0.0, 0.0, None
    for k, val in approx.items():
        err = abs(Fraction(float(val)) - exact[k])
        ab = max(ab, float(err / scale))
        if exact[k] >= REL_BAR * scale and (kmax_rel is None or k <= kmax_rel):
            if float(err / exact[k]) >= rel:
                rel, k_rel = float(err / exact[k]), k
    ratio = None if k_rel is None else float(exact[k_rel] / scale)
    return {"rel": rel, "abs": ab, "rel_at_k": k_rel, "rel_at_ratio": ratio}


def fh_constant(d: int) -> float:
    """c_d = Γ(d/2) / (√π Γ((d-1)/2)), to a few ulps for the small d used here."""
    return float(np.exp(gammaln(d / 2) - gammaln((d - 1) / 2)) / np.sqrt(np.pi))


def start_panels(d: int, kmax: int) -> int:
    """spectrum's documented adaptive start ``(kmax + dim)//8 + 6``."""
    return (kmax + d) // 8 + 6


def adaptive_panels(kernel, d: int, kmax: int, reference) -> int:
    """The panel count spectrum's adaptive loop settles on (checked against ``reference``)."""
    p = start_panels(d, kmax)
    while True:
        s = spectrum(kernel, d, kmax, panels=p)
        if s.error.max() <= TOL * np.abs(s.eigenvalues).max() or p >= 8192:
            break
        p = min(2 * p, 8192)
    if not np.array_equal(s.eigenvalues, reference.eigenvalues):
        raise RuntimeError("could not reproduce spectrum's adaptive node count")
    return p


# ----------------------------------------------------------------------------- methods
def gauss_jacobi(kernel, d: int, kmax: int, n: int) -> np.ndarray:
    """λ_0..λ_kmax by n-point Gauss–Jacobi in t, weight (1-t²)^{(d-3)/2}; κ(t) in float64."""
    alpha = (d - 3) / 2
    t, w = roots_jacobi(n, alpha, alpha)
    with x64():
        vals = np.asarray(_ntk_jit(kernel)(jnp.asarray(t, dtype=jnp.float64)))
    P = gegenbauer(kmax, d, t)
    return fh_constant(d) * (P @ (w * vals))


_JITS: dict = {}


def _ntk_jit(kernel):
    if kernel not in _JITS:
        _JITS[kernel] = jax.jit(kernel.ntk)
    return _JITS[kernel]


def gram_route(kernel, d: int, n: int, seed: int, exact: list[Fraction]):
    """What users do today: Gram of n uniform points, eigh(K/n), clusters by multiplicity.

    The sorted eigenvalues are handed out to the degrees in order of decreasing exact λ_k
    (N(d, k) each, exact zeros skipped); a degree's estimate is its cluster's mean. Degrees
    whose whole cluster does not fit in n are not estimated.
    """
    with x64():
        X = sample_sphere(jax.random.key(seed), n, d, dtype=jnp.float64)
        K = np.asarray(block(kernel.gram(X)))
    mu = np.linalg.eigh(K / n)[0][::-1]
    order = sorted((k for k in range(len(exact)) if exact[k] != 0), key=lambda k: -exact[k])
    est, pos = {}, 0
    for k in order:
        m = multiplicity(d, k)
        if pos + m > n:
            break
        est[k] = float(mu[pos : pos + m].mean())
        pos += m
    return est


# ----------------------------------------------------------------------------- sections
def section_speed(kernel, cases, repeats: int, quick: bool) -> list[dict]:
    exact = find_case(cases, dim=3, depth=4)["exact"]
    rows = []
    for kmax in (100, 1000, 10_000):
        # kmax = 10^4 takes seconds per call: stop repeating after 20 s (10 s with --quick).
        budget = float("inf") if kmax <= 1000 else (10.0 if quick else 20.0)
        p0 = start_panels(3, kmax)
        # Warm-up compiles the kernel for the two node arrays spectrum will use (the rule and
        # its 2/3 check rule) at kmax = 0, so a warm-up at kmax = 10^4 costs seconds, not tens.
        spectrum(kernel, 3, 0, panels=p0)
        med, times, s = bench(lambda kmax=kmax: spectrum(kernel, 3, kmax), repeats, 0, budget)
        row = {"kmax": kmax, "median_s": med, "times_s": times, "repeats": len(times)}
        if kmax <= 1000:
            p = adaptive_panels(kernel, 3, kmax, s)
            row["panels"], row["nodes"] = p, p * PANEL_NODES
        else:
            row["panels_start"] = p0
        row["sum_rule_residual"] = s.sum_rule_residual()
        row["max_error_estimate_over_lambda0"] = float(s.error.max() / s.eigenvalues[0])
        # Correctness of every run: degrees k <= 100 against the mpmath reference.
        row["rel_err_k100"] = errors(dict(enumerate(s.eigenvalues[: KMAX_REF + 1])), exact)["rel"]
        assert row["rel_err_k100"] < 1e-8, row
        rows.append(row)
    return rows


def section_side_by_side(kernel, cases, dims, gram_plan, repeats: int) -> list[dict]:
    out = []
    for d in dims:
        exact = find_case(cases, dim=d, depth=4)["exact"]
        s_ref = spectrum(kernel, d, KMAX_REF)
        # Correctness before timing.
        ok = errors(dict(enumerate(s_ref.eigenvalues)), exact)
        assert ok["rel"] < 1e-8, f"ntkspec is wrong at d={d}: {ok}"
        p = adaptive_panels(kernel, d, KMAX_REF, s_ref)
        nodes = p * PANEL_NODES
        rows = []

        med, times, s = bench(lambda d=d: spectrum(kernel, d, KMAX_REF), repeats)
        approx = dict(enumerate(s.eigenvalues))
        rows.append(
            {
                "method": f"ntkspec (θ rule, {p} panels = {nodes} nodes; check rule "
                f"{(2 * p) // 3 * PANEL_NODES})",
                "median_s": med,
                "times_s": times,
                **_errs(approx, exact),
            }
        )
        med, times, lam = bench(lambda d=d, n=nodes: gauss_jacobi(kernel, d, KMAX_REF, n), repeats)
        rows.append(
            {
                "method": f"Gauss–Jacobi in t, {nodes} nodes",
                "median_s": med,
                "times_s": times,
                **_errs(dict(enumerate(lam)), exact),
            }
        )
        for n, reps in gram_plan.get(d, []):
            with x64():  # warm-up: compile the Gram for this shape
                X = sample_sphere(jax.random.key(10_000), n, d, dtype=jnp.float64)
                block(kernel.gram(X))
            times, errs, nres = [], [], []
            for r in range(reps):
                t0 = time.perf_counter()
                est = gram_route(kernel, d, n, r, exact)
                times.append(time.perf_counter() - t0)
                errs.append(_errs(est, exact))
                nres.append(len(est))
            row = {
                "method": f"Gram route, n = {n} (eigh)",
                "median_s": float(np.median(times)),
                "times_s": times,
                "repeats": reps,
                "degrees_estimated": int(np.median(nres)),
                "highest_degree_estimated": max(est),
            }
            for key in errs[0]:
                row[key] = float(np.median([e[key] for e in errs]))
            rows.append(row)
        base = rows[0]["median_s"]
        for row in rows:
            row["time_vs_ntkspec"] = row["median_s"] / base
        out.append({"dim": d, "panels": p, "nodes": nodes, "rows": rows})
    return out


def _errs(approx: dict[int, float], exact) -> dict:
    e20 = errors({k: v for k, v in approx.items() if k <= 20}, exact)
    e100 = errors(approx, exact)
    return {"rel_k20": e20["rel"], "rel_k100": e100["rel"], "abs_over_l0": e100["abs"]}


def section_convergence(kernel, cases, nodes_list) -> list[dict]:
    """d = 3: both quadratures at equal node counts (max rel error over resolved k <= 100)."""
    exact = find_case(cases, dim=3, depth=4)["exact"]
    rows = []
    for n in nodes_list:
        with warnings.catch_warnings():  # few nodes are under-resolved on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            s = spectrum(kernel, 3, KMAX_REF, panels=n // PANEL_NODES)
        gj = gauss_jacobi(kernel, 3, KMAX_REF, n)
        row = {"nodes": n}
        for name, lam in (("theta", s.eigenvalues), ("gauss_jacobi", gj)):
            row[name] = errors(dict(enumerate(lam)), exact)["rel"]
            row[name + "_k40"] = float(abs(Fraction(float(lam[40])) - exact[40]) / exact[40])
        rows.append(row)
    return rows


def section_accuracy(cases) -> dict:
    kernels: dict = {}
    per_case = []
    t0 = time.perf_counter()
    for c in cases:
        cfg = (c["depth"], c["activation"], float(c["weight_var"]), float(c["bias_var"]),
               float(c["first_layer_var"]))  # fmt: skip
        if cfg not in kernels:
            kernels[cfg] = mlp_kernel(
                cfg[0], cfg[1], weight_var=cfg[2], bias_var=cfg[3], first_layer_var=cfg[4]
            )
        s = spectrum(kernels[cfg], c["dim"], KMAX_REF, which=c["kernel"])
        exact = c["exact"]
        scale = max(abs(x) for x in exact)
        e = errors(dict(enumerate(s.eigenvalues)), exact)
        # Stretch: scan the nonzero λ_k from the largest down; the reach is the smallest
        # λ_k/λ_max before the first one with relative error > STRETCH.
        nz = sorted((k for k in range(len(exact)) if exact[k] != 0), key=lambda k: -exact[k])
        reach, reach_k, first_bad = None, None, None
        for k in nz:
            rel = abs(Fraction(float(s.eigenvalues[k])) - exact[k]) / exact[k]
            if rel > STRETCH:
                first_bad = k
                break
            reach, reach_k = float(exact[k] / scale), k
        per_case.append(
            {
                "activation": c["activation"],
                "kernel": c["kernel"],
                "dim": c["dim"],
                "depth": c["depth"],
                "bias_var": float(c["bias_var"]),
                "rel": e["rel"],
                "rel_at_k": e["rel_at_k"],
                "rel_at_ratio": e["rel_at_ratio"],
                "abs_over_max": e["abs"],
                "pass_strict": e["rel"] <= STRICT,
                "stretch_reach": reach,
                "stretch_reach_k": reach_k,
                "stretch_all": first_bad is None,
                "stretch_first_bad_k": first_bad,
                "stretch_first_bad_ratio": None
                if first_bad is None
                else float(exact[first_bad] / scale),
            }
        )
    elapsed = time.perf_counter() - t0
    per_dim = {}
    for d in sorted({r["dim"] for r in per_case}):
        rows = [r for r in per_case if r["dim"] == d]
        reaches = [r["stretch_reach"] for r in rows if r["stretch_reach"] is not None]
        first_bad = [r["stretch_first_bad_ratio"] for r in rows if not r["stretch_all"]]
        per_dim[d] = {
            "cases": len(rows),
            "worst_rel": max(r["rel"] for r in rows),
            "worst_abs_over_max": max(r["abs_over_max"] for r in rows),
            "pass_strict": sum(r["pass_strict"] for r in rows),
            "stretch_all_k": sum(r["stretch_all"] for r in rows),
            # In every case of this d, each nonzero λ_k with λ_k/λ_max above this ratio is
            # within STRETCH (the weakest case's first failure) ...
            "stretch_worst_first_bad": max(first_bad, default=None),
            "stretch_median_first_bad": float(np.median(first_bad)) if first_bad else None,
            # ... and the best case is within STRETCH down to this ratio.
            "stretch_best_reach": min(reaches) if reaches else None,
        }
    worst = max(per_case, key=lambda r: r["rel"])
    fails = [r for r in per_case if not r["pass_strict"]]
    stretch50 = next(
        r
        for r in per_case
        if (r["activation"], r["kernel"], r["dim"], r["depth"], r["bias_var"])
        == ("relu", "ntk", 50, 4, 0.0)
    )
    return {
        "seconds": elapsed,
        "cases": len(per_case),
        "pass_strict": len(per_case) - len(fails),
        "fails_strict": fails,
        "worst_case": worst,
        "per_dim": per_dim,
        "d50_depth4_ntk": stretch50,
        "per_case": per_case,
    }


def stretch_d50(cases, kernel) -> dict:
    """The issue's stretch goal: d = 50, depth-4 NTK, k = 16..100 to 1e-6 relative."""
    exact = find_case(cases, dim=50, depth=4)["exact"]
    s = spectrum(kernel, 50, KMAX_REF)
    rel = [float(abs(Fraction(float(s.eigenvalues[k])) - exact[k]) / exact[k]) for k in range(101)]
    good = [k for k in range(16, 101) if rel[k] <= STRETCH]
    reach_k = max((k for k in range(101) if all(r <= STRETCH for r in rel[: k + 1])), default=0)
    return {
        "lambda16_over_lambda0": float(exact[16] / exact[0]),
        "lambda100_over_lambda0": float(exact[100] / exact[0]),
        "degrees_16_100_within_1e-6": len(good),
        "rel_k16": rel[16],
        "largest_k_all_below_within_1e-6": reach_k,
        "its_ratio": float(exact[reach_k] / exact[0]),
        "rel_first_bad": rel[reach_k + 1] if reach_k < 100 else None,
    }


# ----------------------------------------------------------------------------- report
def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if x == 0:
        return "0"
    return f"{x:.{digits}e}"


def fmt_t(s):
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def report(res) -> str:
    lines = []
    m = res["machine"]
    blas = ", ".join(f"{k}={v}" for k, v in m["blas_threads_env"].items()) or "default BLAS threads"
    lines.append(
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, Python {m['python']}, numpy "
        f"{m['numpy']}, scipy {m['scipy']}, jax {m['jax']} ({m['jax_backend']}), {blas}; "
        f"load average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end."
    )
    if "speed" in res:
        lines += ["", "### Speed: `spectrum(mlp_kernel(4), 3, kmax)`", ""]
        lines += [
            "| kmax | nodes | median | timed calls | max rel err k ≤ 100 | Σ_k N λ_k deficit |",
            "|---|---|---|---|---|---|",
        ]
        for r in res["speed"]:
            nodes = r.get("nodes", f"{r.get('panels_start', 0) * PANEL_NODES} (adaptive start)")
            lines.append(
                f"| {r['kmax']} | {nodes} | {fmt_t(r['median_s'])} | {r['repeats']} | "
                f"{fmt(r['rel_err_k100'])} | {r['sum_rule_residual']:.3g} |"
            )
    for block_ in res.get("side_by_side", []):
        d = block_["dim"]
        lines += ["", f"### Side by side: depth-4 ReLU NTK, d = {d}, k ≤ {KMAX_REF}", ""]
        lines += [
            "| method | median time | × ntkspec | max rel err, k ≤ 20 | max rel err, k ≤ 100 "
            "| max abs err / λ_0 | degrees estimated |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in block_["rows"]:
            est = r.get("degrees_estimated", KMAX_REF + 1)
            hi = r.get("highest_degree_estimated", KMAX_REF)
            n = r.get("repeats")
            reps = "" if n is None else f" ({n} run{'s' if n > 1 else ''})"
            lines.append(
                f"| {r['method']} | {fmt_t(r['median_s'])}{reps} | {r['time_vs_ntkspec']:.3g} | "
                f"{fmt(r['rel_k20'])} | {fmt(r['rel_k100'])} | {fmt(r['abs_over_l0'])} | "
                f"{est} (k ≤ {hi}) |"
            )
    if "convergence" in res:
        lines += ["", "### Convergence at equal node counts (d = 3, depth-4 ReLU NTK)", ""]
        lines += [
            "| nodes | θ rule: max rel err | θ rule: rel err k = 40 | Gauss–Jacobi: max rel err "
            "| Gauss–Jacobi: rel err k = 40 |",
            "|---|---|---|---|---|",
        ]
        for r in res["convergence"]:
            lines.append(
                f"| {r['nodes']} | {fmt(r['theta'])} | {fmt(r['theta_k40'])} | "
                f"{fmt(r['gauss_jacobi'])} | {fmt(r['gauss_jacobi_k40'])} |"
            )
    if "accuracy" in res:
        lines += report_accuracy(res["accuracy"], res["stretch_d50"])
    return "\n".join(lines)


def report_accuracy(acc, s) -> list[str]:
    lines = ["", f"### Accuracy over the reference file ({acc['cases']} cases, k ≤ 100)", ""]
    lines += [
        "| d | cases | worst rel err (λ_k ≥ 1e-6 λ_max) | worst abs err / λ_max "
        "| rel ≤ 1e-10 | stretch: first λ_k/λ_max with rel > 1e-6, worst case / median "
        "| stretch: best case within 1e-6 down to | all 101 within 1e-6 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d, r in acc["per_dim"].items():
        lines.append(
            f"| {d} | {r['cases']} | {fmt(r['worst_rel'])} | {fmt(r['worst_abs_over_max'])} | "
            f"{r['pass_strict']}/{r['cases']} | {fmt(r['stretch_worst_first_bad'])} / "
            f"{fmt(r['stretch_median_first_bad'])} | {fmt(r['stretch_best_reach'])} | "
            f"{r['stretch_all_k']}/{r['cases']} |"
        )
    lines.append("")
    lines.append(
        f"{acc['pass_strict']} of {acc['cases']} cases have relative error ≤ 1e-10 for every "
        f"λ_k ≥ 1e-6·λ_max ({acc['seconds']:.1f} s for all {acc['cases']} spectra, compile "
        "included)."
    )
    w = acc["worst_case"]
    lines.append(
        f"Worst case: {w['activation']} {w['kernel']}, d = {w['dim']}, depth {w['depth']}, "
        f"σ_b² = {w['bias_var']}: rel err {w['rel']:.2e} at k = {w['rel_at_k']} "
        f"(λ_k/λ_max = {w['rel_at_ratio']:.1e})."
    )
    for f in acc["fails_strict"]:
        lines.append(
            f"- above 1e-10: {f['activation']} {f['kernel']}, d = {f['dim']}, depth {f['depth']}, "
            f"σ_b² = {f['bias_var']}: {f['rel']:.2e} at k = {f['rel_at_k']} "
            f"(λ_k/λ_max = {f['rel_at_ratio']:.1e})"
        )
    k = s["largest_k_all_below_within_1e-6"]
    lines.append("")
    lines.append(
        f"Stretch goal (d = 50, depth-4 NTK, k = 16..100, λ_16/λ_0 = "
        f"{s['lambda16_over_lambda0']:.1e}, λ_100/λ_0 = {s['lambda100_over_lambda0']:.1e}): "
        f"{s['degrees_16_100_within_1e-6']} of 85 degrees within 1e-6 relative "
        f"(rel err at k = 16: {s['rel_k16']:.1e}); every k ≤ {k} (λ_k/λ_0 ≥ "
        f"{s['its_ratio']:.1e}) is within 1e-6; k = {k + 1} is off by {fmt(s['rel_first_bad'])}."
    )
    return lines


SECTIONS = ("speed", "side", "convergence", "accuracy", "routes")
HIGHDIM = REPO / "tests" / "data" / "spectra_highdim.json"


def _case_kernel(c):
    return mlp_kernel(
        c["depth"], c["activation"], c["weight_var"], c["bias_var"], c["first_layer_var"]
    )


def section_routes(files) -> list[dict]:
    """Per dimension and route: worst relative error, share within 1e-10, bound held.

    For each case of the reference files, ``spectrum(..., method=m)`` for the quadrature, the
    series (relu/erf only) and the automatic choice, against the 32-digit reference (exact
    ``Fraction`` arithmetic). Only values float64 can represent (> 1e-300) count for the
    relative error; exact zeros count for the bound (|λ| <= error).
    """
    rows = {}
    for path in files:
        for c in load_reference(path):
            kernel, d = _case_kernel(c), c["dim"]
            kmax = len(c["exact"]) - 1
            for m in ("quadrature", "series", "auto"):
                t0 = time.perf_counter()
                s = spectrum(kernel, d, kmax, c["kernel"], method=m)
                dt = time.perf_counter() - t0
                r = rows.setdefault(
                    (d, m),
                    dict(
                        dim=d,
                        route=m,
                        cases=0,
                        values=0,
                        within=0,
                        worst=0.0,
                        held=True,
                        ratio=0.0,
                        seconds=0.0,
                    ),
                )
                r["cases"] += 1
                r["seconds"] += dt
                for k, ex in enumerate(c["exact"]):
                    true = abs(Fraction(float(s.eigenvalues[k])) - ex)
                    bound = Fraction(float(s.error[k]))
                    r["held"] &= true <= bound
                    if bound > 0:
                        r["ratio"] = max(r["ratio"], float(true / bound))
                    if ex > Fraction(1, 10**300):
                        rel = float(true / ex)
                        r["values"] += 1
                        r["within"] += rel <= 1e-10
                        r["worst"] = max(r["worst"], rel)
    return sorted(rows.values(), key=lambda r: (r["dim"], r["route"]))


def report_routes(rows) -> list[str]:
    lines = [
        "",
        "### Spectrum routes by dimension (k <= 100; fewer at d >= 3072, where λ_k underflows)",
        "",
        "| d | route | cases | worst rel. error | λ_k within 1e-10 | error bound held "
        "| max true/bound | time/case |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dim']} | {r['route']} | {r['cases']} | {r['worst']:.1e} | "
            f"{r['within']}/{r['values']} | {'yes' if r['held'] else '**no**'} | "
            f"{r['ratio']:.2g} | {r['seconds'] / r['cases']:.2f} s |"
        )
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, small Gram matrices")
    ap.add_argument("--json", metavar="FILE", help="also write all numbers as JSON")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5; 3 quick)")
    ap.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)"
    )
    args = ap.parse_args(argv)
    only = set(args.only or SECTIONS)
    repeats = args.repeats or (3 if args.quick else 5)
    t_start = time.perf_counter()
    res = {"machine": _machine(), "command": " ".join(["python", *sys.argv])}
    cases = load_reference(REFERENCE)
    kernel = mlp_kernel(4)

    if "speed" in only:
        res["speed"] = section_speed(kernel, cases, repeats, args.quick)
    if "side" in only:
        if args.quick:
            gram_plan = {3: [(1000, 3)]}
        else:
            # eigh is O(n^3): n = 4000 takes tens of seconds on 2 shared cores: one run.
            gram_plan = {3: [(1000, repeats), (2000, 3), (4000, 1)], 10: [(1000, 3)]}
        res["side_by_side"] = section_side_by_side(kernel, cases, (3, 10), gram_plan, repeats)
    if "convergence" in only:
        nodes = [64, 128, 256, 512, 1024, 2048, 4096]
        res["convergence"] = section_convergence(kernel, cases, nodes)
    if "accuracy" in only:
        res["accuracy"] = section_accuracy(cases)
        res["stretch_d50"] = stretch_d50(cases, kernel)
    if "routes" in only:
        res["routes"] = section_routes([REFERENCE, HIGHDIM])
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["total_seconds"] = time.perf_counter() - t_start

    print(report(res))
    if "routes" in res:
        print("\n".join(report_routes(res["routes"])))
    print(f"\nTotal benchmark time: {res['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
