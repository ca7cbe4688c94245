"""ntkspec side by side with neural-tangents (NT), both measured in one process and one run.

Runs only in the NT reference environment (``.venv-nt``: jax 0.4.38, neural-tangents 0.6.5),
started by ``make bench``. Every comparison checks first that both libraries compute the same
thing, compiles both (compile time is excluded from the medians and recorded separately), then
times their calls **round-robin** (one call of each per round), so load from other processes on
a shared machine hits both alike. Reported: medians, and the ratio ntkspec time / NT time of
medians taken in the same run (< 1: ntkspec is faster; "speed-up" is its inverse).

Sections (``--only`` picks some):

``gram``
  Infinite-width NTK Gram Θ(X, X) at n = 4096 uniform points on S^2, in float32 (what both give
  by default: x64 off) and in float64 (x64 scoped to the calls, fewer repeats), for a bias-free
  ReLU MLP (σ_w² = 2) and a residual ReLU MLP (α = 1/√L), each with L = 1 and 4 hidden layers /
  blocks. ntkspec: ``kernel.gram(X)`` (the public call, validation included; the route it takes
  by default, series or exact, and the series' length are recorded). NT: the networks written as
  an NT user writes them, ``stax.serial(Dense(w, W_std=1), Relu(), [Dense(w, W_std=√2), Relu()]
  × (L-1), Dense(1, W_std=√2))`` and, for the residual MLP (``nt_resnet``), ``Dense(w, W_std=1)``
  then L blocks ``FanOut(2)``, ``parallel(Identity(), serial(Dense(w, W_std=1), Relu(),
  Dense(w, W_std=α√2)))``, ``FanInSum()``, then ``Dense(1)``; timed as ``jax.jit(kernel_fn,
  static_argnames="get")(√3·X, None, "ntk")``: NT divides the first layer by the fan-in d = 3, so
  its kernel on √d·x equals ntkspec's on x (docs/theory.md §2.9). Checked before timing: on the
  first 256 rows, ntkspec's exact recursion and NT, both in float64, agree to 1e-6 relative
  (max |Δ| / max |Θ|); that recursion, with the exact Θ(1) on the diagonal, is the reference
  against which each timed Gram's error is reported (float32 within 1e-3: float32 inputs round
  t = <x, x'> by ~1e-7 and Θ has a √(1 - t) singularity at t = 1, so ~√ε_32 is the floor for
  both; float64 within 1e-6). ``--quick``: n = 512.

``empirical``
  Empirical NTK Θ(X, X) (all parameters, no trace over outputs), float32, n = 512 points on S^2,
  on the SAME ``apply(params, X) -> (n,)`` and params for both libraries:
  (1) ntkspec's ``mlp(3, 1024)`` (3 hidden ReLU layers of width 1024, 2.1 M parameters):
  ``empirical_ntk(net.apply, params, X)`` (auto = its layer-wise ``structured`` method) against
  ``jax.jit(nt.empirical_ntk_fn(net.apply, trace_axes=(), vmap_axes=0,
  implementation=i))(X, None, params)`` for i = 1 (Jacobian contraction) and 2 (NTK-vector
  products); NT's implementation 3 (structured derivatives) fails on jax 0.4.38.
  (2) a non-MLP model, a pre-LayerNorm residual network (``resnet_apply`` below: Dense 3 → 256,
  two blocks ``h + relu(Dense(LayerNorm(h)))``, Dense 256 → 1; 134 k parameters), where
  ntkspec has only its generic methods: ``auto`` (= ``jacobian``) and ``ntk_vp``.
  Before timing, all methods agree to 1e-5 relative on a small batch (n = 64); the outputs of
  the timed calls at full n are checked the same way. NT is compiled ahead of time
  (``.lower().compile()``, timed separately), so its slow calls are not spent on warm-up.
  Timed calls: on the MLP one NT call takes tens of seconds, so ntkspec gets ``--repeats``
  (5), NT's implementation 1 ``--peer-repeats`` (2) and implementation 2 one; on the residual
  network, ntkspec ``auto`` and NT implementation 1 (about a second each, and the pair that
  decides "not slower") get 2 × ``--repeats``, ``ntk_vp`` and NT implementation 2
  ``--peer-repeats``.

``spectrum``
  Eigenvalues of the depth-4 ReLU NTK on S^2, k ≤ 100. ntkspec: ``spectrum(mlp_kernel(4), 3,
  100)`` (Funk–Hecke quadrature, float64). The sample route an NT user takes: n uniform points,
  the NT Gram as above (jitted, float32, the default), ``numpy.linalg.eigh(K / n)`` in float64,
  eigenvalues sorted and handed out to the degrees in clusters of N(3, k) = 2k + 1, in order of
  decreasing true λ_k (knowledge the route does not have: this favours it), each degree's
  estimate being its cluster's mean. Both are scored against the 32-digit mpmath reference in
  ``tests/data/spectra_reference.json``: max relative error over k ≤ 5, 10, 20 and (ntkspec) over
  every k ≤ 100 with λ_k ≥ 1e-6 λ_0. n = 1024, 2048, 4096 (3, 2, 1 timed calls).

``train``
  Full-batch GD on the MSE ``(1/2n) Σ (f(x_i) - y_i)²``, n = 512 points on S^2, standard-normal
  targets, lr = 0.5, 100 steps, float32, on the NT stax network (``init_fn``/``apply_fn`` of the
  MLP above at finite width; the model is ``apply(p, X) = apply_fn(p, √3·X)[:, 0]``, the same
  function object for both). ntkspec: the whole public call ``train(apply, params, X, y,
  lr=0.5, steps=100, record_every=50, kmax=10)`` (validation, initial loss, two ``lax.scan``
  chunks, residual records and per-degree energies). NT: the loop an NT user writes, a
  ``jax.jit``-compiled GD step ``p - lr·∇L(p)`` called from a Python loop, with the loss pulled
  to the host every 50 steps as well. Checked first: the same final loss (1e-4 relative).

Also written (``--json``): the machine (CPU model from /proc/cpuinfo, cores, RAM, load average
before and after, versions of Python, jax, jaxlib, neural-tangents, numpy, scipy), the date, the
command, and every raw timing.

    TF_CPP_MIN_LOG_LEVEL=3 .venv-nt/bin/python -m benchmarks.bench_nt [--quick] [--json FILE]
        [--repeats R] [--peer-repeats P] [--only SECTION ...]

Results and their interpretation: BENCHMARKS.md ("Side by side with neural-tangents").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before neural-tangents imports TensorFlow

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

try:
    import neural_tangents as nt
    from neural_tangents import stax
except ImportError as e:  # pragma: no cover - wrong environment
    raise SystemExit(
        f"bench_nt needs neural-tangents (run `make bench`, which uses .venv-nt): {e}"
    ) from None

from benchmarks._machine import cpuinfo  # noqa: E402
from ntkspec import empirical_ntk, mlp, mlp_kernel, multiplicity, sample_sphere, spectrum, train
from ntkspec.architectures import resnet_kernel
from ntkspec.kernels import SERIES_MAX_TERMS, SERIES_TOL_F64

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "spectra_reference.json"
DIM = 3  # points on S^2
SQRT_D = math.sqrt(DIM)  # NT divides the first layer by the fan-in: feed it √d·x
CHECK_ROWS = 256  # rows of the float64 Gram reference
GRAM_F64_RTOL = 1e-6  # ntkspec vs NT, both float64 (NT is ~√ε_64 ≈ 1e-8 next to t = 1)
GRAM_F32_RTOL = 1e-3  # each float32 Gram vs the float64 reference (~√ε_32 ≈ 3e-4 floor)
EMP_RTOL = 1e-5  # empirical NTKs in float32 (ntkspec's documented agreement of its methods)
LOSS_RTOL = 1e-4  # final training loss, scan vs Python loop in float32 (op order differs)
LR = 0.5  # below 2/λ_max(K/n) for both training configurations
KMAX_SPECTRUM = 100
RESNET_ALPHA = "1/sqrt(L)"  # the residual Gram: branch scale α = 1/√L


# ----------------------------------------------------------------------------- helpers
def x64():
    """Enable 64-bit JAX types locally (jax 0.4.38 spelling; newer JAX has jax.enable_x64)."""
    new = getattr(jax, "enable_x64", None)
    if callable(new):
        return new(True)
    from jax.experimental import enable_x64

    return enable_x64()


def machine() -> dict:
    info = {"cpu_model": cpuinfo("model name") or "unknown", "ram_gib": None}
    flags = cpuinfo("flags")
    info["cpu_flags_avx512f"] = None if flags is None else "avx512f" in flags.split()
    if flags is not None:
        info["cpu_flags_avx2"] = "avx2" in flags.split()
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = int(line.split()[1]) / 2**20
    versions = {}
    for pkg in ("jax", "jaxlib", "neural-tangents", "numpy", "scipy", "tensorflow", "ntkspec"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    return {
        **info,
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "x64_default": bool(jax.config.jax_enable_x64),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg(),
        "blas_threads_env": {
            k: os.environ[k]
            for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS")
            if k in os.environ
        },
    }


def timed(fn):
    """(seconds, output) of one blocking call."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t0, out


