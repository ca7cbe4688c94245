"""Reference eigenlearning curves in mpmath (writes tests/data/learning_curves_reference.json).

Independent of ntkspec: the eigenvalues are the 32-digit mpmath values of
``spectra_reference.json`` (k = 0..100), the multiplicities are exact integers computed here,
and the equations (docs/theory.md §6.5) are solved at 50 digits:

    Σ_{k<=100} N_k λ_k/(λ_k + κ) + (δ + τ)/κ = n,   τ = κ(1) − Σ_{k<=100} N_k λ_k,
    L_k = λ_k/(λ_k + κ),  E0 = n/(n − Σ N_k L_k²),
    test = E0 (Σ_k (1 − L_k)² v_k² + ε²),  train = (δ/(nκ))² test.

τ (the trace beyond k = 100) enters as a ridge, the first-order treatment of the neglected
modes. κ is bracketed in log κ (κ ∈ [(δ + τ)/n, (κ(1) + δ)/n]) and found by bisection to
1e-45 relative, then polished with mpmath.findroot (its result must agree with the bisection).

Run: ``.venv/bin/python tests/data/generate_learning_curves.py`` (about a minute).
"""

from __future__ import annotations

import json
import math
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import mpmath as mp

HERE = Path(__file__).resolve().parent
DPS = 50
KMAX = 100
CASES = [  # (activation, dim, depth, bias_var)
    ("relu", 3, 1, 0.0),
    ("relu", 3, 3, 0.1),
    ("relu", 2, 2, 0.0),
    ("relu", 10, 2, 0.0),
    ("relu", 50, 4, 0.0),
    ("erf", 3, 1, 0.1),
]
NS = [1, 3, 10, 30, 100, 300, 1000]
SETTINGS = [(0.0, 0.0), (0.1, 0.05)]  # (ridge δ, noise ε²); 0.1 and 0.05 as exact decimals
ENERGIES = ["0.5", "1", "0.5", "0.25", "0.125"]  # v_k² for k = 0..4


def multiplicity(d: int, k: int) -> int:
    if k == 0:
        return 1
    if d == 2:
        return 2
    return (2 * k + d - 2) * math.comb(k + d - 3, d - 2) // k


def solve(lam, N, ridge, n):
    """κ for one n (mpmath)."""

    def g(u):
        kap = mp.exp(u)
        return (
            mp.fsum(Nk * lk / (lk + kap) for Nk, lk in zip(N, lam, strict=True)) + ridge / kap - n
        )

    trace = mp.fsum(Nk * lk for Nk, lk in zip(N, lam, strict=True))
    lo = mp.log(ridge / n) if ridge > 0 else mp.mpf(-2000)
    hi = mp.log((trace + ridge) / n)
    assert g(lo) > 0 and g(hi) <= 0
    for _ in range(400):
        mid = (lo + hi) / 2
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < mp.mpf(10) ** (-45) * max(1, abs(lo)):
            break
    u = mp.findroot(g, (lo + hi) / 2)
    assert abs(u - (lo + hi) / 2) < mp.mpf(10) ** (-40), (u, lo, hi)
    return mp.exp(u)


def curve(lam, N, tau, delta, noise, v2, n):
    kap = solve(lam, N, delta + tau, n)
    L = [lk / (lk + kap) for lk in lam]
    e0 = n / (n - mp.fsum(Nk * Lk**2 for Nk, Lk in zip(N, L, strict=True)))
    bias = mp.fsum((1 - L[k]) ** 2 * v2[k] for k in range(len(v2)))
    test = e0 * (bias + noise)
    train = (delta / (n * kap)) ** 2 * test
    return {"kappa": kap, "overfitting": e0, "test_mse": test, "train_mse": train}


def main() -> None:
    mp.mp.dps = DPS
    start = time.perf_counter()
    ref = json.loads((HERE / "spectra_reference.json").read_text())
    v2 = [mp.mpf(e) for e in ENERGIES]
    out = []
    for act, d, depth, bias in CASES:
        (case,) = [
            c
            for c in ref["cases"]
            if (c["activation"], c["dim"], c["depth"], c["bias_var"], c["kernel"])
            == (act, d, depth, bias, "ntk")
        ]
        lam = [mp.mpf(x) for x in case["eigenvalues"][: KMAX + 1]]
        N = [multiplicity(d, k) for k in range(KMAX + 1)]
        trace = mp.mpf(case["kappa_one"])
        tau = trace - mp.fsum(Nk * lk for Nk, lk in zip(N, lam, strict=True))
        # Rounding of the 32-digit inputs can leave a tiny negative tail for analytic kernels.
        assert tau >= -(mp.mpf(10) ** -28) * trace, tau
        tau = max(tau, mp.mpf(0))
        for delta_s, noise_s in (("0", "0"), ("0.1", "0.05")):
            delta, noise = mp.mpf(delta_s), mp.mpf(noise_s)
            if delta + tau == 0:
                continue
            rows = [curve(lam, N, tau, delta, noise, v2, mp.mpf(n)) for n in NS]
            out.append(
                {
                    "activation": act,
                    "dim": d,
                    "depth": depth,
                    "bias_var": bias,
                    "kernel": "ntk",
                    "kmax": KMAX,
                    "tail": mp.nstr(tau, 30),
                    "ridge": float(delta_s),
                    "noise": float(noise_s),
                    "energies": [float(e) for e in ENERGIES],
                    "n": NS,
                    **{
                        key: [mp.nstr(r[key], 30) for r in rows]
                        for key in ("kappa", "overfitting", "test_mse", "train_mse")
                    },
                }
            )
    meta = {
        "generator": "tests/data/generate_learning_curves.py",
        "source_of_eigenvalues": "tests/data/spectra_reference.json (32 digits, k <= 100)",
        "mpmath_version": mp.__version__,
        "python_version": platform.python_version(),
        "dps": DPS,
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "runtime_seconds": round(time.perf_counter() - start, 1),
        "model": "modes k <= kmax exact; tail tau = kappa(1) - sum_k N_k lambda_k as a ridge",
    }
    path = HERE / "learning_curves_reference.json"
    path.write_text(json.dumps({"meta": meta, "cases": out}, indent=1) + "\n")
    print(f"wrote {path} ({len(out)} cases, {meta['runtime_seconds']} s)")


if __name__ == "__main__":
    main()
