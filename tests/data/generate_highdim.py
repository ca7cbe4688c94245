#!/usr/bin/env python
"""High-dimensional mpmath reference for Funk-Hecke eigenvalues of infinite-width MLP kernels.

Writes ``spectra_highdim.json`` next to itself.  Like ``generate_spectra.py`` it imports
nothing from ``ntkspec``; in particular it does NOT use Taylor series (the route it checks):
every value is a direct high-precision quadrature of

    lambda_k = c_d int_0^pi kappa(cos th) P_k(cos th) sin^{d-2}(th) dth

with the kernel evaluated in mpmath (conventions: docs/theory.md and tests/data/README.md).

Why high precision.  For large d the integrand is ~d^{-k/2} while lambda_k ~ d^{-k}: the
quadrature cancels about (k/2) log10(d) digits, so it runs at dps = (k_max/2) log10(d) + 45.

Nodes.  sin^{d-2} th confines the integrand to a window of width ~1/sqrt(d) around th = pi/2.
The integral is taken over [pi/2 - X, pi/2] and mirrored exactly (t -> -t, parity of P_k),
where X is chosen so that sin^{d-2}(pi/2 - X) = cos^{d-2} X < 10^{-(dps + 10)}: everything
outside is below 10^{-(dps+10)} * kappa(1), i.e. far below 1e-35 * lambda_k for every stored
value.  The window is split into equal panels of Gauss-Legendre nodes (mpmath's nodes).  Two
rules (P panels of 3*2^5 and of 3*2^6 nodes, P = 8, doubled until they agree) must agree to
1e-32 relative for every value that is nonzero in theory; the finer one is stored.  Each
finished dimension is checkpointed in ``spectra_highdim.partial.json`` (removed at the end),
so an interrupted run resumes.

Run:  .venv/bin/python tests/data/generate_highdim.py     (about 5-10 minutes, one process)
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import mpmath
from mpmath import mp, mpf

DIMS = (10, 30, 100, 300, 784, 3072, 10000)
KMAX = 100
PANELS = 8  # Gauss-Legendre panels on the window (doubled until the two rules agree)
# (activation, depth, weight_var, bias_var (exact decimal), first_layer_var)
KERNELS = (
    ("relu", 1, "2", "0", "1"),
    ("relu", 3, "2", "0", "1"),
    ("relu", 2, "2", "0.1", "1"),
    ("erf", 2, "1", "0", "1"),
)


def kmax_for(d: int) -> int:
    """Highest degree stored: lambda_k must stay well inside float64 (~ d^{-k} > 1e-290)."""
    return min(KMAX, int(290 / math.log10(d)))


def layer_values(act, depth, sw, sb, sw0, t, a, b):
    """(NNGP, NTK) at t with a = 1 - t, b = 1 + t (mpmath, current precision)."""
    q = sw0 + sb
    sigma = sw0 * t + sb
    theta = sigma
    for _ in range(depth):
        if act == "relu":
            rho = sigma / q
            rho = min(max(rho, mpf(-1)), mpf(1))
            ac = mpmath.acos(rho)
            k0 = (mp.pi - ac) / mp.pi
            k1 = (mpmath.sqrt(max(1 - rho * rho, mpf(0))) + rho * (mp.pi - ac)) / mp.pi
            sigma, sigma_dot, q = sw * q / 2 * k1 + sb, sw / 2 * k0, sw * q / 2 + sb
        else:
            c = 1 + 2 * q
            sigma, sigma_dot, q = (
                sw * 2 / mp.pi * mpmath.asin(2 * sigma / c) + sb,
                sw * 4 / mp.pi / mpmath.sqrt(c * c - 4 * sigma * sigma),
                sw * 2 / mp.pi * mpmath.asin(2 * q / c) + sb,
            )
        theta = theta * sigma_dot + sigma
    return sigma, theta


def exact_zero(act, depth, sb, k) -> bool:
    if sb != 0:
        return False
    if act == "relu":
        return depth == 1 and k % 2 == 1 and k >= 3
    return k % 2 == 0  # bias-free erf is odd


def funk_hecke_constant(d):
    return mpmath.gamma(mpf(d) / 2) / (mpmath.sqrt(mp.pi) * mpmath.gamma(mpf(d - 1) / 2))


def window(d, dps):
    """X with cos^{d-2} X <= 10^{-(dps+10)} (or pi/2)."""
    if d <= 2:
        return mp.pi / 2
    c = mpmath.power(10, -mpf(dps + 10) / (d - 2))
    return min(mp.pi / 2, mpmath.acos(c) * mpf("1.02"))


def rule(d, dps, panels, degree):
    """Nodes th in [pi/2 - X, pi/2] and weights (Gauss-Legendre panels)."""
    gl = mpmath.calculus.quadrature.GaussLegendre(mp)
    base = gl.calc_nodes(degree, mp.prec)  # on [-1, 1]
    X = window(d, dps)
    lo = mp.pi / 2 - X
    h = X / panels
    out = []
    for j in range(panels):
        a = lo + j * h
        for x, w in base:
            out.append((a + (x + 1) * h / 2, w * h / 2))
    return out


def one_dimension(d, meta_checks):
    """All cases at dimension d (raises unless two rules agree to 1e-32 relative)."""
    kmax = kmax_for(d)
    dps = int(kmax / 2 * math.log10(d)) + 45
    mp.dps = dps
    kernels = {}
    for act, depth, sw, sb, sw0 in KERNELS:
        kernels[(act, depth, sb)] = (act, depth, mpf(sw), mpf(sb), mpf(sw0))
    panels = PANELS
    while True:
        coarse = _all(d, kmax, rule(d, dps, panels, 6), kernels)
        fine = _all(d, kmax, rule(d, dps, panels, 7), kernels)
        worst = _worst_difference(d, dps, kmax, kernels, coarse, fine)
        if worst <= mpf("1e-32"):
            break
        if panels >= 4 * PANELS:
            raise AssertionError(f"rules disagree at d={d}: {worst}")
        panels *= 2  # refine and retry
    cases = []
    for key, spec in kernels.items():
        act, depth, sw, sb, sw0 = spec
        for which, name in ((0, "nngp"), (1, "ntk")):
            vals = fine[key][which]
            kappa_one = layer_values(act, depth, sw, sb, sw0, mpf(1), mpf(0), mpf(2))[which]
            cases.append(
                {
                    "activation": act,
                    "kernel": name,
                    "dim": d,
                    "depth": depth,
                    "weight_var": float(sw),
                    "bias_var": float(sb),
                    "first_layer_var": float(sw0),
                    "kappa_one": mpmath.nstr(kappa_one, 32),
                    "eigenvalues": [
                        "0" if exact_zero(act, depth, sb, k) else mpmath.nstr(vals[k], 32)
                        for k in range(kmax + 1)
                    ],
                }
            )
            _checks(d, spec, name, vals, kappa_one, meta_checks)
    info = {
        "dim": d,
        "kmax": kmax,
        "dps": dps,
        "panels": panels,
        "worst_rule_difference": mpmath.nstr(worst, 3),
    }
    return cases, info


def _worst_difference(d, dps, kmax, kernels, coarse, fine):
    """Largest relative difference of the two rules over values nonzero in theory."""
    worst = mpf(0)
    for key, spec in kernels.items():
        act, depth, sw, sb, sw0 = spec
        for which in (0, 1):
            vals = fine[key][which]
            scale = max(abs(v) for v in vals)
            for k in range(kmax + 1):
                ref = vals[k]
                if exact_zero(act, depth, sb, k):
                    if abs(ref) > mpf(10) ** (-dps + 5) * scale:
                        raise AssertionError(f"exact zero not zero: d={d} {key} k={k}")
                    continue
                if ref <= 0:
                    raise AssertionError(f"nonpositive value: d={d} {key} {which} k={k}")
                worst = max(worst, abs(coarse[key][which][k] - ref) / ref)
    return worst


def main() -> int:
    start = time.time()
    here = Path(__file__).parent
    partial = here / "spectra_highdim.partial.json"  # per-d checkpoint, removed at the end
    done = json.loads(partial.read_text()) if partial.exists() else {"cases": [], "dims": []}
    for d in DIMS:
        if any(info["dim"] == d for info in done["dims"]):
            continue
        checks = []
        cases, info = one_dimension(d, checks)
        info["checks"] = checks
        info["seconds"] = round(time.time() - start, 1)
        done["cases"] += cases
        done["dims"].append(info)
        partial.write_text(json.dumps(done))
        print(f"d={d}: {info} ({time.time() - start:.0f} s)", flush=True)
    meta = {
        "generator": "tests/data/generate_highdim.py",
        "mpmath": mpmath.__version__,
        "backend": mpmath.libmp.BACKEND,
        "date": time.strftime("%Y-%m-%d"),
        "runtime_s_last_session": round(time.time() - start, 1),
        "rules": "window [pi/2 - X, pi/2] mirrored; P x 96 vs P x 192 Gauss-Legendre nodes",
        "per_dim": done["dims"],
    }
    path = here / "spectra_highdim.json"
    path.write_text(json.dumps({"meta": meta, "cases": done["cases"]}, indent=1) + "\n")
    partial.unlink()
    print(f"wrote {path} ({len(done['cases'])} cases, {time.time() - start:.0f} s)")
    return 0


def _all(d, kmax, nodes, kernels):
    """{key: (nngp list, ntk list)} with one pass over the nodes."""
    cd = funk_hecke_constant(d)
    sums = {key: ([mpf(0)] * (kmax + 1), [mpf(0)] * (kmax + 1)) for key in kernels}
    for th, w in nodes:
        t = mpmath.cos(th)
        half = th / 2
        a, b = 2 * mpmath.sin(half) ** 2, 2 * mpmath.cos(half) ** 2  # 1 - t, 1 + t
        wt = w * cd * mpmath.sin(th) ** (d - 2)
        P = [mpf(1), t]
        for k in range(1, kmax):
            P.append(((2 * k + d - 2) * t * P[k] - k * P[k - 1]) / (k + d - 2))
        for key, spec in kernels.items():
            plus = layer_values(*spec, t, a, b)
            minus = layer_values(*spec, -t, b, a)
            for which in (0, 1):
                even = wt * (plus[which] + minus[which])
                odd = wt * (plus[which] - minus[which])
                target = sums[key][which]
                for k in range(0, kmax + 1, 2):
                    target[k] += even * P[k]
                for k in range(1, kmax + 1, 2):
                    target[k] += odd * P[k]
    return sums


def _checks(d, spec, name, vals, kappa_one, log):
    """Closed-form checks: lambda_1 of depth-1 ReLU, and the partial trace below kappa(1)."""
    act, depth, sw, sb, sw0 = spec
    if act == "relu" and depth == 1 and sb == 0:
        want = mpf(1) / d if name == "ntk" else mpf(1) / (2 * d)
        err = abs(vals[1] - want) / want
        if err > mpf("1e-32"):
            raise AssertionError(f"lambda_1 != {want} at d={d}: {err}")
        log.append(
            f"d={d} relu L1 {name}: lambda_1 = 1/{'' if name == 'ntk' else '2'}d "
            f"to {mpmath.nstr(err, 2)}"
        )
    total = mpf(0)
    k = 0
    for k, v in enumerate(vals):
        n = mpmath.binomial(k + d - 3, d - 2) * (2 * k + d - 2) / k if k else mpf(1)
        total += n * v
    if total > kappa_one * (1 + mpf("1e-30")):
        raise AssertionError(f"partial trace exceeds kappa(1) at d={d} {spec} {name}")


if __name__ == "__main__":
    sys.exit(main())
