"""Speed of ``learning_curve`` (eigenlearning) for 50 sample sizes, given the spectrum.

Target (issue 15): 50 values of n in <= 0.1 s. For each kernel the spectrum is computed once
(not timed), then ``learning_curve(s, energies, n)`` with 50 log-spaced n in [1, 1e5] is timed
(median of repeats after a warm-up). The peer, timed in the same run, is the textbook route:
one ``scipy.optimize.brentq`` per n on the same per-degree equation. Before timing, the two
must agree on κ to 1e-10 relative.

    .venv/bin/python -m benchmarks.bench_generalization [--quick] [--json FILE]

Results: BENCHMARKS.md, "Learning curves".
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import scipy
from scipy.optimize import brentq

from benchmarks._machine import machine
from ntkspec import mlp_kernel, spectrum
from ntkspec.generalization import learning_curve, truncate

NS = np.geomspace(1, 1e5, 50)
ENERGIES = [0.0, 1.0, 0.5, 0.0, 0.25]
CASES = [  # (label, kernel, dim, kmax of the spectrum, tail_tol)
    ("ReLU NTK L=1, S^2, tol 1e-2", mlp_kernel(1), 3, 2000, 1e-2),
    ("ReLU NTK L=1, S^2, tol 1e-3", mlp_kernel(1), 3, 6000, 1e-3),
    ("ReLU NTK L=4 bias 0.1, S^7", mlp_kernel(4, bias_var=0.1), 8, 400, 1e-2),
    ("ReLU NTK L=2, d=50, tol 0.1", mlp_kernel(2), 50, 60, 0.1),
]


def median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def brentq_kappas(s, K) -> np.ndarray:
    """κ per n by brentq over the degrees 0..K (the tail as a ridge, as learning_curve)."""
    t = truncate(s, kmax=K)
    lam, w, ridge = t.eigenvalues, t.weights, t.tail

    def kappa(n):
        f = lambda k: np.sum(w / (lam + k)) + ridge / k - n  # noqa: E731
        return brentq(f, ridge / n, (w.sum() + ridge) / n, rtol=1e-14, xtol=1e-300)

    return np.array([kappa(n) for n in NS])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--json", help="write every number to this file")
    args = p.parse_args()
    repeats = 5 if args.quick else 21
    rows = []
    print(f"{'case':34s} {'K':>5s} {'learning_curve':>15s} {'brentq/n':>10s} {'ratio':>6s}")
    for label, kernel, dim, kmax, tol in CASES:
        s = spectrum(kernel, dim, kmax)
        ours = learning_curve(s, ENERGIES, NS, tail_tol=tol)
        K = ours.truncation.kmax
        ref = brentq_kappas(s, K)
        err = float(np.max(np.abs(ours.kappa - ref) / ref))
        if err > 1e-10:
            raise SystemExit(f"{label}: κ differs from brentq by {err:.2e} (> 1e-10)")
        t_ours, _ = median_time(
            lambda s=s, tol=tol: learning_curve(s, ENERGIES, NS, tail_tol=tol), repeats
        )
        t_ref, _ = median_time(lambda s=s, K=K: brentq_kappas(s, K), max(3, repeats // 4))
        rows.append(
            {
                "case": label,
                "K": K,
                "seconds": t_ours,
                "brentq_seconds": t_ref,
                "kappa_rel_err": err,
            }
        )
        ms, ms_ref = t_ours * 1e3, t_ref * 1e3
        print(f"{label:34s} {K:5d} {ms:12.2f} ms {ms_ref:7.1f} ms {t_ref / t_ours:6.1f}")
    worst = max(r["seconds"] for r in rows)
    print(f"slowest: {worst * 1e3:.1f} ms for 50 values of n (target <= 100 ms)")
    if args.json:
        info = machine(numpy=np.__version__, scipy=scipy.__version__)
        with open(args.json, "w") as f:
            json.dump({"machine": info, "n": NS.tolist(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
