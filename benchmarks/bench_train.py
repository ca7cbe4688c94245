"""Steps per second of ``ntkspec.train`` against a hand-written optax + ``jax.jit`` loop.

Same model (``mlp(depth, width, centered=True)``, float32), same data (n = 512 points on S^2,
standard-normal targets), same step size, same number of full-batch GD steps on the MSE loss
``(1/2n) Σ r²``:

- ``ntkspec.train(..., record_every=steps)``: one ``lax.scan`` chunk, records at 0 and ``steps``
  (the recording overhead is minimal);
- ``ntkspec.train(..., record_every=10)``: a residual record every 10 steps (the cost of
  recording: one host round trip per chunk, plus per-degree energies of every record);
- baseline: ``optax.sgd(lr)`` and a ``jax.jit``-compiled step called from a Python loop, what a
  user would write by hand;
- a second peer: the same optax step inside one jitted ``lax.scan`` over all steps (what
  ``train`` does internally, without its validation and recording).

Each ``train`` timing is the whole public call (validation, the initial loss, the steps, the
energies on the host); the baseline timing is only its step loop. The final losses of the four
are checked to agree before anything is timed. Every configuration is compiled first; the
variants are then timed round-robin (so that load from other processes on a shared machine hits
them alike) and the median of the repeats is reported, with ratios against the baseline measured
in the same run.

    .venv/bin/python -m benchmarks.bench_train [--quick] [--json FILE] [--steps N] [--repeats R]

Results and their interpretation: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._machine import machine
from ntkspec import mlp, sample_sphere, train

N_POINTS = 512
DIM = 3  # points on S^2
LR = 0.5  # below max_stable_lr for all three configurations (≥ 1.4 for depth 3, measured)
KMAX = 10  # recorded per-degree energies
RECORD_DENSE = 10
# Final losses after the same steps, float32, same math, different op order (scan vs Python
# loop, fusion): observed differences are ~1e-6 relative; 1e-5 leaves a margin.
LOSS_RTOL = 1e-5
CONFIGS = ((1, 8192), (2, 1024), (3, 512))


def problem(depth: int, width: int):
    net = mlp(depth, width, centered=True)
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    X = sample_sphere(kx, N_POINTS, DIM, dtype=jnp.float32)
    y = jax.random.normal(ky, (N_POINTS,), jnp.float32)
    params = net.init(kp, DIM)
    return net, params, X, y


def baseline_runner(net, params, X, y, steps: int):
    """The hand-written loop: optax.sgd + a jitted step, called ``steps`` times from Python."""
    opt = optax.sgd(LR)

    def loss_fn(p):
        r = net.apply(p, X) - y
        return 0.5 * jnp.mean(r * r)

    @jax.jit
    def step(p, state):
        grads = jax.grad(loss_fn)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state

    def run():
        p, state = params, opt.init(params)
        for _ in range(steps):
            p, state = step(p, state)
        return jax.block_until_ready(p)

    @jax.jit
    def scanned(p, state):
        def body(carry, _):
            return step(*carry), None

        return jax.lax.scan(body, (p, state), None, length=steps)[0][0]

    def run_scan():
        return jax.block_until_ready(scanned(params, opt.init(params)))

    return run, run_scan, jax.jit(loss_fn)


def bench_config(depth: int, width: int, steps: int, repeats: int) -> dict:
    net, params, X, y = problem(depth, width)

    def ntk(record_every):
        def run():
            p, rec = train(
                net.apply, params, X, y, lr=LR, steps=steps, record_every=record_every, kmax=KMAX
            )
            jax.block_until_ready(p)
            return rec

        return run

    base, base_scan, loss_fn = baseline_runner(net, params, X, y, steps)
    variants = {
        "train_sparse": ntk(steps),
        "train_dense": ntk(RECORD_DENSE),
        "baseline": base,
        "baseline_scan": base_scan,
    }

    # Warm-up (compile) and correctness: the same final loss from all four.
    t0 = time.perf_counter()
    final = {
        "train_sparse": float(variants["train_sparse"]().loss[-1]),
        "train_dense": float(variants["train_dense"]().loss[-1]),
        "baseline": float(loss_fn(variants["baseline"]())),
        "baseline_scan": float(loss_fn(variants["baseline_scan"]())),
    }
    warm_s = time.perf_counter() - t0
    ref = final["baseline"]
    for name, value in final.items():
        if not np.isfinite(value) or abs(value - ref) > LOSS_RTOL * abs(ref):
            raise RuntimeError(
                f"depth {depth} width {width}: final loss of {name} = {value!r} differs from the "
                f"baseline's {ref!r} by more than {LOSS_RTOL:g} relative"
            )
    initial = float(loss_fn(params))
    if not final["baseline"] < initial:
        raise RuntimeError(f"depth {depth} width {width}: the loss did not decrease")

    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))
    return {
        "depth": depth,
        "width": width,
        "params": n_params,
        "steps": steps,
        "lr": LR,
        "loss_initial": initial,
        "loss_final": final,
        "loss_max_rel_diff": max(abs(v - ref) / abs(ref) for v in final.values()),
        "warmup_s": warm_s,
        "times_s": times,
        "median_s": med,
        "steps_per_s": {name: steps / t for name, t in med.items()},
        "ratio_vs_baseline": {name: med["baseline"] / t for name, t in med.items()},
    }


def report(res) -> str:
    m = res["machine"]
    lines = [
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, Python {m['python']}, jax {m['jax']} "
        f"({m['jax_backend']}), optax {m['optax']}; load average {m['loadavg_start'][0]:.1f} at "
        f"start, {m['loadavg_end'][0]:.1f} at end.",
        "",
        f"Full-batch GD, MSE, n = {N_POINTS} on S^2, lr = {LR}, centered mlp, float32; medians "
        f"of {res['repeats']} round-robin repeats. Ratio = baseline (loop) time / the time of the "
        "column to its left (> 1: faster than the baseline).",
        "",
        "| depth | width | params | steps | baseline (optax + jit loop) | train, record_every = "
        f"steps | ratio | train, record_every = {RECORD_DENSE} | ratio | optax + lax.scan | ratio "
        "| final-loss max rel diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["configs"]:
        sps, rat = r["steps_per_s"], r["ratio_vs_baseline"]
        lines.append(
            f"| {r['depth']} | {r['width']} | {r['params']:,} | {r['steps']} | "
            f"{sps['baseline']:.1f} steps/s | {sps['train_sparse']:.1f} steps/s | "
            f"{rat['train_sparse']:.2f}× | {sps['train_dense']:.1f} steps/s | "
            f"{rat['train_dense']:.2f}× | {sps['baseline_scan']:.1f} steps/s | "
            f"{rat['baseline_scan']:.2f}× | {r['loss_max_rel_diff']:.1e} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 20 steps, 2 repeats")
    ap.add_argument("--json", metavar="FILE", help="also write all numbers as JSON")
    ap.add_argument("--steps", type=int, default=None, help="GD steps per run (default 50)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    args = ap.parse_args(argv)
    steps = args.steps or (20 if args.quick else 50)
    repeats = args.repeats or (2 if args.quick else 5)
    t_start = time.perf_counter()
    res = {
        "machine": machine(optax=optax.__version__),
        "command": " ".join(["python", *sys.argv]),
        "repeats": repeats,
        "configs": [],
    }
    for depth, width in CONFIGS:
        res["configs"].append(bench_config(depth, width, steps, repeats))
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["total_seconds"] = time.perf_counter() - t_start
    print(report(res))
    print(f"\nTotal benchmark time: {res['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
