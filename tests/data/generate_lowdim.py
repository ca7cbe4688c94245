#!/usr/bin/env python
"""Low-dimensional, high-degree mpmath reference for Funk-Hecke eigenvalues of ReLU MLP kernels.

Writes ``spectra_lowdim.json`` next to itself.  Like ``generate_spectra.py`` and
``generate_highdim.py`` it imports nothing from ``ntkspec``.  It covers what those two do not:
d = 2, 3, 5, 9 with degrees up to k = 1000 (a sample of degrees is stored), where lambda_k of a
ReLU kernel is ~k^{-d} (NTK) or ~k^{-d-2} (NNGP) times lambda_0, so that a quadrature cancels
up to ~k^{(d+4)/2} ~ 1e20 of its terms.

Method.  lambda_k = c_d int_0^pi kappa(cos th) P_k(cos th) sin^{d-2}(th) dth (conventions:
tests/data/README.md, docs/theory.md §1-2), taken over [0, pi/2] and mirrored exactly
(t -> -t, P_k(-t) = (-1)^k P_k(t)).  [0, pi/2] is split into PANELS equal panels of mpmath's
Gauss-Legendre nodes (96 per panel for the coarse rule, 192 for the fine one).  The kernel is
evaluated at every node in mpmath (dps = DPS) straight from arccos and sqrt of rho (no 1 -/+ t
tricks: at this precision there is nothing to lose).  P_0..P_1000 come from the standard
three-term recurrence (k+d-2) P_{k+1} = (2k+d-2) t P_k - k P_{k-1} in exact Python integer
fixed-point arithmetic (resolution 2^-FRAC, truncation ~1 unit per step), and the weighted sums
are exact integer dot products.  The coarse and fine rules must agree to 1e-20 relative for every
stored value that is nonzero in theory (the quadrature cancels at most ~1e20, and both rules are
converged far beyond that: the rule error for k = 1000 on a panel of width pi/128 with 96 nodes is
below 1e-40 of the integrand's scale); the fine rule's values are stored with 25 digits.
Exact zeros (bias-free depth-1 ReLU, odd k >= 3) must come out below 1e-40 * lambda_0 in both
rules and are stored as "0".  Checks: lambda_1 = 1/d (NTK) and 1/(2d) (NNGP) for bias-free
depth-1 ReLU, lambda_2 = 5/64 for that NTK at d = 3, positivity, and the partial trace
sum_{k<=1000} N(d,k) lambda_k <= kappa(1) (on the fine rule, all degrees).

Run:  nohup .venv/bin/python tests/data/generate_lowdim.py &     (single process, ~10-20 min)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import mpmath
from mpmath import mp, mpf

DIMS = (2, 3, 5, 9)
KMAX = 1000
PANELS = 64  # on [0, pi/2]
DPS = 60
FRAC = 240  # fixed-point fraction bits of P_k and of the weighted kernel values
STORED = sorted(
    set(range(0, 21))
    | {49, 50, 51, 99, 100, 101, 199, 200, 201, 249, 250, 251, 399, 400, 401}
    | {499, 500, 501, 749, 750, 751, 997, 998, 999, 1000}
)
# (activation, depth, weight_var, bias_var (exact decimal), first_layer_var)
KERNELS = (
    ("relu", 1, "2", "0", "1"),
    ("relu", 3, "2", "0", "1"),
    ("relu", 2, "2", "0.1", "1"),
)


def layer_values(depth, sw, sb, sw0, t):
    """(NNGP, NTK) of a ReLU MLP at t (mpmath, current precision)."""
    q = sw0 + sb
    sigma = sw0 * t + sb
    theta = sigma
    for _ in range(depth):
        rho = min(max(sigma / q, mpf(-1)), mpf(1))
        ac = mpmath.acos(rho)
        k0 = (mp.pi - ac) / mp.pi
        k1 = (mpmath.sqrt(max(1 - rho * rho, mpf(0))) + rho * (mp.pi - ac)) / mp.pi
        sigma, sigma_dot, q = sw * q / 2 * k1 + sb, sw / 2 * k0, sw * q / 2 + sb
        theta = theta * sigma_dot + sigma
    return sigma, theta


def exact_zero(depth, sb, k) -> bool:
    return sb == 0 and depth == 1 and k % 2 == 1 and k >= 3


def funk_hecke_constant(d):
    return mpmath.gamma(mpf(d) / 2) / (mpmath.sqrt(mp.pi) * mpmath.gamma(mpf(d - 1) / 2))


def rule(panels, degree):
    """Nodes th in [0, pi/2] and weights (Gauss-Legendre panels, mpmath's nodes)."""
    gl = mpmath.calculus.quadrature.GaussLegendre(mp)
    base = gl.calc_nodes(degree, mp.prec)  # on [-1, 1]
    h = mp.pi / 2 / panels
    return [(j * h + (x + 1) * h / 2, w * h / 2) for j in range(panels) for x, w in base]


def sums(d, nodes, kernels):
    """{key: [nngp sums, ntk sums]} over all degrees 0..KMAX (exact integers, scale 2^(2 FRAC))."""
    one = 1 << FRAC
    scale = mpf(2) ** FRAC
    cd = funk_hecke_constant(d)
    out = {key: [[0] * (KMAX + 1), [0] * (KMAX + 1)] for key in kernels}
    for th, w in nodes:
        t = mpmath.cos(th)
        wt = w * cd * mpmath.sin(th) ** (d - 2)
        ti = int(mpmath.nint(t * scale))
        P = [one, ti]
        for k in range(1, KMAX):
            P.append(((((2 * k + d - 2) * ti * P[k]) >> FRAC) - k * P[k - 1]) // (k + d - 2))
        for key, spec in kernels.items():
            plus, minus = layer_values(*spec, t), layer_values(*spec, -t)
            for which in (0, 1):
                even = int(mpmath.nint(wt * (plus[which] + minus[which]) * scale))
                odd = int(mpmath.nint(wt * (plus[which] - minus[which]) * scale))
                acc = out[key][which]
                for k in range(0, KMAX + 1, 2):
                    acc[k] += even * P[k]
                for k in range(1, KMAX + 1, 2):
                    acc[k] += odd * P[k]
    return out


def to_mpf(values):
    return [mpf(v) / mpf(2) ** (2 * FRAC) for v in values]


def multiplicity(d, k):
    if k == 0:
        return mpf(1)
    return mpmath.binomial(k + d - 3, d - 2) * (2 * k + d - 2) / k


def one_dimension(d, log):
    kernels = {
        (depth, sb): (depth, mpf(sw), mpf(sb), mpf(sw0)) for _, depth, sw, sb, sw0 in KERNELS
    }
    coarse = sums(d, rule(PANELS, 6), kernels)
    fine = sums(d, rule(PANELS, 7), kernels)
    cases = []
    worst = mpf(0)
    for (depth, sb_key), spec in kernels.items():
        depth, sw, sb, sw0 = spec
        for which, name in ((0, "nngp"), (1, "ntk")):
            f, c = to_mpf(fine[(depth, sb_key)][which]), to_mpf(coarse[(depth, sb_key)][which])
            scale = abs(f[0])
            for k in range(KMAX + 1):
                if exact_zero(depth, sb, k):
                    assert abs(f[k]) < mpf("1e-40") * scale and abs(c[k]) < mpf("1e-40") * scale
                    continue
                assert f[k] > 0, (d, spec, name, k)
                rel = abs(f[k] - c[k]) / f[k]
                worst = max(worst, rel)
                assert rel < mpf("1e-20"), (d, spec, name, k, rel)
            kappa_one = layer_values(*spec, mpf(1))[which]
            partial = sum(multiplicity(d, k) * f[k] for k in range(KMAX + 1))
            assert partial <= kappa_one * (1 + mpf("1e-25")), (d, spec, name)
            if depth == 1 and sb == 0:
                want = mpf(1) / d if name == "ntk" else mpf(1) / (2 * d)
                assert abs(f[1] - want) < mpf("1e-30") * want
                log.append(f"d={d} relu L1 {name}: lambda_1 = {mpmath.nstr(want, 6)} ok")
                if d == 3 and name == "ntk":
                    assert abs(f[2] - mpf(5) / 64) < mpf("1e-30")
            cases.append(
                {
                    "activation": "relu",
                    "kernel": name,
                    "dim": d,
                    "depth": depth,
                    "weight_var": float(sw),
                    "bias_var": float(sb),
                    "first_layer_var": float(sw0),
                    "kappa_one": mpmath.nstr(kappa_one, 25),
                    "degrees": STORED,
                    "eigenvalues": [
                        "0" if exact_zero(depth, sb, k) else mpmath.nstr(f[k], 25) for k in STORED
                    ],
                }
            )
    return cases, worst


def main() -> int:
    start = time.time()
    mp.dps = DPS
    here = Path(__file__).parent
    partial = here / "spectra_lowdim.partial.json"  # per-d checkpoint, removed at the end
    done = json.loads(partial.read_text()) if partial.exists() else {"cases": [], "dims": []}
    for d in DIMS:
        if any(info["dim"] == d for info in done["dims"]):
            continue
        log = []
        cases, worst = one_dimension(d, log)
        info = {"dim": d, "worst_rule_difference": mpmath.nstr(worst, 3), "checks": log}
        info["seconds"] = round(time.time() - start, 1)
        done["cases"] += cases
        done["dims"].append(info)
        partial.write_text(json.dumps(done))
        print(f"d={d}: {info}", flush=True)
    meta = {
        "generator": "tests/data/generate_lowdim.py",
        "mpmath": mpmath.__version__,
        "backend": mpmath.libmp.BACKEND,
        "date": time.strftime("%Y-%m-%d"),
        "dps": DPS,
        "fixed_point_bits": FRAC,
        "rules": f"[0, pi/2] mirrored; {PANELS} panels x 96 vs x 192 Gauss-Legendre nodes",
        "per_dim": done["dims"],
    }
    path = here / "spectra_lowdim.json"
    path.write_text(json.dumps({"meta": meta, "cases": done["cases"]}, indent=1) + "\n")
    partial.unlink()
    print(f"wrote {path} ({len(done['cases'])} cases, {time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