def round_robin(fns: dict, repeats: dict) -> tuple[dict, dict]:
    """Time ``fns[name]()`` ``repeats[name]`` times each, one call of each per round.

    Returns (times per name, output of each name's first timed call).
    """
    times = {name: [] for name in fns}
    first = {}
    for r in range(max(repeats.values())):
        for name, fn in fns.items():
            if r < repeats[name]:
                dt, out = timed(fn)
                times[name].append(dt)
                first.setdefault(name, out)
    return times, first


def med(ts) -> float:
    return float(np.median(ts))


def rel_diff(a, b) -> float:
    """max |a - b| / max |b| in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def points(n: int, seed: int = 0):
    """n uniform points on S^2 in float32 (the default) and the same points in float64."""
    X = sample_sphere(jax.random.key(seed), n, DIM, dtype=jnp.float32)
    X64 = np.asarray(X, np.float64)
    return X, X64 / np.linalg.norm(X64, axis=1, keepdims=True)


def nt_mlp(depth: int, width: int = 512):
    """The bias-free ReLU MLP as an NT user writes it (kernel = mlp_kernel(depth) on √d·x)."""
    layers = [stax.Dense(width, W_std=1.0)]
    for l in range(depth):
        layers += [stax.Relu(), stax.Dense(1 if l == depth - 1 else width, W_std=math.sqrt(2.0))]
    return stax.serial(*layers)


def peak_rss_gib() -> float | None:
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 2**20
    return None


# ----------------------------------------------------------------------------- gram
def nt_resnet(depth: int, alpha: float, width: int = 512):
    """The residual MLP of ``resnet_kernel(depth, alpha)`` as an NT user writes it (on √d·x):
    Dense(W_std=1), then per block FanOut(2) / parallel(Identity, Dense(W_std=1) → Relu →
    Dense(W_std=α√2)) / FanInSum, then Dense(1, W_std=1)."""
    branch = stax.serial(
        stax.Dense(width, W_std=1.0), stax.Relu(), stax.Dense(width, W_std=alpha * math.sqrt(2))
    )
    block = stax.serial(stax.FanOut(2), stax.parallel(stax.Identity(), branch), stax.FanInSum())
    return stax.serial(stax.Dense(width, W_std=1.0), *([block] * depth), stax.Dense(1))


def gram_models(depths) -> dict:
    """{(model, depth): (ntkspec kernel, jitted NT kernel_fn)}: ReLU MLP and residual MLP
    (α = 1/√L), the same networks in both libraries."""
    out = {}
    for depth in depths:
        out["mlp", depth] = (mlp_kernel(depth), nt_mlp(depth)[2])
        nt_fn = nt_resnet(depth, 1 / depth**0.5)[2]
        out["resnet", depth] = (resnet_kernel(depth, RESNET_ALPHA), nt_fn)
    return {key: (k, jax.jit(fn, static_argnames="get")) for key, (k, fn) in out.items()}


def gram_route(kernel, dtype: str) -> dict:
    """Which evaluation ``kernel.gram(X)`` takes by default in ``dtype``, and its series fit."""
    fit = kernel.gram_series("ntk", dtype)
    if fit is None:
        return {"route": "exact"}
    series = dtype == "float32" or fit.measured_error <= SERIES_TOL_F64
    series = series and fit.terms <= SERIES_MAX_TERMS
    route = "series" if series else "exact"
    return {"route": route, "terms": fit.terms, "fit_error": fit.measured_error}


def gram_case(model: str, depth: int, n: int, repeats: int, kernel, kernel_fn, dtype: str) -> dict:
    X32, X64 = points(n)
    m = min(n, CHECK_ROWS)
    # Float64 reference on the first m rows: ntkspec's exact recursion, checked against NT.
    with x64():
        ref = np.array(kernel.gram(X64[:m], X64, method="exact"))  # writable copy
        ref_nt = np.asarray(
            kernel_fn(jnp.asarray(SQRT_D * X64[:m]), jnp.asarray(SQRT_D * X64), "ntk")
        )
    f64_diff = rel_diff(ref_nt, ref)
    # On the diagonal <x, x> rounds to 1 - O(ε) and Θ has a √(1 - t) singularity at t = 1, so
    # a (rows, all) evaluation loses half the digits there: the exact value is Θ(1).
    ref[np.arange(m), np.arange(m)] = kernel.kappa_one()
    name = f"gram {model} depth {depth} n {n} {dtype}"
    if not f64_diff <= GRAM_F64_RTOL:
        raise RuntimeError(f"{name}: float64 ntkspec vs NT differ {f64_diff}")

    scope = x64() if dtype == "float64" else contextlib.nullcontext()
    with scope:
        X = jnp.asarray(X64 if dtype == "float64" else X32)
        Xs = SQRT_D * X
        fns = {"ntkspec": lambda: kernel.gram(X), "nt": lambda: kernel_fn(Xs, None, "ntk")}
        warm = {}
        outs = {}
        for who, fn in fns.items():
            warm[who], outs[who] = timed(fn)
        errs = {who: rel_diff(np.asarray(out)[:m], ref) for who, out in outs.items()}
        dtypes = {who: str(out.dtype) for who, out in outs.items()}
        tol = GRAM_F64_RTOL if dtype == "float64" else GRAM_F32_RTOL
        for who, err in errs.items():
            if dtypes[who] != dtype or not err <= tol:
                raise RuntimeError(
                    f"{name}: {who} returned {dtypes[who]} with error {err:.2e} vs the float64 "
                    f"reference (> {tol:g})"
                )
        between = rel_diff(outs["nt"], outs["ntkspec"])
        del outs
        times, _ = round_robin(fns, {"ntkspec": repeats, "nt": repeats})
    row = {
        "model": model,
        "depth": depth,
        "n": n,
        "dtype": dtype,
        **gram_route(kernel, dtype),
        "first_call_s": warm,
        "times_s": times,
        "median_s": {k: med(v) for k, v in times.items()},
        "err_vs_f64_ref": errs,
        "nt_vs_ntkspec": between,
        "f64_ntkspec_vs_nt": f64_diff,
    }
    row["ratio"] = row["median_s"]["ntkspec"] / row["median_s"]["nt"]
    print(
        f"  {name}: ntkspec {fmt_t(row['median_s']['ntkspec'])} ({row['route']}), "
        f"nt {fmt_t(row['median_s']['nt'])}, ratio {row['ratio']:.3g}",
        flush=True,
    )
    return row


def section_gram(ns, depths, repeats: int, f64_ns, f64_repeats: int) -> dict:
    models = gram_models(depths)
    out = {"float32": [], "float64": []}
    for (model, depth), (kernel, kernel_fn) in models.items():
        for n in ns:
            out["float32"].append(gram_case(model, depth, n, repeats, kernel, kernel_fn, "float32"))
        for n in f64_ns:
            row = gram_case(model, depth, n, f64_repeats, kernel, kernel_fn, "float64")
            out["float64"].append(row)
    return out


# ----------------------------------------------------------------------------- empirical
def resnet_init(key, width: int = 256, blocks: int = 2) -> dict:
    ks = jax.random.split(key, blocks + 2)
    return {
        "w_in": jax.random.normal(ks[0], (DIM, width)),
        "blocks": [
            {
                "w": jax.random.normal(k, (width, width)),
                "b": jnp.zeros(width),
                "scale": jnp.ones(width),
                "shift": jnp.zeros(width),
            }
            for k in ks[2:]
        ],
        "w_out": jax.random.normal(ks[1], (width,)),
    }


def resnet_apply(params, X):
    """Pre-LayerNorm residual network, NTK parametrization: (n, 3) -> (n,)."""
    h = X @ params["w_in"]
    for blk in params["blocks"]:
        mu = jnp.mean(h, axis=-1, keepdims=True)
        var = jnp.var(h, axis=-1, keepdims=True)
        z = (h - mu) * jax.lax.rsqrt(var + 1e-5) * blk["scale"] + blk["shift"]
        h = h + jax.nn.relu(z @ blk["w"] / math.sqrt(blk["w"].shape[0]) + blk["b"])
    return h @ params["w_out"] / math.sqrt(h.shape[-1])


def emp_model(name: str, repeats: int, peer_repeats: int):
    """(apply, params, ntkspec methods (auto first), timed calls per method).

    NT's calls on the MLP take seconds to a minute each: ``peer_repeats`` for the faster
    implementation, one call for the slower. On the small residual network the generic methods
    of both libraries take about a second, and ntkspec's ``auto`` against NT's implementation 1
    decides the "not slower" goal, so those two get twice the repeats.
    """
    if name == "mlp":
        net = mlp(3, 1024)
        reps = {"ntkspec_auto": repeats, "nt_impl1": peer_repeats, "nt_impl2": 1}
        return net.apply, net.init(jax.random.key(1), DIM), ("auto",), reps
    reps = {
        "ntkspec_auto": 2 * repeats,
        "ntkspec_ntk_vp": peer_repeats,
        "nt_impl1": 2 * repeats,
        "nt_impl2": peer_repeats,
    }
    return resnet_apply, resnet_init(jax.random.key(1)), ("auto", "ntk_vp"), reps


def emp_fns(apply, params, X, methods):
    fns = {f"ntkspec_{m}": (lambda m=m: empirical_ntk(apply, params, X, method=m)) for m in methods}
    compile_s = {}
    for impl in (1, 2):
        f = jax.jit(nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0, implementation=impl))
        t0 = time.perf_counter()
        compiled = f.lower(X, None, params).compile()
        compile_s[f"nt_impl{impl}"] = time.perf_counter() - t0
        fns[f"nt_impl{impl}"] = lambda c=compiled: c(X, None, params)
    return fns, compile_s


def emp_case(name: str, n: int, n_check: int, repeats: int, peer_repeats: int) -> dict:
    apply, params, methods, reps = emp_model(name, repeats, peer_repeats)
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))

    def check(outs: dict, where: str) -> dict:
        ref = outs["ntkspec_auto"]
        diffs = {k: rel_diff(v, ref) for k, v in outs.items() if k != "ntkspec_auto"}
        for k, d in diffs.items():
            if not d <= EMP_RTOL:
                raise RuntimeError(f"empirical {name} {where}: {k} differs by {d:.2e} (> 1e-5)")
        return diffs

    # Correctness before timing, on a small batch.
    Xc, _ = points(n_check, seed=1)
    fns_c, _ = emp_fns(apply, params, Xc, methods)
    small = check({k: timed(f)[1] for k, f in fns_c.items()}, f"n = {n_check}")
    del fns_c

    X, _ = points(n)
    fns, compile_s = emp_fns(apply, params, X, methods)
    first_call = {}
    for m in methods:  # warm-up (compile) call for ntkspec; NT was compiled ahead of time
        first_call[f"ntkspec_{m}"], _ = timed(fns[f"ntkspec_{m}"])
    times, outs = round_robin(fns, reps)
    full = check(outs, f"n = {n}")
    medians = {k: med(v) for k, v in times.items()}
    best_nt = min(("nt_impl1", "nt_impl2"), key=medians.get)
    row = {
        "model": name,
        "params": n_params,
        "n": n,
        "auto_method": "structured" if name == "mlp" else "jacobian",
        "nt_compile_s": compile_s,
        "ntkspec_first_call_s": first_call,
        "repeats": reps,
        "times_s": times,
        "median_s": medians,
        "rel_diff_vs_auto": {"n_check": n_check, "small": small, "full": full},
        "best_nt": best_nt,
        "ratio_vs_best_nt": medians["ntkspec_auto"] / medians[best_nt],
        "peak_rss_gib_after": peak_rss_gib(),
    }
    print(
        f"  empirical {name} n {n}: "
        + ", ".join(f"{k} {fmt_t(v)}" for k, v in medians.items())
        + f"; ratio vs {best_nt} {row['ratio_vs_best_nt']:.3g}",
        flush=True,
    )
    return row


def section_empirical(n: int, n_check: int, repeats: int, peer_repeats: int) -> list[dict]:
    return [emp_case(name, n, n_check, repeats, peer_repeats) for name in ("mlp", "resnet")]


# ----------------------------------------------------------------------------- spectrum
def reference_eigenvalues(depth: int) -> np.ndarray:
    for c in json.loads(REFERENCE.read_text())["cases"]:
        if (c["activation"], c["kernel"], c["dim"], c["depth"], float(c["bias_var"])) == (
            "relu",
            "ntk",
            DIM,
            depth,
            0.0,
        ):
            return np.array([float(s) for s in c["eigenvalues"]])
    raise KeyError(f"no relu ntk d = {DIM} depth {depth} case in {REFERENCE}")


def max_rel(est: dict, exact: np.ndarray, kmax: int) -> float | None:
    errs = [abs(v - exact[k]) / exact[k] for k, v in est.items() if k <= kmax]
    return max(errs) if errs else None


def section_spectrum(ns, route_repeats, repeats: int) -> dict:
    depth = 4
    kernel = mlp_kernel(depth)
    exact = reference_eigenvalues(depth)
    kf = jax.jit(nt_mlp(depth)[2], static_argnames="get")
    kmax = KMAX_SPECTRUM
    # Degrees in order of decreasing true λ_k (exact zeros skipped), for the cluster assignment.
    order = [int(k) for k in np.argsort(-exact, kind="stable") if exact[k] > 0]
    bar = 1e-6 * exact.max()

    def ntkspec_fn():
        return spectrum(kernel, DIM, kmax)

    def route(n):
        X, _ = points(n, seed=n)
        Xs = SQRT_D * X

        def run():
            t0 = time.perf_counter()
            K = np.asarray(jax.block_until_ready(kf(Xs, None, "ntk")), np.float64)
            t1 = time.perf_counter()
            mu = np.linalg.eigh(K / n)[0][::-1]
            t2 = time.perf_counter()
            est, pos = {}, 0
            for k in order:
                mult = int(multiplicity(DIM, k))
                if pos + mult > n:
                    break
                est[k] = float(mu[pos : pos + mult].mean())
                pos += mult
            return {"gram_s": t1 - t0, "eigh_s": t2 - t1, "est": est}

        return run

    # Correctness before timing: ntkspec against the mpmath reference; warm-up of everything.
    first = {}
    first["ntkspec"], s = timed(ntkspec_fn)
    lam = s.eigenvalues
    big = exact >= bar
    ntk_err = float(np.max(np.abs(lam[big] - exact[big]) / exact[big]))
    if not ntk_err <= 1e-8:
        raise RuntimeError(f"spectrum: ntkspec is off by {ntk_err:.2e} against the reference")
    fns = {"ntkspec": ntkspec_fn}
    for n in ns:
        fns[f"route_{n}"] = route(n)
        jax.block_until_ready(kf(SQRT_D * points(n, seed=n)[0], None, "ntk"))  # compile
    reps = {"ntkspec": repeats}
    reps.update({f"route_{n}": r for n, r in zip(ns, route_repeats, strict=True)})
    times, outs = round_robin(fns, reps)
    rows = [
        {
            "method": "ntkspec",
            "median_s": med(times["ntkspec"]),
            "times_s": times["ntkspec"],
            "first_call_s": first["ntkspec"],
            "max_rel_err": {
                "k<=5": max_rel(dict(enumerate(lam)), exact, 5),
                "k<=10": max_rel(dict(enumerate(lam)), exact, 10),
                "k<=20": max_rel(dict(enumerate(lam)), exact, 20),
                "k<=100, lambda_k>=1e-6 lambda_0": ntk_err,
            },
            "degrees": kmax + 1,
            "error_estimate_over_lambda0": float(s.error.max() / lam[0]),
        }
    ]
    for n in ns:
        name = f"route_{n}"
        est = outs[name]["est"]
        rows.append(
            {
                "method": "sample route",
                "n": n,
                "median_s": med(times[name]),
                "times_s": times[name],
                "max_rel_err": {
                    "k<=5": max_rel(est, exact, 5),
                    "k<=10": max_rel(est, exact, 10),
                    "k<=20": max_rel(est, exact, 20),
                },
                "rel_err_per_degree_k<=10": {
                    k: abs(est[k] - exact[k]) / exact[k] for k in sorted(est) if k <= 10
                },
                "degrees": len(est),
                "kmax_resolved": next((k - 1 for k in range(kmax + 2) if k not in est), kmax),
            }
        )
    # The route's own split of one call (Gram vs eigh), from its first timed call.
    for row in rows[1:]:
        o = outs[f"route_{row['n']}"]
        row["first_call_split_s"] = {"gram": o["gram_s"], "eigh": o["eigh_s"]}
    t_ref = rows[0]["median_s"]
    for row in rows:
        row["ratio_vs_ntkspec"] = row["median_s"] / t_ref
    print(
        "  spectrum: "
        + ", ".join(
            f"{r['method']}{'' if 'n' not in r else ' ' + str(r['n'])} {fmt_t(r['median_s'])}"
            for r in rows
        ),
        flush=True,
    )
    return {"depth": depth, "kmax": kmax, "rows": rows}


# ----------------------------------------------------------------------------- train
def train_case(depth: int, width: int, n: int, steps: int, record_every: int, repeats: int):
    init_fn, apply_fn, _ = nt_mlp(depth, width)
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    X = sample_sphere(kx, n, DIM, dtype=jnp.float32)
    y = jax.random.normal(ky, (n,), jnp.float32)
    _, params = init_fn(kp, (-1, DIM))
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))

    def apply(p, x):  # the model both libraries train: NT's network on √d·x, scalar output
        return apply_fn(p, SQRT_D * x)[:, 0]

    def loss(p, x, t):
        r = apply(p, x) - t
        return 0.5 * jnp.mean(r * r)

    loss_jit = jax.jit(loss)

    @jax.jit
    def step(p, x, t):
        g = jax.grad(loss)(p, x, t)
        return jax.tree.map(lambda a, b: a - LR * b, p, g)

    def nt_loop():
        p, losses = params, [float(loss_jit(params, X, y))]
        for i in range(steps):
            p = step(p, X, y)
            if (i + 1) % record_every == 0 or i + 1 == steps:
                losses.append(float(loss_jit(p, X, y)))
        return p, losses

    def ntkspec_train():
        return train(apply, params, X, y, lr=LR, steps=steps, record_every=record_every, kmax=10)

    fns = {"ntkspec": ntkspec_train, "nt": nt_loop}
    first = {}
    outs = {}
    for name, fn in fns.items():
        first[name], outs[name] = timed(fn)
    final = {"ntkspec": float(outs["ntkspec"][1].loss[-1]), "nt": outs["nt"][1][-1]}
    initial = outs["nt"][1][0]
    diff = abs(final["ntkspec"] - final["nt"]) / abs(final["nt"])
    if not (np.isfinite(final["nt"]) and diff <= LOSS_RTOL and final["nt"] < initial):
        raise RuntimeError(f"train depth {depth} width {width}: final losses {final} (diff {diff})")
    del outs
    times, _ = round_robin(fns, {"ntkspec": repeats, "nt": repeats})
    medians = {k: med(v) for k, v in times.items()}
    row = {
        "depth": depth,
        "width": width,
        "params": n_params,
        "n": n,
        "steps": steps,
        "record_every": record_every,
        "lr": LR,
        "loss_initial": initial,
        "loss_final": final,
        "loss_rel_diff": diff,
        "first_call_s": first,
        "times_s": times,
        "median_s": medians,
        "steps_per_s": {k: steps / v for k, v in medians.items()},
        "ratio": medians["ntkspec"] / medians["nt"],
    }
    print(
        f"  train depth {depth} width {width}: ntkspec {row['steps_per_s']['ntkspec']:.1f} "
        f"steps/s, nt loop {row['steps_per_s']['nt']:.1f} steps/s, ratio {row['ratio']:.3g}",
        flush=True,
    )
    return row


def section_train(configs, n: int, steps: int, record_every: int, repeats: int) -> list[dict]:
    return [train_case(L, w, n, steps, record_every, repeats) for L, w in configs]


# ----------------------------------------------------------------------------- report
def report(res: dict) -> str:
    m = res["machine"]
    v = m["versions"]
    ram = f"{m['ram_gib']:.0f} GiB RAM" if m["ram_gib"] else "RAM unknown"
    lines = [
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {ram}, {m['jax_backend']} backend; "
        f"Python {m['python']}, jax {v.get('jax')} (jaxlib {v.get('jaxlib')}), neural-tangents "
        f"{v.get('neural-tangents')}, numpy {v.get('numpy')}, scipy {v.get('scipy')}; "
        f"{m['date_utc']}; load average {m['loadavg_start'][0]:.1f} at start, "
        f"{m['loadavg_end'][0]:.1f} at end.",
        "",
        f"Command: `{res['command']}` ({res['total_seconds']:.0f} s). Ratio = ntkspec time / "
        "neural-tangents time, medians of the same run (< 1: ntkspec faster); "
        "speed-up = 1 / ratio.",
    ]
    if "gram" in res:
        for dtype, rows in res["gram"].items():
            if not rows:
                continue
            lines += [
                "",
                f"### Infinite-width NTK Gram Θ(X, X), ReLU MLP and residual MLP, S^2, {dtype}",
                "",
                "| model | depth | n | ntkspec `kernel.gram(X)` | route (terms) | NT "
                "`jit(kernel_fn)(√3·X, None, 'ntk')` | ratio | speed-up | timed calls "
                "| err ntkspec | err NT | NT vs ntkspec |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for r in rows:
                md = r["median_s"]
                route = r["route"] + (f" ({r['terms']})" if r["route"] == "series" else "")
                lines.append(
                    f"| {r['model']} | {r['depth']} | {r['n']} | {fmt_t(md['ntkspec'])} | "
                    f"{route} | "
                    f"{fmt_t(md['nt'])} | {r['ratio']:.3g} | {1 / r['ratio']:.3g}× | "
                    f"{len(r['times_s']['nt'])} | {r['err_vs_f64_ref']['ntkspec']:.1e} | "
                    f"{r['err_vs_f64_ref']['nt']:.1e} | {r['nt_vs_ntkspec']:.1e} |"
                )
        lines += [
            "",
            "err = max |Θ − Θ_ref| / max |Θ_ref| on the first 256 rows, Θ_ref = ntkspec's exact "
            "recursion in float64 on the same points (NT in float64 agrees with it to "
            f"{max(r['f64_ntkspec_vs_nt'] for rs in res['gram'].values() for r in rs):.1e}).",
        ]
    if "empirical" in res:
        lines += [
            "",
            "### Empirical NTK Θ(X, X), n points on S^2, float32, same apply and params",
            "",
            "| model | params | n | ntkspec auto | ntkspec other | NT impl 1 | NT impl 2 | ratio "
            "auto / best NT | speed-up | max rel diff vs auto (small n / full n) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["empirical"]:
            md, reps = r["median_s"], r["repeats"]

            def cell(k, md=md, reps=reps):
                return f"{fmt_t(md[k])} ({reps[k]})"

            others = [k for k in md if k.startswith("ntkspec_") and k != "ntkspec_auto"]
            other = ", ".join(f"{k.split('_', 1)[1]}: {cell(k)}" for k in others) or "—"
            diffs = r["rel_diff_vs_auto"]
            worst_small = max(diffs["small"].values())
            worst_full = max(diffs["full"].values())
            lines.append(
                f"| {r['model']} | {r['params']:,} | {r['n']} | {r['auto_method']}: "
                f"{cell('ntkspec_auto')} | {other} | {cell('nt_impl1')} | {cell('nt_impl2')} | "
                f"{r['ratio_vs_best_nt']:.3g} (vs {r['best_nt'].replace('nt_', '')}) | "
                f"{1 / r['ratio_vs_best_nt']:.3g}× | {worst_small:.1e} / {worst_full:.1e} |"
            )
        lines += [
            "",
            "(timed calls in parentheses; NT compile, ahead of time: "
            + "; ".join(
                f"{r['model']}: "
                + ", ".join(f"{k} {fmt_t(s)}" for k, s in r["nt_compile_s"].items())
                for r in res["empirical"]
            )
            + ")",
        ]
    if "spectrum" in res:
        sp = res["spectrum"]
        lines += [
            "",
            f"### Spectrum of the depth-{sp['depth']} ReLU NTK on S^2: quadrature vs the sample "
            "route",
            "",
            "| method | median time | timed calls | × ntkspec | max rel err k ≤ 5 | k ≤ 10 "
            "| k ≤ 20 | degrees estimated |",
            "|---|---|---|---|---|---|---|---|",
        ]

        def e(x):
            return "—" if x is None else f"{x:.1e}"

        for r in sp["rows"]:
            label = (
                f"ntkspec `spectrum(mlp_kernel(4), 3, {sp['kmax']})`"
                if r["method"] == "ntkspec"
                else f"NT Gram + eigh(K/n), n = {r['n']}"
            )
            err = r["max_rel_err"]
            deg = (
                f"{r['degrees']} (k ≤ {sp['kmax']})"
                if r["method"] == "ntkspec"
                else f"{r['degrees']} (all k ≤ {r['kmax_resolved']})"
            )
            lines.append(
                f"| {label} | {fmt_t(r['median_s'])} | {len(r['times_s'])} | "
                f"{r['ratio_vs_ntkspec']:.3g} | {e(err['k<=5'])} | {e(err['k<=10'])} | "
                f"{e(err['k<=20'])} | {deg} |"
            )
        r0 = sp["rows"][0]
        lines += [
            "",
            "ntkspec over all k ≤ 100 with λ_k ≥ 1e-6 λ_0: max rel err "
            f"{r0['max_rel_err']['k<=100, lambda_k>=1e-6 lambda_0']:.1e}. Sample route, first "
            "call split (Gram / eigh): "
            + "; ".join(
                f"n = {r['n']}: {fmt_t(r['first_call_split_s']['gram'])} / "
                f"{fmt_t(r['first_call_split_s']['eigh'])}"
                for r in sp["rows"][1:]
            )
            + ".",
        ]
    if "train" in res:
        lines += [
            "",
            "### Training throughput: full-batch GD on the NT stax network, float32",
            "",
            "| depth | width | params | n | steps | ntkspec `train` (record_every = "
            f"{res['train'][0]['record_every']}) | NT loop (jit step + Python loop) | ratio | "
            "speed-up | timed calls | final loss rel diff |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["train"]:
            sps = r["steps_per_s"]
            lines.append(
                f"| {r['depth']} | {r['width']} | {r['params']:,} | {r['n']} | {r['steps']} | "
                f"{sps['ntkspec']:.1f} steps/s | {sps['nt']:.1f} steps/s | {r['ratio']:.3g} | "
                f"{1 / r['ratio']:.3g}× | {len(r['times_s']['nt'])} | {r['loss_rel_diff']:.1e} |"
            )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
SECTIONS = ("gram", "empirical", "spectrum", "train")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, 2 repeats")
    ap.add_argument("--json", metavar="FILE", help="also write all numbers as JSON")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls (default 5)")
    ap.add_argument(
        "--peer-repeats",
        type=int,
        default=None,
        help="timed calls of the slow empirical-NTK methods (default 2; see the docstring)",
    )
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    args = ap.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    peer_repeats = args.peer_repeats or (1 if quick else 2)
    only = args.only or list(SECTIONS)
    t_start = time.perf_counter()
    res = {
        "machine": machine(),
        "command": " ".join(["python", "-m", "benchmarks.bench_nt", *sys.argv[1:]]),
        "quick": quick,
        "repeats": repeats,
        "peer_repeats": peer_repeats,
    }
    print(f"bench_nt: sections {', '.join(only)}", flush=True)
    if "gram" in only:
        ns = (512,) if quick else (4096,)
        f64_ns = (512,) if quick else (4096,)
        res["gram"] = section_gram(ns, (1, 4), repeats, f64_ns, max(1, (repeats + 1) // 2))
    if "empirical" in only:
        n = 128 if quick else 512
        res["empirical"] = section_empirical(n, 64 if not quick else 32, repeats, peer_repeats)
    if "spectrum" in only:
        ns = (512, 1024) if quick else (1024, 2048, 4096)
        route_reps = (1, 1) if quick else (3, 2, 1)
        res["spectrum"] = section_spectrum(ns, route_reps, repeats)
    if "train" in only:
        steps, every = (20, 10) if quick else (100, 50)
        res["train"] = section_train(((1, 8192), (3, 512)), 512, steps, every, repeats)
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["machine"]["peak_rss_gib"] = peak_rss_gib()
    res["total_seconds"] = time.perf_counter() - t_start
    print()
    print(report(res))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1, default=float))
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
