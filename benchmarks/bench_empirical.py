"""Empirical NTK Gram of a 3-hidden-layer ReLU MLP: every ``empirical_ntk`` method against a
plain ``jax.jacrev``-and-contract baseline, the FLOP floor of the structured path, peak memory.

Model ``mlp(3, width)`` (float32, σ_w² = 2, no bias), inputs ``n`` points on S^2, Gram
``Θ(X, X)``. Measured in one run:

1. Correctness: on the small case of each width, ``structured``, ``jacobian``, ``ntk_vp`` and the
   baseline agree to ≤ 1e-5 relative (max |ΔΘ| / max |Θ|) before anything is timed.
2. The baseline, written here: ``jax.jacrev(apply)(params, X)`` (the Jacobian of the whole
   parameter pytree for the whole batch, one reverse pass per output row), each leaf reshaped
   to ``(n, leaf size)`` and contracted ``Σ_leaves J Jᵀ``, all in one ``jax.jit``.
3. Timings (median of ≥ 5 calls after a compile call, ``block_until_ready``): ``structured`` on
   the whole grid width ∈ {512, 1024, 2048} × n ∈ {512, 1024, 4096}; ``jacobian``, ``ntk_vp`` and
   the baseline only on one small n per width (they cost O(n²·width²) and would take minutes to
   hours on the grid), extrapolated ∝ n² to the grid and marked as estimates.
4. The FLOP floor of the structured path per case: forward Σ_l 2·n·fan_in·fan_out, backward the
   same, Grams Σ_l 2·n²·(fan_in + fan_out) (A Aᵀ and G Gᵀ, full n × n products), Hadamard
   products and the sum n² per layer; divided by this machine's float32 GEMM rate it gives the
   floor time; the table reports structured time / floor time. The GEMM rate is measured per
   case, a 2048³ matmul timed round-robin with the structured calls (the machine is shared:
   both then see the same load), median against median.
5. Peak memory: each case runs in a fresh subprocess, which reports its peak resident set
   (``VmHWM`` of /proc/self/status: the whole process, Python, JAX, XLA compilation and the
   result) before and after the call, next to a subprocess doing the same for n = 8 (the fixed
   cost of importing and compiling). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries it
   across ``execve`` from the forked parent, so a child started by a big parent reports the
   parent's size.

    .venv/bin/python -m benchmarks.bench_empirical [--quick] [--json FILE] [--repeats R]

Results and their interpretation: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._machine import machine
from ntkspec import empirical_ntk, mlp, sample_sphere

REPO = Path(__file__).resolve().parents[1]
DEPTH = 3
DIM = 3  # points on S^2
WIDTHS = (512, 1024, 2048)
NS = (512, 1024, 4096)
# Small n per width for the O(n²·width²) methods: about a second per call on 2 cores.
SMALL_N = {512: 64, 1024: 32, 2048: 8}
SLOW_METHODS = ("jacobian", "ntk_vp", "baseline")
RTOL = 1e-5  # agreement of the methods in float32 (empirical_ntk's documented tolerance)
GEMM_SIZE = 2048
MEMORY_CASES = ((1024, 4096), (2048, 4096))


def bench(fn, repeats: int):
    """Compile/warm-up call, then ``repeats`` timed calls; (median, times, warm-up output)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), {"first_call_s": first, "times_s": times}, out


def problem(width: int, n: int):
    net = mlp(DEPTH, width)
    params = net.init(jax.random.key(1), DIM)
    X = sample_sphere(jax.random.key(0), n, DIM, dtype=jnp.float32)
    return net, params, X


def make_baseline(apply):
    """Plain jacrev of the whole pytree on the batch, contracted leaf by leaf."""

    @jax.jit
    def gram(params, X):
        J = jax.jacrev(apply)(params, X)
        rows = [leaf.reshape(X.shape[0], -1) for leaf in jax.tree.leaves(J)]
        return sum(jnp.matmul(a, a.T, precision="highest") for a in rows)

    return gram


def runner(method: str, net, params, X):
    if method == "baseline":
        gram = make_baseline(net.apply)
        return lambda: gram(params, X)
    return lambda: empirical_ntk(net.apply, params, X, method=method)


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def gemm_runner(size: int):
    """A jitted float32 ``size``³ matmul (compiled here) and its FLOP count."""
    a = jax.random.normal(jax.random.key(2), (size, size), jnp.float32)
    mm = jax.jit(lambda x: jnp.matmul(x, x.T, precision="highest"))
    jax.block_until_ready(mm(a))
    return (lambda: mm(a)), 2.0 * size**3


