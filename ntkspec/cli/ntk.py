"""``ntkspec ntk``: the empirical NTK Gram of an MLP at initialization and its per-degree
spectrum next to the infinite-width one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from ntkspec._io import atomic_write_json
from ntkspec.cli.common import (
    add_kernel_arguments,
    duration,
    flops,
    kernel_config,
    kernel_from_args,
)
from ntkspec.limits import MAX_NTK_DEGREE, MAX_POINTS, MAX_SEED, MAX_WIDTH

__all__ = ["add", "run"]


def add(subparsers) -> None:
    """The ``ntk`` subcommand and its flags on ``subparsers``."""
    p = subparsers.add_parser(
        "ntk",
        help="empirical NTK Gram of an MLP at init and its per-degree spectrum",
        description=(
            "Initialize an MLP (NTK parametrization), compute its empirical NTK Gram on n uniform "
            "points of S^(d-1), and compare its per-degree spectrum (zonal projection) with the "
            "infinite-width Funk-Hecke eigenvalues. Writes DIR/gram.npz (K, X) and "
            "DIR/gram_spectrum.json."
        ),
    )
    add_kernel_arguments(p)
    p.add_argument("--width", type=int, default=1024, help="hidden width (default: 1024)")
    p.add_argument("--n", type=int, default=512, help="number of points (default: 512)")
    p.add_argument("--kmax", type=int, default=8, metavar="K", help="highest degree (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--method",
        default="auto",
        choices=("auto", "structured", "jacobian", "ntk_vp"),
        help="empirical NTK method (default: auto)",
    )
    p.add_argument("--out", metavar="DIR", default="ntkspec-ntk", help="output directory")
    p.add_argument(
        "--force", action="store_true", help="overwrite an output directory holding another run"
    )
    p.add_argument("--quiet", action="store_true", help="no cost estimate and no stage lines")
    p.set_defaults(run=run)


def _ntk_flops(n: int, d: int, depth: int, width: int, n_params: int, method: str) -> dict:
    """FLOPs of `ntkspec ntk` by stage (2 flops per multiply-add).

    Structured (auto): per-layer features, forward + backward ≈ 3 forwards
    ``3 · 2n (d·m + (L−1)·m² + m)``, then the per-layer Gram products ``2n² (d + 2Lm + 1)``.
    jacobian / ntk_vp: per-example gradients ``3 · 2n · P`` and their contraction ``2n² P``
    (P parameters). The infinite-width Gram costs ~20 flops per entry and layer, the
    per-degree spectrum ``2n²`` per degree (plus the Gegenbauer recursion).
    """
    forward = 2.0 * n * (d * width + (depth - 1) * width**2 + width)
    if method in ("auto", "structured"):
        emp = 3 * forward + 2.0 * n * n * (d + 2 * depth * width + 1)
    else:
        emp = 3 * 2.0 * n * n_params + 2.0 * n * n * n_params
    return {"empirical NTK": emp, "infinite-width Gram": 20.0 * depth * n * n}


def _matmul_rate() -> float:
    """FLOP/s of a compiled 256 x 256 float32 matrix product on the default device."""
    import time

    import jax
    import jax.numpy as jnp

    a = jnp.ones((256, 256), dtype=jnp.float32)
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    t0 = time.perf_counter()
    for _ in range(5):
        jax.block_until_ready(f(a))
    return 5 * 2 * 256**3 / max(time.perf_counter() - t0, 1e-9)


class _Stages:
    """Stage lines on stderr: ``ntk [i/N] what ...`` then ``done in T`` (nothing if quiet)."""

    def __init__(self, names: Sequence[str], quiet: bool):
        self.names, self.quiet, self.i = list(names), quiet, 0

    def __enter__(self):
        import time

        self.i += 1
        self.t0 = time.perf_counter()
        if not self.quiet:
            name = self.names[self.i - 1]
            print(f"ntk [{self.i}/{len(self.names)}] {name} ...", file=sys.stderr, flush=True)
        return self

    def __exit__(self, *exc):
        import time

        if not self.quiet and exc[0] is None:
            took = duration(time.perf_counter() - self.t0)
            print(f"ntk [{self.i}/{len(self.names)}] done in {took}", file=sys.stderr, flush=True)
        return False


def _noise(emp) -> np.ndarray:
    """Degrees whose empirical estimate is sampling noise: negative, or within 2 stderr of 0."""
    return emp.noise(2.0) | (emp.eigenvalues < 0)


def _print_table(emp, inf) -> None:
    """Per-degree table: empirical estimate +/- its Monte-Carlo stderr, infinite-width λ_k."""
    noise, zero = _noise(emp), inf.zero_within_error()
    print(f"{'k':>4} {'empirical':>14} {'+/- stderr':>10} {'infinite width':>16}")
    for k in range(len(emp.degrees)):
        value = f"{'noise':>14}" if noise[k] else f"{emp.eigenvalues[k]:>14.6e}"
        flag = " *" if zero[k] else ""
        print(f"{k:>4} {value} {emp.stderr[k]:>10.2e} {inf.eigenvalues[k]:>16.6e}{flag}")
    if noise.any():
        print(
            "# noise: the estimate is negative or within 2 standard errors of 0 (Monte-Carlo "
            "error over the points), so it cannot be told from zero; the values are in "
            "gram_spectrum.json"
        )
    if zero.any():
        print("# * |lambda_k| <= its certified error bound: zero to working accuracy")


def run(args: argparse.Namespace) -> int:
    """Run ``ntkspec ntk`` for the parsed ``args``; the exit status."""
    import jax

    from ntkspec import _compat
    from ntkspec._io import atomic_savez
    from ntkspec._validate import check_int
    from ntkspec.experiments.width import mlp_for, ntk_sample, sample_points
    from ntkspec.rundir import check_output_dir, run_info, running

    if args.kernel != "ntk":
        raise ValueError("Expected --kernel ntk: `ntkspec ntk` computes the empirical NTK.")
    kernel = kernel_from_args(args)
    n = check_int("n", args.n, minimum=2, maximum=MAX_POINTS)
    kmax = check_int("kmax", args.kmax, minimum=0, maximum=MAX_NTK_DEGREE)
    seed = check_int("seed", args.seed, minimum=0, maximum=MAX_SEED)
    width = check_int("width", args.width, minimum=1, maximum=MAX_WIDTH)
    config = {
        **kernel_config(kernel),
        "dim": args.dim,
        "width": width,
        "n": n,
        "seed": seed,
        "method": args.method,
    }
    out = check_output_dir(args.out, config, force=args.force)
    stage = _Stages(["empirical NTK", "infinite-width Gram", "spectra"], args.quiet)
    with running(out, config):
        with _compat.random_streams():
            k_points, k_init = jax.random.split(jax.random.key(seed))
        X = sample_points(k_points, n, args.dim)
        if not args.quiet:
            model = mlp_for(kernel, width)
            n_params = sum(int(np.size(v)) for v in jax.tree.leaves(model.init(k_init, args.dim)))
            parts = _ntk_flops(n, args.dim, kernel.depth, width, n_params, args.method)
            parts["spectra"] = 2.0 * n * n * (kmax + 2)
            total = sum(parts.values())
            detail = ", ".join(f"{k} {flops(v)}" for k, v in parts.items())
            print(
                f"cost: ~{flops(total)} FLOP ({detail}); arithmetic ~"
                f"{duration(total / _matmul_rate())} at this machine's matmul rate, plus "
                "compilation (a few seconds)",
                file=sys.stderr,
                flush=True,
            )
        sample = ntk_sample(kernel, width, X, k_init, kmax, method=args.method,
                            stage=lambda: stage)  # fmt: skip
        K, emp, inf, error = sample.K, sample.empirical, sample.infinite, sample.relative_error
        atomic_savez(out / "gram.npz", K=K, X=X)
        payload = {
            "config": config,
            "degrees": [int(k) for k in emp.degrees],
            "empirical": [float(x) for x in emp.eigenvalues],
            "stderr": [float(x) for x in emp.stderr],
            "noise": [bool(x) for x in _noise(emp)],
            "infinite_width": [float(x) for x in inf.eigenvalues],
            "relative_error": error,
        }
        atomic_write_json(out / "gram_spectrum.json", payload)
    atomic_write_json(out / "run.json", run_info(config, "done"))
    print(
        f"# empirical NTK of a depth-{kernel.depth} width-{args.width} {kernel.activation} MLP "
        f"on {n} points of S^{args.dim - 1}; ||K - K_inf||/||K_inf|| = {error:.4g}"
    )
    _print_table(emp, inf)
    print(f"saved: {out / 'gram.npz'}, {out / 'gram_spectrum.json'}")
    return 0
