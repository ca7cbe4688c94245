"""One learning-curve experiment: theory (eigenlearning) and, optionally, KRR measurement.

What ``ntkspec curve`` runs. :func:`run_curve` computes the spectrum of an infinite-width
kernel (growing kmax until the truncation rule of :func:`ntkspec.generalization.truncate` is
met), the predicted curve at the requested n and on a dense grid (for the figure), and, with
``trials > 0``, the kernel-regression measurement of :func:`ntkspec.krr.kernel_regression_curve`.
:func:`write_curve_report` writes ``curve.json``, ``report.md`` and ``learning_curve.png``.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import jax
import numpy as np

from ntkspec._io import atomic_write_bytes, atomic_write_json, atomic_write_text, json_floats
from ntkspec._validate import as_real_array, check_int, check_positive
from ntkspec.generalization import LearningCurve, SpectrumTooShort, learning_curve
from ntkspec.kernels import ZonalKernel
from ntkspec.krr import KRRMeasurement, kernel_regression_curve
from ntkspec.limits import (
    MAX_AUTO_KMAX,
    MAX_DIM,
    MAX_KRR_DEGREE,
    MAX_SEED,
    MAX_TEST,
    MAX_TRAIN,
    MAX_TRIALS,
)
from ntkspec.spectrum import Spectrum, spectrum

__all__ = ["CurveRun", "curve_payload", "curve_table", "run_curve", "write_curve_report"]


@dataclasses.dataclass(frozen=True)
class CurveRun:
    """Inputs and results of one learning-curve experiment.

    Attributes:
      config: the JSON-ready inputs.
      spectrum: the kernel's :class:`~ntkspec.spectrum.Spectrum`.
      theory: :class:`~ntkspec.generalization.LearningCurve` at the requested n.
      dense: the same on 120 log-spaced n (for the figure).
      measured: :class:`~ntkspec.krr.KRRMeasurement` or ``None`` (``trials = 0``).
    """

    config: dict
    spectrum: Spectrum
    theory: LearningCurve
    dense: LearningCurve
    measured: KRRMeasurement | None


def _energies(degrees, amplitudes) -> np.ndarray:
    deg = [check_int("degree", k, minimum=0, maximum=MAX_KRR_DEGREE) for k in degrees]
    if not deg or len(set(deg)) != len(deg):
        raise ValueError(f"Expected distinct target degrees; got {list(degrees)!r}.")
    amp = as_real_array("amplitudes", amplitudes).ravel()
    if amp.size == 1:
        amp = np.full(len(deg), amp[0])
    if amp.size != len(deg) or not np.isfinite(amp).all():
        raise ValueError(
            f"Expected one finite amplitude, or one per degree ({len(deg)}); got {amp.tolist()!r}."
        )
    v2 = np.zeros(max(deg) + 1)
    v2[deg] = amp**2
    return v2, deg


def _theory(kernel, dim, which, v2, ns, dense, noise, ridge, tail_tol):
    """Spectrum and curves, growing kmax while the truncation rule asks for more."""
    kmax = max(int(v2.size) + 1, 64)
    for _ in range(6):
        s = spectrum(kernel, dim, kmax, which)
        try:
            theory = learning_curve(s, v2, ns, noise=noise, ridge=ridge, tail_tol=tail_tol)
            fine = learning_curve(s, v2, dense, noise=noise, ridge=ridge, tail_tol=tail_tol)
            return s, theory, fine
        except SpectrumTooShort as e:
            need = e.kmax_needed
            if need is None or need <= kmax or need > MAX_AUTO_KMAX:
                raise
            kmax = need
    raise SpectrumTooShort(f"kmax did not settle below {MAX_AUTO_KMAX}; pass a larger tail_tol.")


def run_curve(
    kernel: ZonalKernel,
    dim: int,
    degrees,
    amplitudes,
    n,
    *,
    which: str = "ntk",
    noise: float = 0.0,
    ridge: float = 0.0,
    trials: int = 0,
    test_points: int = 1000,
    seed: int = 0,
    tail_tol: float = 1e-2,
) -> CurveRun:
    """Predict (and with ``trials > 0`` measure) the learning curve of a target.

    Args:
      kernel: an infinite-width :class:`~ntkspec.kernels.Kernel` (``mlp_kernel``).
      dim: ambient dimension d.
      degrees: target degrees; amplitudes: one amplitude, or one per degree (the target is
        ``Σ_k A_k h_k`` with unit-norm random harmonics, so ``v_k² = A_k²``).
      n: increasing training-set sizes (integers >= 1 when measuring).
      which: ``"ntk"`` or ``"nngp"``.
      noise: label-noise variance ε²; ridge: δ (convention ``(K + δ I)^{-1}``).
      trials: KRR draws (0: theory only); test_points: held-out points per draw.
      seed: PRNG seed of the measurement.
      tail_tol: truncation tolerance (:func:`ntkspec.generalization.truncate`).

    Returns:
      A :class:`CurveRun`.
    """
    if not isinstance(kernel, ZonalKernel):
        raise TypeError(
            "Expected a zonal Kernel (mlp_kernel, resnet_kernel, fourier_kernel, …); got "
            f"{type(kernel).__name__}."
        )
    dim = check_int("dim", dim, minimum=2, maximum=MAX_DIM)
    v2, deg = _energies(degrees, amplitudes)
    ns, trials = _sizes(n, trials)
    noise = check_positive("noise", noise, allow_zero=True)
    ridge = check_positive("ridge", ridge, allow_zero=True)
    seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    dense = np.geomspace(ns[0], ns[-1], 120) if ns.size > 1 else ns
    s, theory, fine = _theory(kernel, dim, which, v2, ns, dense, noise, ridge, tail_tol)
    measured = None
    if trials:
        if which != "ntk":
            raise ValueError("Expected --kernel ntk to measure (KRR uses the NTK Gram).")
        test_points = check_int("test_points", test_points, minimum=2, maximum=MAX_TEST)
        measured = kernel_regression_curve(
            kernel, jax.random.key(seed), dim=dim, energies=v2, n=ns.astype(np.int64),
            trials=trials, test_points=test_points, noise=noise, ridge=ridge, kmax=v2.size - 1,
        )
    config = {
        "dim": dim,
        "kernel": which,
        "degrees": deg,
        "energies": v2.tolist(),
        "n": ns.tolist(),
        "noise": noise,
        "ridge": ridge,
        "trials": trials,
        "test_points": test_points if trials else 0,
        "seed": seed,
        "tail_tol": tail_tol,
    }
    return CurveRun(config, s, theory, fine, measured)


def _sizes(n, trials) -> tuple[np.ndarray, int]:
    """Increasing sample sizes n >= 1 (integers <= ``MAX_TRAIN`` when measuring), trials."""
    ns = np.atleast_1d(as_real_array("n", n))
    if ns.ndim != 1 or not np.isfinite(ns).all() or (ns < 1).any() or (np.diff(ns) <= 0).any():
        raise ValueError(f"Expected n to be increasing sample sizes >= 1; got {ns.tolist()!r}.")
    trials = check_int("trials", trials, minimum=0, maximum=MAX_TRIALS)
    if trials and ((ns != np.round(ns)).any() or ns[-1] > MAX_TRAIN):
        raise ValueError(
            f"Expected integer n <= {MAX_TRAIN} to measure kernel regression; got {ns.tolist()!r}."
        )
    return ns, trials


# ----------------------------------------------------------------------------- output
def curve_payload(run: CurveRun) -> dict:
    """JSON-ready results: config, truncation, theory (and measurement) per n."""
    t, m = run.theory, run.measured
    deg = run.config["degrees"]
    out = {
        "config": run.config,
        "spectrum_kmax": run.spectrum.kmax,
        "truncation_kmax": t.truncation.kmax,
        "tail": t.truncation.tail,
        "theory": {
            "kappa": json_floats(t.kappa),
            "overfitting": json_floats(t.overfitting),
            "test_mse": json_floats(t.test_mse),
            "train_mse": json_floats(t.train_mse),
            "learnability": {str(k): json_floats(t.learnability[:, k]) for k in deg},
            "test_mse_per_degree": {str(k): json_floats(t.test_mse_per_degree[:, k]) for k in deg},
        },
    }
    if m is not None:
        out["measured"] = {
            "test_mse_mean": json_floats(m.mean()),
            "test_mse_sem": json_floats(m.sem()),
            "train_mse_mean": json_floats(m.mean("train_mse")),
            "train_mse_sem": json_floats(m.sem("train_mse")),
            "test_mse_per_degree_mean": {
                str(k): json_floats(m.mean("excess_mse_per_degree")[:, k]) for k in deg
            },
            "test_mse_per_degree_sem": {
                str(k): json_floats(m.sem("excess_mse_per_degree")[:, k]) for k in deg
            },
        }
    return out


def curve_table(run: CurveRun) -> str:
    """Plain-text table: n, κ, E0, L_k of the target degrees, test/train MSE (and measured)."""
    t, m = run.theory, run.measured
    deg = run.config["degrees"]
    head = f"{'n':>8} {'kappa':>11} {'E0':>8} " + " ".join(f"{'L_' + str(k):>7}" for k in deg)
    head += f" {'test MSE':>11} {'train MSE':>11}"
    if m is not None:
        head += f" {'measured test':>22} {'ratio':>6}"
    lines = [head]
    for i, n in enumerate(t.n):
        row = f"{n:>8g} {t.kappa[i]:>11.4e} {t.overfitting[i]:>8.4g} "
        row += " ".join(f"{t.learnability[i, k]:>7.4f}" for k in deg)
        row += f" {t.test_mse[i]:>11.4e} {t.train_mse[i]:>11.4e}"
        if m is not None:
            mean, sem = m.mean()[i], m.sem()[i]
            row += f" {mean:>11.4e} ± {sem:<8.2e} {mean / t.test_mse[i]:>6.3f}"
        lines.append(row)
    return "\n".join(lines)


def _figure(run: CurveRun, path: Path) -> None:
    from matplotlib.figure import Figure

    t, f, m = run.theory, run.dense, run.measured
    deg = run.config["degrees"]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    a1.plot(f.n, f.test_mse, "k-", label="theory: test MSE")
    for k in deg:
        y = f.test_mse_per_degree[:, k]
        a1.plot(f.n, np.where(y > 0, y, np.nan), "--", color=f"C{k % 10}", label=f"degree {k}")
    if m is not None:
        a1.errorbar(t.n, m.mean(), yerr=m.sem(), fmt="ko", ms=4, capsize=2, label="KRR: test")
        pd, pd_sem = m.mean("excess_mse_per_degree"), m.sem("excess_mse_per_degree")
        for k in deg:
            y = np.where(pd[:, k] > 0, pd[:, k], np.nan)
            a1.errorbar(t.n, y, yerr=pd_sem[:, k], fmt="s", color=f"C{k % 10}", ms=3, capsize=2)
    a1.set(xscale="log", yscale="log", xlabel="n", ylabel="MSE")
    a1.set_title("test error: lines theory (dashed: per degree), points KRR", fontsize=9)
    a1.legend(fontsize=7)
    for k in range(min(max(deg) + 2, f.learnability.shape[1])):
        a2.plot(f.n, f.learnability[:, k], color=f"C{k % 10}", label=f"L_{k}")
    a2.set(xscale="log", ylim=(-0.02, 1.02), xlabel="n", ylabel="learnability λ/(λ+κ)")
    a2.set_title("per-degree learnability")
    a2.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())


def write_curve_report(run: CurveRun, out: str | os.PathLike) -> dict[str, Path]:
    """Write ``curve.json``, ``report.md`` and ``learning_curve.png`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "curve.json",
        "report": out / "report.md",
        "figure": out / "learning_curve.png",
    }
    atomic_write_json(paths["json"], curve_payload(run))
    _figure(run, paths["figure"])
    c, t = run.config, run.theory
    measured = (
        f"{c['trials']} kernel-regression draws with {c['test_points']} held-out points each "
        "(mean ± standard error)"
        if run.measured is not None
        else "none (pass --trials to measure kernel regression)"
    )
    energies = {k: c["energies"][k] for k in c["degrees"]}
    tail = t.truncation.tail
    text = f"""# Learning curve (eigenlearning)

- sphere S^{c["dim"] - 1} (d = {c["dim"]}), kernel: {c["kernel"]}
- target energies v_k² by degree: {energies}
- noise ε² = {c["noise"]:g}, ridge δ = {c["ridge"]:g}
- spectrum to k = {run.spectrum.kmax}; sums cut at K = {t.truncation.kmax}, neglected trace
  τ = {tail:.3g} ({tail / run.spectrum.trace:.2%} of κ(1), kept as a ridge)
- measurement: {measured}

Theory: κ solves Σ_k N_k λ_k/(λ_k + κ) + (δ + τ)/κ = n; L_k = λ_k/(λ_k + κ);
E0 = n/(n − Σ N_k L_k²); test MSE = E0 (Σ (1 − L_k)² v_k² + ε²) (on noisy held-out labels);
train MSE = (δ/(nκ))² · test MSE. Sources and accuracy: docs/theory.md §6.5.

```
{curve_table(run)}
```

![learning curve](learning_curve.png)
"""
    atomic_write_text(paths["report"], text)
    return paths