def floor_flops(width: int, n: int) -> dict:
    fans = (DIM,) + (width,) * DEPTH + (1,)
    layers = list(zip(fans[:-1], fans[1:], strict=True))
    forward = sum(2 * n * fi * fo for fi, fo in layers)
    gram = sum(2 * n * n * (fi + fo) for fi, fo in layers)
    hadamard = n * n * len(layers)
    return {
        "forward": forward,
        "backward": forward,
        "gram": gram,
        "hadamard": hadamard,
        "total": 2 * forward + gram + hadamard,
    }


def small_cases(repeats: int, widths) -> list[dict]:
    """Every method on the small n of each width: correctness first, then timings."""
    rows = []
    for width in widths:
        n0 = SMALL_N[width]
        net, params, X = problem(width, n0)
        row = {"width": width, "n": n0, "median_s": {}, "timing": {}, "rel_diff": {}}
        outs = {}
        for method in ("structured", *SLOW_METHODS):
            med, info, out = bench(runner(method, net, params, X), repeats)
            row["median_s"][method], row["timing"][method] = med, info
            outs[method] = out
            # Correctness of the warm-up output (checked before its timings are used).
            if method != "structured":
                err = rel_diff(out, outs["structured"])
                row["rel_diff"][method] = err
                if not err <= RTOL:
                    raise RuntimeError(
                        f"width {width} n {n0}: {method} differs from structured by {err:.2e} "
                        f"relative (> {RTOL:g})"
                    )
        rows.append(row)
        print(f"  small case width {width} n {n0}: {row['median_s']}", flush=True)
    return rows


def structured_grid(repeats: int, widths, ns) -> list[dict]:
    gemm, gemm_flops = gemm_runner(GEMM_SIZE)
    rows = []
    for width in widths:
        for n in ns:
            net, params, X = problem(width, n)
            fn = runner("structured", net, params, X)
            t0 = time.perf_counter()
            K = np.asarray(jax.block_until_ready(fn()))
            first = time.perf_counter() - t0
            if not (np.isfinite(K).all() and np.array_equal(K, K.T) and (np.diag(K) > 0).all()):
                raise RuntimeError(f"width {width} n {n}: structured Gram not finite/symmetric")
            times, gemm_times = [], []
            for _ in range(repeats):  # round-robin with the GEMM: same load on both
                t0 = time.perf_counter()
                jax.block_until_ready(fn())
                times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                jax.block_until_ready(gemm())
                gemm_times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            rate = gemm_flops / float(np.median(gemm_times))
            fl = floor_flops(width, n)
            floor_s = fl["total"] / rate
            rows.append(
                {
                    "width": width,
                    "n": n,
                    "median_s": med,
                    "first_call_s": first,
                    "times_s": times,
                    "gemm_size": GEMM_SIZE,
                    "gemm_times_s": gemm_times,
                    "gemm_flops_per_s": rate,
                    "floor_flops": fl,
                    "floor_s": floor_s,
                    "time_over_floor": med / floor_s,
                    "achieved_flops_per_s": fl["total"] / med,
                }
            )
            print(f"  structured width {width} n {n}: {med:.4g} s", flush=True)
    return rows


_CHILD = """
import json, sys, time
import jax, jax.numpy as jnp
from ntkspec import empirical_ntk, mlp, sample_sphere
def hwm():
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM:"))
width, n = int(sys.argv[1]), int(sys.argv[2])
net = mlp({depth}, width)
params = net.init(jax.random.key(1), {dim})
X = jax.block_until_ready(sample_sphere(jax.random.key(0), n, {dim}, dtype=jnp.float32))
before = hwm()
t0 = time.perf_counter()
K = jax.block_until_ready(empirical_ntk(net.apply, params, X, method="structured"))
t1 = time.perf_counter()
print(json.dumps({{"first_call_s": t1 - t0, "shape": list(K.shape),
    "peak_before_call_bytes": before, "peak_bytes": hwm()}}))
"""


def peak_memory(cases) -> list[dict]:
    code = _CHILD.format(depth=DEPTH, dim=DIM)
    rows = []
    for width, n in ((cases[0][0], 8), *cases):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(width), str(n)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"width": width, "n": n, **r})
        print(f"  memory width {width} n {n}: {r['peak_bytes'] / 2**30:.2f} GiB", flush=True)
    return rows


def extrapolate(small: list[dict], width: int, n: int, method: str) -> float:
    row = next(r for r in small if r["width"] == width)
    return row["median_s"][method] * (n / row["n"]) ** 2


def fmt_t(s: float) -> str:
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    if s < 1000:
        return f"{s:.3g} s"
    return f"{s / 3600:.2g} h" if s >= 3600 else f"{s / 60:.2g} min"


def report(res) -> str:
    m = res["machine"]
    lines = [
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, Python {m['python']}, jax {m['jax']} "
        f"({m['jax_backend']}); load average {m['loadavg_start'][0]:.1f} at start, "
        f"{m['loadavg_end'][0]:.1f} at end.",
        "",
        f"Model `mlp({DEPTH}, width)` (ReLU, float32), Gram Θ(X, X) of n points on S^2; medians of "
        f"{res['repeats']} calls after a compile call.",
        "",
        "### Correctness and measured times on one small n per width "
        f"(all methods agree ≤ {RTOL:g})",
        "",
        "| width | n | structured | jacobian | ntk_vp | baseline (jacrev + contract) "
        "| max rel diff vs structured |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["small"]:
        t = r["median_s"]
        lines.append(
            f"| {r['width']} | {r['n']} | {fmt_t(t['structured'])} | {fmt_t(t['jacobian'])} | "
            f"{fmt_t(t['ntk_vp'])} | {fmt_t(t['baseline'])} | "
            f"{max(r['rel_diff'].values()):.1e} |"
        )
    lines += [
        "",
        "### Structured path on the grid, FLOP floor, and the other methods (estimated)",
        "",
        "`~` = not run: the small-n time above × (n / n_small)², a rough estimate; "
        f"floor = FLOPs / float32 GEMM rate ({GEMM_SIZE}³ matmul timed round-robin with the "
        "structured calls of that row).",
        "",
        "| width | n | structured (measured) | FLOPs | GEMM rate | floor | structured / floor "
        "| jacobian | ntk_vp | baseline | baseline / structured |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["grid"]:
        w, n = r["width"], r["n"]
        est = {mt: extrapolate(res["small"], w, n, mt) for mt in SLOW_METHODS}
        lines.append(
            f"| {w} | {n} | {fmt_t(r['median_s'])} | {r['floor_flops']['total']:.2e} | "
            f"{r['gemm_flops_per_s'] / 1e9:.0f} GFLOP/s | {fmt_t(r['floor_s'])} | "
            f"{r['time_over_floor']:.2f} | ~{fmt_t(est['jacobian'])} | "
            f"~{fmt_t(est['ntk_vp'])} | ~{fmt_t(est['baseline'])} | "
            f"~{est['baseline'] / r['median_s']:.3g}× |"
        )
    if res.get("memory"):
        lines += [
            "",
            "### Peak memory (`structured`, fresh subprocess each, whole-process peak RSS)",
            "",
            "| width | n | peak RSS before the call (imports, params, X) | peak RSS after "
            "| first call (compile included) |",
            "|---|---|---|---|---|",
        ]
        for r in res["memory"]:
            lines.append(
                f"| {r['width']} | {r['n']} | {r['peak_before_call_bytes'] / 2**30:.2f} GiB | "
                f"{r['peak_bytes'] / 2**30:.2f} GiB | {fmt_t(r['first_call_s'])} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: width 512, n 512, 2 repeats")
    ap.add_argument("--json", metavar="FILE", help="also write all numbers as JSON")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    widths = WIDTHS[:1] if args.quick else WIDTHS
    ns = NS[:1] if args.quick else NS
    t_start = time.perf_counter()
    res = {"machine": machine(), "command": " ".join(["python", *sys.argv]), "repeats": repeats}
    print("Small cases (correctness, all methods)", flush=True)
    res["small"] = small_cases(repeats, widths)
    print("Structured grid", flush=True)
    res["grid"] = structured_grid(repeats, widths, ns)
    print("Peak memory", flush=True)
    res["memory"] = peak_memory(((512, 512),) if args.quick else MEMORY_CASES)
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["total_seconds"] = time.perf_counter() - t_start
    print()
    print(report(res))
    print(f"\nTotal benchmark time: {res['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
