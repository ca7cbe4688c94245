"""Funk–Hecke eigenvalues of zonal kernels on S^{d-1}.

A zonal kernel κ(<x, x'>) acts on L²(S^{d-1}, σ) (σ the *normalized* uniform measure) with the
spherical harmonics of degree k as eigenfunctions, eigenvalue

    λ_k = c_d ∫_{-1}^{1} κ(t) P_k(t) (1 - t²)^{(d-3)/2} dt
        = c_d ∫_0^π κ(cos θ) P_k(cos θ) sin^{d-2}θ dθ,

multiplicity N(d, k), ``c_d = Γ(d/2) / (√π Γ((d-1)/2))`` (docs/theory.md §1). Mercer:
``κ(t) = Σ_k N(d,k) λ_k P_k(t)`` and the trace ``κ(1) = Σ_k N(d,k) λ_k``.

Three routes, chosen per degree by the smaller certified error (``Spectrum.method``):

- **Quadrature** (any kernel). The integral is taken in θ with composite Gauss–Legendre
  (32 nodes per panel) on [0, π]. The arc-cosine kernels are analytic in θ (their singular
  derivatives at t = ±1 are an artefact of the t variable), so this converges exponentially
  where Gauss–Jacobi in t converges algebraically. The kernel is evaluated from
  ``1 - t = 2 sin²(θ/2)`` and ``1 + t = 2 cos²(θ/2)`` (nodes computed in extended precision
  from θ = π·s), and P_0..P_kmax come from the three-term recurrence in float64. Every call
  also evaluates a rule with 2/3 of the panels; the error bound is their difference plus a
  rounding floor ``ε (16 + √d + k/16) Σ_i |term_i|`` (:func:`quadrature_floor`), and the
  node count grows until the difference is below ``tol · max_k |λ_k|``. It cancels: the
  floor is ~ε·d^{k/2} relative to λ_k in high dimension.
- **Series** (MLP kernels with relu, erf or identity): ``λ_k = Σ_n a_n λ_k(tⁿ)`` with the
  nonnegative Taylor coefficients a_n of the kernel and the closed-form transforms of tⁿ
  (:mod:`ntkspec.taylor`). No cancellation, so tiny λ_k keep full relative precision; the
  truncated tail is bounded rigorously. Fast convergence in high d, slow in low d.
- **Parts** (ReLU MLP kernels, where the two above miss 1e-11 relative): integration by
  parts with the Gegenbauer equation, ``λ_k^{(d)}[κ] = λ_{k-m}^{(d+2m)}[κ^{(m)}] / Π_{j<m}
  (d + 2j)``, the θ rule applied to the m-th derivative (m = 4, 8, 16;
  :mod:`ntkspec.kernel_derivatives`) in dimension d + 2m with its own two-rule difference and
  floor. Each derivative divides the cancellation ``Σ|terms|/λ_k`` by about k, so low-d
  spectra keep 1e-10 relative up to k = 1000 and beyond, and d = 10–30 up to k = 100.

All of this runs in float64 (the series in extended precision) whatever the global JAX x64
flag is. Formulas and references: docs/theory.md ("Spectrum routes").
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntkspec import _compat, kernel_derivatives, taylor
from ntkspec._io import atomic_savez, atomic_write_json
from ntkspec._validate import (
    as_real_array,
    check_choice,
    check_int,
    check_positive,
    check_weights,
)
from ntkspec.kernels import ZonalKernel
from ntkspec.limits import MAX_DEGREE, MAX_DIM, MAX_EIG_DEGREE, MAX_PANELS
from ntkspec.sphere import (
    check_points,
    degree_energy,
    gegenbauer,
    gegenbauer_matrices,
    multiplicity,
)

__all__ = [
    "DecayFit",
    "EigDegrees",
    "Spectrum",
    "eig_degrees",
    "funk_hecke_constant",
    "gram_spectrum",
    "spectrum",
]

#: The routes a :class:`Spectrum` ``method`` entry can name.
METHODS = ("series", "quadrature", "parts")


def funk_hecke_constant(d: int) -> float:
    """``c_d = Γ(d/2) / (√π Γ((d-1)/2))`` = ω_{d-2}/ω_{d-1}; c_2 = 1/π, c_3 = 1/2, c_4 = 2/π.

    Computed from c_2 = 1/π, c_3 = 1/2 and ``c_{d+2} = c_d · d/(d - 1)``, the product taken in
    extended precision (relative error ~ d·u/2 with u ≈ 1e-19 on x86, then rounded once; a
    difference of ``gammaln`` values would lose ~1e-13 already at d = 50 and ~1e-11 at 10⁴).
    """
    d = check_int("d", d, minimum=2)
    m = np.arange(3 if d % 2 else 2, d, 2, dtype=np.longdouble)
    base = np.longdouble(0.5) if d % 2 else 1 / np.arccos(np.longdouble(-1))
    return float(base * np.prod(m / (m - 1)))


class DecayFit(NamedTuple):
    """A power-law fit ``λ_k ≈ C k^exponent`` (see :meth:`Spectrum.decay_fit`).

    Attributes:
      kmin, kmax: the requested degree range.
      exponent: the least-squares slope of log λ_k against log k.
      degrees: int64 array of the degrees that entered the fit (resolvable, nonzero).
    """

    kmin: int
    kmax: int
    exponent: float
    degrees: np.ndarray


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of a zonal kernel's integral operator, one per harmonic degree.

    Attributes:
      dim: ambient dimension d (points on S^{d-1}).
      degrees: int64 array ``0..kmax``.
      eigenvalues: float64 array λ_k (normalized measure; see module docstring).
      multiplicities: float64 array N(d, k) (exact integers below 2**53).
      trace: κ(1), the kernel's diagonal; ``Σ_k N λ_k → trace`` as kmax → ∞.
      error: float64 array, a bound on the absolute error of each λ_k (the two-rule
        difference plus the rounding floor for the quadrature, the truncation bound plus
        rounding for the series; docs/theory.md).
      kernel: what was decomposed (``"ntk"``, ``"nngp"`` or ``"custom"``).
      method: array of str, the route that produced each λ_k: ``"series"`` (nonnegative
        Taylor series), ``"quadrature"`` (θ rule) or ``"parts"`` (θ rule on a derivative
        of κ after integration by parts; ReLU MLP kernels); ``None`` for spectra saved
        before version 0.3 and for :func:`gram_spectrum`.
      stderr: float64 array or ``None``: a Monte-Carlo *standard error* of each λ_k (one
        standard deviation of the sampling error, estimated from the data; not a bound, so
        it never enters ``error``). Set by :func:`gram_spectrum`, ``None`` for the
        Funk–Hecke routes. :meth:`noise` flags the degrees it cannot tell from zero.
    """

    dim: int
    degrees: np.ndarray
    eigenvalues: np.ndarray
    multiplicities: np.ndarray
    trace: float
    error: np.ndarray
    kernel: str = "ntk"
    method: np.ndarray | None = None
    stderr: np.ndarray | None = None

    @property
    def kmax(self) -> int:
        return int(self.degrees[-1])

    def noise(self, z: float = 2.0) -> np.ndarray:
        """Boolean mask of degrees whose estimate is sampling noise: ``|λ_k| <= z · stderr_k``.

        For a Gram estimate (:func:`gram_spectrum`), a flagged λ_k (negative ones included)
        is indistinguishable from zero at about the 95 % level (z = 2); report it as noise, not
        as an eigenvalue. This is a statistical statement, unlike :meth:`zero_within_error`
        (certified ``error``), which says nothing about sampling error.

        Raises:
          ValueError: if the spectrum has no ``stderr`` (Funk–Hecke spectra have none).
        """
        z = check_positive("z", z)
        if self.stderr is None:
            raise ValueError(
                "Expected a spectrum with a Monte-Carlo stderr (from gram_spectrum); this one "
                "has none: use zero_within_error() for certified errors."
            )
        return np.abs(self.eigenvalues) <= z * self.stderr

    def zero_within_error(self) -> np.ndarray:
        """Boolean mask of degrees whose λ_k is zero within its certified error.

        ``|λ_k| <= error_k``: exact parity zeros (reported as 0, or as rounding noise below
        their error) and values too small to resolve. A tiny λ_k computed by the series route
        (e.g. 1e-200·λ_0 at d = 3072) has a far smaller error and is not declared zero.
        """
        return np.abs(self.eigenvalues) <= self._error_with_floor()

    def sum_rule_residual(self) -> float:
        """``κ(1) - Σ_{k<=kmax} N(d,k) λ_k``: the trace not captured up to kmax (the tail).

        Degrees that are zero within their error contribute nothing (in high d their
        multiplicities would blow rounding noise up to the size of the trace); the error of
        the result is at most :meth:`sum_rule_error`.
        """
        lam = np.where(self.zero_within_error(), 0.0, self.eigenvalues)
        return float(self.trace - np.sum(self.multiplicities * lam))

    def sum_rule_error(self) -> float:
        """Bound on the error of :meth:`sum_rule_residual`: ``Σ_k N(d,k) error_k`` + rounding."""
        terms = self.multiplicities * np.abs(self.eigenvalues)
        eps = np.finfo(np.float64).eps
        return float(
            np.sum(self.multiplicities * self._error_with_floor())
            + eps * (len(terms) + 2) * (np.sum(terms) + abs(self.trace))
        )

    def reconstruct(self, t) -> np.ndarray:
        """Mercer sum ``Σ_{k<=kmax} N(d,k) λ_k P_k(t)`` (float64, shape of ``t``)."""
        P = gegenbauer(self.kmax, self.dim, np.clip(np.asarray(t, dtype=np.float64), -1, 1))
        return np.tensordot(self.multiplicities * self.eigenvalues, P, axes=1)

    def decay_fit(
        self, kmin: int | None = None, kmax: int | None = None, *, parity: str | None = None
    ) -> DecayFit:
        """Least-squares power law ``λ_k ≈ C k^p`` over the resolvable degrees in a range.

        NTKs decay like k^{-d}, NNGPs like k^{-d-2} (Bietti & Mairal 2019; docs/theory.md).
        A degree enters the fit only if ``λ_k > 0`` and λ_k exceeds a hundred times its
        certified error (which includes the rounding floor), so the exact zeros of a parity
        class (odd k >= 3 of a bias-free two-layer ReLU kernel, even k of an odd activation)
        and unresolved values are left out. The fit stops at the first degree that is neither
        resolvable nor zero within its error: beyond it, selecting the values that happen to
        clear the threshold would bias the slope towards the noise (flatter). ``parity=
        "even"``/``"odd"`` keeps those degrees only.

        Args:
          kmin: lowest degree (>= 1); default the upper half of ``1..kmax``.
          kmax: highest degree (default ``self.kmax``).
          parity: ``None``, ``"even"`` or ``"odd"``.

        Returns:
          A :class:`DecayFit` with the requested range, the exponent p and the degrees used.

        Raises:
          ValueError: if fewer than 2 degrees in ``[kmin, kmax]`` are usable.

        >>> from ntkspec.kernels import mlp_kernel
        >>> fit = spectrum(mlp_kernel(1), 3, 64).decay_fit(16, 64)
        >>> round(fit.exponent), bool(np.all(fit.degrees % 2 == 0))
        (-3, True)
        """
        kmax = self.kmax if kmax is None else kmax
        kmax = check_int("kmax", kmax, minimum=1, maximum=self.kmax)
        kmin = max(1, (kmax + 1) // 2) if kmin is None else kmin
        kmin = check_int("kmin", kmin, minimum=1)
        kmax = check_int("kmax", kmax, minimum=kmin + 1, maximum=self.kmax)
        if parity is not None:
            check_choice("parity", parity, ("even", "odd"))
        k = self.degrees[kmin : kmax + 1]
        keep = self.resolvable()[kmin : kmax + 1]
        if parity is not None:
            keep &= (k % 2 == 0) if parity == "even" else (k % 2 == 1)
        # Truncate at the first unresolved degree of the kept parities (zeros are skipped).
        wanted = np.ones_like(keep) if parity is None else (k % 2 == (parity == "odd"))
        unresolved = wanted & ~keep & ~self.zero_within_error()[kmin : kmax + 1]
        if unresolved.any():
            keep &= k < k[np.argmax(unresolved)]
        if keep.sum() < 2:
            raise ValueError(
                f"Expected at least 2 resolvable positive eigenvalues for k in [{kmin}, {kmax}]"
                f"{'' if parity is None else ' with ' + parity + ' parity'}; got {int(keep.sum())}."
            )
        lam = self.eigenvalues[kmin : kmax + 1]
        slope, _ = np.polyfit(np.log(k[keep]), np.log(lam[keep]), 1)
        return DecayFit(kmin, kmax, float(slope), k[keep].copy())

    def resolvable(self) -> np.ndarray:
        """Boolean mask of degrees with ``λ_k > 0`` and λ_k above 100 × its certified error.

        These are the degrees :meth:`decay_fit` may use; exact parity zeros never are.
        """
        lam = self.eigenvalues
        return (lam > 0) & (lam > 100.0 * self._error_with_floor())

    def _error_with_floor(self) -> np.ndarray:
        """The error; for files without a ``method`` (older versions, whose error did not
        include rounding) at least ``16 ε max_k |λ_k|``."""
        if self.method is not None:
            return self.error
        floor = 16.0 * np.finfo(np.float64).eps * float(np.max(np.abs(self.eigenvalues)))
        return np.maximum(self.error, floor)

    def decay_exponent(
        self, kmin: int | None = None, kmax: int | None = None, *, parity: str | None = None
    ) -> float:
        """The exponent p of :meth:`decay_fit` (same arguments, same degrees)."""
        return self.decay_fit(kmin, kmax, parity=parity).exponent

    def to_dict(self) -> dict:
        """JSON-ready dict; floats keep full precision, multiplicities are exact integers."""
        return {
            "dim": self.dim,
            "kernel": self.kernel,
            "degrees": [int(k) for k in self.degrees],
            "eigenvalues": [float(x) for x in self.eigenvalues],
            "multiplicities": [multiplicity(self.dim, int(k)) for k in self.degrees],
            "trace": float(self.trace),
            "error": [float(x) for x in self.error],
            **({} if self.method is None else {"method": [str(m) for m in self.method]}),
            **({} if self.stderr is None else {"stderr": [float(x) for x in self.stderr]}),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically as ``.json`` (default) or ``.npz`` (by the suffix)."""
        path = Path(path)
        if path.suffix == ".npz":
            return atomic_savez(
                path,
                dim=self.dim,
                degrees=self.degrees,
                eigenvalues=self.eigenvalues,
                multiplicities=self.multiplicities,
                trace=self.trace,
                error=self.error,
                kernel=self.kernel,
                **({} if self.method is None else {"method": self.method.astype(str)}),
                **({} if self.stderr is None else {"stderr": self.stderr}),
            )
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Spectrum:
        """Read a file written by :meth:`save` (``ValueError`` if it is not one)."""
        path = Path(path)
        d = load_fields(path)
        try:
            dim = int(d["dim"])
            degrees = np.asarray(d["degrees"], dtype=np.int64)
            return cls(
                dim=dim,
                degrees=degrees,
                eigenvalues=np.asarray(d["eigenvalues"], dtype=np.float64),
                multiplicities=multiplicity(dim, degrees),
                trace=float(d["trace"]),
                error=np.asarray(d["error"], dtype=np.float64),
                kernel=str(d["kernel"]),
                method=_load_method(d, degrees.shape),
                stderr=_load_stderr(d, degrees.shape),
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"Cannot load a Spectrum from {path}: {e}") from None


def _load_method(d: dict, shape: tuple) -> np.ndarray | None:
    if "method" not in d:
        return None
    method = np.asarray(d["method"]).astype(str)
    if method.shape != shape or not np.isin(method, METHODS).all():
        raise ValueError(
            f"expected 'method' to hold one of {'/'.join(METHODS)} per degree (shape {shape})"
        )
    return method


def _load_stderr(d: dict, shape: tuple) -> np.ndarray | None:
    if "stderr" not in d:
        return None
    stderr = np.asarray(d["stderr"], dtype=np.float64)
    if stderr.shape != shape or not (np.isfinite(stderr).all() and (stderr >= 0).all()):
        raise ValueError(f"expected 'stderr' to hold one finite value >= 0 per degree ({shape})")
    return stderr


class _Fields(dict):
    """The entries of a saved result; a missing one raises a ``ValueError`` naming the file."""

    def __init__(self, path: Path, entries: dict):
        super().__init__(entries)
        self.path = path

    def __missing__(self, key):
        raise ValueError(
            f"Expected a file written by save() with a {key!r} entry; {self.path} has none."
        )


def load_fields(path: Path) -> dict:
    """The entries of a ``.npz`` (arrays) or ``.json`` file written by a result's ``save``.

    ``OSError`` if it cannot be read; ``ValueError`` if it is not such a file.
    """
    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                entries = {k: z[k] for k in z.files}
        else:
            entries = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"Expected a .json or .npz file written by save(); cannot parse {path}: {e}"
        ) from None
    if not isinstance(entries, dict):
        raise ValueError(
            f"Expected a JSON object in {path} (a file written by save()); got "
            f"{type(entries).__name__}."
        )
    return _Fields(path, entries)


# 32-point Gauss–Legendre rule on [0, 1], lower half (the rule is symmetric about 1/2):
# positions u_i = (1 + s_i)/2 and weights w_i/2, correctly rounded from a 50-digit mpmath
# computation (tests/test_spectrum.py re-derives them with mpmath).
_U = (
    0.0013680690752592183,
    0.007194244227365833,
    0.017618872206246784,
    0.03254696203113015,
    0.05183942211697394,
    0.07531619313371501,
    0.1027581020160288,
    0.13390894062985517,
    0.1684778665348924,
    0.20614212137961885,
    0.2465500455338853,
    0.2893243619346823,
    0.33406569885893617,
    0.38035631887393145,
    0.42776401920860174,
    0.4758461671561308,
)
_W = (
    0.003509305004735048,
    0.008137197365452835,
    0.01269603265463103,
    0.017136931456510716,
    0.02141794901111334,
    0.025499029631188087,
    0.029342046739267772,
    0.032911111388180925,
    0.03617289705442425,
    0.039096947893535156,
    0.041655962113473374,
    0.043826046502201906,
    0.045586939347881945,
    0.04692219954040228,
    0.04781936003963743,
    0.0482700442573639,
)
_PANEL_NODES = 2 * len(_U)


@functools.lru_cache(maxsize=32)
def _theta_rule(panels: int) -> tuple[np.ndarray, ...]:
    """Half of a composite Gauss–Legendre rule on θ ∈ [0, π] (memoized; pure).

    ``panels`` equal panels of 32 nodes each; the rule is symmetric under θ ↔ π - θ, so only
    the nodes with θ < π/2 are returned: θ, weights, ``1 - cos θ = 2 sin²(θ/2)``,
    ``1 + cos θ = 2 cos²(θ/2)`` and ``sin θ`` (the last in extended precision, for
    ``sin^{d-2}θ``). The mirrored node π - θ is *represented* by the same numbers (1 ∓ t
    swapped, t negated) and never rounded, so the rule stays exactly symmetric and the
    endpoint θ = π is hit exactly. The node values are computed in extended precision from
    θ = π·s (not fl(π)·s, which would shrink the lower half by 4e-17 relative and leave an
    uncovered sliver at θ = π/2, where high-d integrands peak) and rounded once. Composite
    rules keep every node and weight exact to a few ulps for any size (scipy's
    ``roots_legendre`` loses ~1e-13 in its weights beyond n ≈ 150; numpy's ``leggauss`` is
    O(n³)) and resolve P_k(cos θ) with ~4 nodes per wavelength.
    """
    ld = np.longdouble
    u = np.concatenate([np.asarray(_U, ld), 1 - np.asarray(_U[::-1], ld)])
    w = np.concatenate([np.asarray(_W), np.asarray(_W[::-1])])
    s = (np.arange(panels, dtype=ld)[:, None] + u[None, :]).ravel() / ld(panels)
    weights = np.tile(w, panels) * (np.pi / panels)
    lower = s < 0.5
    # π in extended precision from two doubles (π = _PI_HI + _PI_LO to ~1e-32).
    theta = (ld(_PI_HI) + ld(_PI_LO)) * s[lower]
    half = theta / 2
    a, b = 2 * np.sin(half) ** 2, 2 * np.cos(half) ** 2
    f64 = np.float64
    return (
        theta.astype(f64),
        weights[lower],
        a.astype(f64),
        b.astype(f64),
        np.sin(theta),
        np.cos(theta).astype(f64),
    )


_BLOCK = 64  # degrees per matrix product in _funk_hecke
_PI_HI = np.pi
_PI_LO = 1.2246467991473532e-16  # π - fl(π)


@functools.partial(jax.jit, static_argnums=(0,))
def _kernel_pair(kernel: ZonalKernel, t, a, b):
    return kernel.evaluate(t, a, b)


def _zonal_values(kappa, which: str, t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """κ(t) in float64; zonal kernels (with ``evaluate``) also get ``a = 1 - t``, ``b = 1 + t``."""
    with _compat.enable_x64():
        if _is_zonal(kappa):
            nngp, ntk = _kernel_pair(kappa, jnp.asarray(t), jnp.asarray(a), jnp.asarray(b))
            vals = np.asarray(ntk if which == "ntk" else nngp, dtype=np.float64)
        else:
            try:
                vals = kappa(t)
            except (ValueError, TypeError):
                raise
            except Exception as e:
                raise TypeError(
                    "Expected the kernel callable κ(t) to accept a float64 array t of shape "
                    f"(n,) with values in [-1, 1]; calling it failed with {type(e).__name__}: {e}"
                ) from None
            vals = as_real_array("the kernel callable's values", vals)
    if vals.shape != t.shape:
        raise ValueError(
            "Expected the kernel callable to map t of shape (n,) to values of shape (n,); "
            f"got shape {vals.shape}."
        )
    if not np.isfinite(vals).all():
        raise ValueError("Expected finite kernel values on [-1, 1]; got NaN or inf.")
    return vals


def _funk_hecke(values: Callable, panels: int, d: int, kmax: int):
    """λ_0..λ_kmax with one composite θ rule, and ``Σ_i |term_i|`` for each degree.

    With the symmetric rule and ``P_k(-t) = (-1)^k P_k(t)``,
    ``λ_k = c_d Σ_{θ_i < π/2} w_i sin^{d-2}θ_i [κ(t_i) + (-1)^k κ(-t_i)] P_k(t_i)``, so P_k is
    needed on [0, 1] only, where Reinsch's form of the recurrence,
    ``D_{k+1} = β_k D_k - α_k (1 - t) P_k``, ``P_{k+1} = P_k + D_{k+1}``
    (α_k = (2k+d-2)/(k+d-2), β_k = k/(k+d-2)), keeps full accuracy next to t = 1.
    ``values(t, 1 - t, 1 + t)`` gives the integrand's kernel factor at the nodes (float64).
    """
    theta, w, a, b, sin_ext, t = _theta_rule(panels)
    plus = values(t, a, b)
    minus = values(-t, b, a)
    weight = w * funk_hecke_constant(d) * (sin_ext ** (d - 2)).astype(np.float64)
    f = np.stack([weight * (plus + minus), weight * (plus - minus)])  # even, odd parts
    fabs = weight * (np.abs(plus) + np.abs(minus))
    lam = np.empty(kmax + 1)
    mass = np.empty(kmax + 1)
    block = np.empty((min(_BLOCK, kmax + 1), t.shape[0]))
    p, dp = np.ones_like(t), np.zeros_like(t)
    for k in range(kmax + 1):
        block[k % _BLOCK] = p
        if k % _BLOCK == _BLOCK - 1 or k == kmax:  # one product per block of degrees
            lo = k - k % _BLOCK
            rows = block[: k - lo + 1]
            both = f @ rows.T  # (2, rows): even and odd parts against P_lo..P_k
            lam[lo : k + 1] = np.where(np.arange(lo, k + 1) % 2 == 0, both[0], both[1])
            mass[lo : k + 1] = np.abs(rows) @ fabs
        # k = 0: P_1 = t for every d (the general formula is 0/0 at d = 2).
        alpha, beta = ((2 * k + d - 2) / (k + d - 2), k / (k + d - 2)) if k else (1.0, 0.0)
        dp = beta * dp - alpha * a * p
        p = p + dp
    return lam, mass


def quadrature_floor(mass: np.ndarray, dim: int) -> np.ndarray:
    """Rounding bound of the θ rule: ``ε (16 + √d + k/16) Σ_i |term_i|`` per degree k.

    ``mass[k] = c_d Σ_i w_i sin^{d-2}θ_i (|κ(t_i)| + |κ(-t_i)|) |P_k(t_i)|``. The terms carry
    relative errors from the weight and ``sin^{d-2}θ`` (rounded once from extended
    precision), from κ (a few ulps per layer for the closed forms), from the recurrence for
    P_k (absolute error growing ~ linearly in k relative to its envelope) and from the
    summation; the nodes are correctly rounded per panel but their template error repeats in
    every panel, which for an integrand peaked at θ = π/2 with width ~1/√d gives the √d
    term. On the 168-case mpmath reference (d <= 100, depth <= 6, k <= 100) the observed
    error beyond the two-rule difference is at most 3.3 ε·mass (docs/theory.md).
    """
    k = np.arange(mass.shape[0])
    return np.finfo(np.float64).eps * (16.0 + np.sqrt(dim) + k / 16.0) * mass


def spectrum(
    kernel: ZonalKernel | Callable,
    dim: int,
    kmax: int,
    which: str = "ntk",
    *,
    tol: float = 1e-14,
    panels: int | None = None,
    method: str = "auto",
) -> Spectrum:
    """Funk–Hecke eigenvalues λ_0..λ_kmax of a zonal kernel on S^{dim-1}, with error bounds.

    Args:
      kernel: a zonal kernel object (the :class:`~ntkspec.kernels.ZonalKernel` protocol:
        ``mlp_kernel``, ``resnet_kernel``, ``fourier_kernel``, …) or any callable ``κ(t)``
        mapping a float64 array of t ∈ [-1, 1] to an array of the same shape.
      dim: ambient dimension, 2 <= d <= 100000.
      kmax: highest degree (0 <= kmax <= 100000); the cost grows like kmax² (~1 s at 10⁴).
      which: ``"ntk"`` or ``"nngp"`` (ignored for a plain callable).
      tol: target for the θ rule's two-rule difference, relative to ``max_k |λ_k|``. A
        warning is raised when it cannot be met.
      panels: force this many 32-node quadrature panels on [0, π] (skips the adaptive
        choice, which starts from ``(kmax + dim)//8 + 6`` and doubles until ``tol`` is met).
      method: ``"auto"`` (default: per degree, the route with the smaller certified error;
        for a ReLU MLP kernel also integration by parts, ``"parts"``, where the others miss
        1e-11 relative and ``panels`` is not given), ``"quadrature"`` (the θ rule only) or
        ``"series"`` (the nonnegative Taylor series only; a kernel whose
        ``supports_series()`` is true, e.g. an MLP with activation relu, erf, identity or a
        sine).

    Returns:
      A :class:`Spectrum` (float64, normalized measure, multiplicities N(d, k)); its
      ``method`` says which route produced each λ_k and ``error`` bounds each error. For a
      kernel evaluated by Gauss–Hermite quadrature the error also contains its
      discretization, ``kernel.quadrature_error · κ(1)``.

    Two-layer ReLU NTK on S^2 (docs/theory.md §2): λ_0 = 1/2, λ_1 = 1/3, λ_2 = 5/64, λ_3 = 0:

    >>> from ntkspec.kernels import mlp_kernel
    >>> s = spectrum(mlp_kernel(1), dim=3, kmax=3)
    >>> np.allclose(s.eigenvalues, [1 / 2, 1 / 3, 5 / 64, 0], rtol=0, atol=1e-15)
    True
    """
    dim = check_int("dim", dim, minimum=2, maximum=MAX_DIM)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    check_choice("which", which, ("ntk", "nngp"))
    tol = check_positive("tol", tol)
    check_choice("method", method, ("auto", "quadrature", "series"))
    zonal = _check_kernel(kernel, method)
    if zonal:
        getattr(kernel, "check_dim", lambda dim: None)(dim)
    if panels is not None:
        panels = check_int("panels", panels, minimum=2, maximum=MAX_PANELS)
    values = functools.partial(_zonal_values, kernel, which)
    trace = kernel.kappa_one(which) if zonal else float(values(*np.array([[1.0], [0.0], [2.0]]))[0])
    if method == "series":
        lam, err = _series_route(kernel, which, dim, kmax, None)
        routes = np.full(kmax + 1, "series")
    else:
        lam, err, routes = _quadrature_routes(
            kernel, which, dim, kmax, tol, panels, values, method == "auto"
        )
    # Gauss–Hermite kernels: |κ_GH − κ| <= quadrature_error·κ(1) moves each λ_k by at most that.
    err = err + getattr(kernel, "quadrature_error", 0.0) * abs(trace)
    degrees = np.arange(kmax + 1, dtype=np.int64)
    return Spectrum(
        dim=dim,
        degrees=degrees,
        eigenvalues=lam,
        multiplicities=multiplicity(dim, degrees),
        trace=trace,
        error=err,
        kernel=which if zonal else "custom",
        method=routes,
    )


def _quadrature_routes(kernel, which, dim, kmax, tol, panels, values, auto: bool):
    """The θ rule; with ``auto`` also the series and integration by parts where they apply."""
    parts = auto and panels is None and kernel_derivatives.applies(kernel)
    lam, err = _quadrature(values, dim, _plain_degrees(parts, dim, kmax), tol, panels, kmax)
    routes = np.full(kmax + 1, "quadrature")
    if auto and _series_applies(kernel, dim) and not (parts and dim < _PARTS_ONLY_DIM):
        lam_s, err_s = _series_route(kernel, which, dim, kmax, err)
        lam, err, routes = _better(lam, err, routes, lam_s, err_s, "series")
    if parts:
        lam, err, routes = _parts_route(kernel, which, dim, tol, lam, err, routes)
    return lam, err, routes


def _check_kernel(kernel, method: str) -> bool:
    """Whether ``kernel`` is a zonal kernel object (else a callable κ); raises for neither and
    for ``method="series"`` on a kernel without a series."""
    zonal = _is_zonal(kernel)
    if not zonal and not callable(kernel):
        raise TypeError(
            f"Expected a Kernel (see mlp_kernel) or a callable κ(t); got {type(kernel).__name__}."
        )
    if method == "series" and not _series_applies(kernel, None):
        raise ValueError(
            "Expected a kernel with a nonnegative Taylor series for method='series' (an MLP "
            f"kernel with activation in {list(taylor.SERIES_ACTIVATIONS)}, a ReLU residual MLP, "
            f"Fourier features, …); got {getattr(kernel, 'activation', type(kernel).__name__)!r}."
        )
    return zonal


#: Below this dimension the parts route beats the plain θ rule at every degree k >= 4 of a
#: ReLU MLP kernel (checked up to k = 1000 on d = 2 … 9), so the θ rule stops at _PLAIN_KMAX
#: and the (slowly converging, costly at depth) Taylor series is not tried.
_PARTS_ONLY_DIM = 10
_PLAIN_KMAX = 32


def _plain_degrees(parts: bool, dim: int, kmax: int) -> int:
    """Highest degree the plain θ rule computes (all, unless the parts route takes over)."""
    return min(kmax, _PLAIN_KMAX) if parts and dim < _PARTS_ONLY_DIM else kmax


def _extend(x: np.ndarray, kmax: int, fill: float = 0.0) -> np.ndarray:
    """``x`` padded with ``fill`` to degrees 0..kmax."""
    return np.concatenate([x, np.full(kmax + 1 - x.shape[0], fill)])


def _better(lam, err, routes, lam_new, err_new, label: str):
    """Per degree, the route with the smaller certified error."""
    use = err_new < err
    return np.where(use, lam_new, lam), np.where(use, err_new, err), np.where(use, label, routes)


#: Relative error the integration-by-parts route aims at (below the 1e-10 promised).
_PARTS_TARGET = 1e-11
#: Numbers of derivatives m tried by the integration-by-parts route, in order.
_PARTS_ORDERS = (4, 8, 16)


def _parts_route(kernel, which: str, dim: int, tol: float, lam, err, routes):
    """Integration by parts for ReLU MLP kernels where the other routes miss 1e-11 relative.

    ``λ_k^{(d)}[κ] = λ_{k-m}^{(d+2m)}[κ^{(m)}] / Π_{j<m}(d + 2j)`` (docs/theory.md §6.1): the θ
    rule applied to the m-th derivative in dimension d + 2m, with its own two-rule difference
    and rounding floor, scaled by the same constant. Only degrees k >= m that still miss the
    target are recomputed (up to the highest such degree), and a value replaces the old one only
    where its certified error is smaller (exact parity zeros are computed once, with m = 4).
    """
    k = np.arange(lam.shape[0])
    # Bias-free two-layer ReLU: odd k >= 3 vanish exactly (docs/theory.md §2); no relative
    # target to chase there.
    plain = kernel.depth == 1 and kernel.bias_var == 0 and kernel.trained_bias == 0
    zero = plain & (k % 2 == 1) & (k >= 3)
    for m in _PARTS_ORDERS:
        short = (err > _PARTS_TARGET * np.abs(lam)) & (k >= m) & ~(zero & (m > 4))
        if not short.any():
            break
        top = int(k[short].max())
        values = functools.partial(kernel_derivatives.relu_derivative, kernel, which, m)
        lam_m, err_m = _quadrature(values, dim + 2 * m, top - m, tol, None, warn=False)
        scale = 1.0 / np.prod(dim + 2.0 * np.arange(m))
        new_lam, new_err = np.zeros_like(lam), np.full_like(err, np.inf)
        new_lam[m : top + 1] = lam_m * scale
        # the scaling rounds: a few ulps of the value on top of the rule's bound
        new_err[m : top + 1] = err_m * scale * (1 + 1e-15) + 4e-16 * np.abs(lam_m * scale)
        lam, err, routes = _better(lam, err, routes, new_lam, new_err, "parts")
    return lam, err, routes


def _quadrature(
    values: Callable,
    dim: int,
    kmax: int,
    tol: float,
    panels: int | None,
    pad_to: int | None = None,
    warn: bool = True,
):
    """The θ route: (λ, error bound), error = two-rule difference + rounding floor.

    ``values(t, 1 - t, 1 + t)`` is the kernel factor of the integrand (float64 arrays); with
    ``pad_to``, degrees kmax+1..pad_to are returned as λ = 0 with error ∞ (not computed).
    """
    n = panels if panels is not None else (kmax + dim) // 8 + 6
    while True:
        (lam, mass), (coarse, _) = (_funk_hecke(values, m, dim, kmax) for m in (n, (2 * n) // 3))
        diff = np.abs(lam - coarse)
        scale = np.max(np.abs(lam))
        if panels is not None or diff.max() <= tol * scale or n >= MAX_PANELS:
            break
        n = min(2 * n, MAX_PANELS)
    if warn and diff.max() > tol * scale:
        warnings.warn(
            f"spectrum: quadrature error estimate {diff.max():.3g} exceeds tol·max|λ| = "
            f"{tol * scale:.3g} with {n * _PANEL_NODES} nodes; the kernel may be non-smooth "
            "in θ. Pass panels= larger or a looser tol.",
            RuntimeWarning,
            stacklevel=4,
        )
    err = diff + quadrature_floor(mass, dim)
    if pad_to is not None:
        lam, err = _extend(lam, pad_to), _extend(err, pad_to, np.inf)
    return lam, err


#: Orders of the Taylor series tried by the series route (the second only where needed).
_SERIES_ORDERS = (1024, 4096)


def _is_zonal(kernel) -> bool:
    """The kernel protocol (:class:`~ntkspec.kernels.ZonalKernel`): an ``evaluate`` method."""
    return callable(getattr(kernel, "evaluate", None))


def _series_applies(kernel, dim: int | None) -> bool:
    """The series route: the kernel says it has a usable nonnegative series on S^{dim-1}."""
    supports = getattr(kernel, "supports_series", None)
    return _is_zonal(kernel) and callable(supports) and bool(supports(dim))


def _series_route(kernel: ZonalKernel, which: str, dim: int, kmax: int, err_q):
    """The series route: (λ, error bound), raising the order where the tail dominates.

    A longer series is tried only for degrees whose best certified error (against the
    quadrature's ``err_q``, if given) still misses 1e-12 relative.
    """
    for order in _SERIES_ORDERS:
        series = kernel.taylor(which, order)
        lam, err = taylor.series_eigenvalues(series, dim, kmax)
        best = err if err_q is None else np.minimum(err, err_q)
        short = best > 1e-12 * np.abs(lam)
        if not np.any(short & (err > 4 * lam * series.rel_error)):
            break
    return lam, err


def _check_square(K, n: int) -> np.ndarray:
    A = as_real_array("the Gram matrix K", K)
    if A.shape != (n, n):
        raise ValueError(
            f"Expected a finite Gram matrix K of shape ({n}, {n}) matching X; got {A.shape}."
        )
    if not np.isfinite(A).all():
        raise ValueError("Expected a finite Gram matrix K; got NaN or inf.")
    return A


def gram_spectrum(K, X, kmax: int, *, weights=None) -> Spectrum:
    """Per-degree eigenvalue estimates from a Gram matrix on sample points, with standard errors.

    By the addition theorem, ``λ_k = ∫∫ κ(<x,y>) P_k(<x,y>) dσ(x) dσ(y)`` for a zonal kernel, so

        λ̂_k = Σ_{i≠j} c_i c_j h_ij / N,   h_ij = K_ij P_k(<x_i, x_j>),   N = Σ_{i≠j} c_i c_j

    with quadrature weights c (default 1/n: uniform samples; the diagonal is left out so the
    estimate is unbiased — the diagonal alone would add ~κ(1)/n to every degree). For uniform
    samples it converges to the Funk–Hecke λ_k at the Monte-Carlo rate; for any Gram (e.g. an
    empirical NTK) it is the degree-k average of the kernel.

    ``stderr`` is the Monte-Carlo standard error of λ̂_k over the draw of the points (i.i.d.,
    weights and K as a fixed function of the points), from Hoeffding's decomposition of this
    U-statistic: with ``a_ij = h_ij - λ̂_k`` (``a_ii = 0``),

        N² Var λ̂_k ≈ 2 Σ_{i≠j} c_i² c_j² a_ij²
                     + 4 max(0, Σ_m c_m² ((Σ_j c_j a_mj)² - Σ_j c_j² a_mj²)),

    the pair term (ζ₂) and the shared-point term (ζ₁ >= 0, hence the clip). Both sums are
    unbiased before the clip, so the estimate is conservative. For a zonal kernel on uniform
    points ζ₁ = 0 exactly (the U-statistic is degenerate, error ~ 1/n, not 1/√n) and the
    clipped noise of the ζ₁ sum then overstates the variance, by ~1.5x on S^2 at n = 300
    (the delete-one jackknife would overstate it 2x); for a non-zonal Gram (a finite-width
    empirical NTK) ζ₁ > 0 and is needed.
    It is an estimate (one standard deviation), not a bound: ``error`` stays 0 and
    :meth:`Spectrum.noise` flags the degrees within 2 standard errors of zero — parity zeros
    and negative values of that size are noise, not eigenvalues (docs/theory.md).

    Args:
      K: Gram matrix ``(n, n)``.
      X: points ``(n, d)`` on the unit sphere.
      kmax: highest degree.
      weights: optional quadrature weights ``(n,)`` (Σ c_i g(x_i) ≈ ∫ g dσ).

    Returns:
      A :class:`Spectrum` with ``kernel="gram"``, ``trace = Σ c_i K_ii / Σ c_i``, ``error`` all
      0 (no bound is claimed) and ``stderr`` as above. Cost O(n² kmax).

    >>> from ntkspec import mlp_kernel, sample_sphere
    >>> X = sample_sphere(jax.random.key(0), 400, 3)
    >>> est = gram_spectrum(mlp_kernel(1).gram(X), X, 5)
    >>> [int(k) for k in est.degrees[est.noise()]]  # odd k >= 3 vanish for this kernel
    [3, 5]
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_DEGREE)
    n, d = Xn.shape
    if n < 2:
        raise ValueError(f"Expected at least 2 points; got {n}.")
    A = _check_square(K, n)
    c = check_weights(weights, n)
    C = c[:, None] * c[None, :]
    np.fill_diagonal(C, 0.0)
    norm = c.sum() ** 2 - np.sum(c * c)
    G = np.clip(Xn @ Xn.T, -1.0, 1.0)
    lam = np.empty(kmax + 1)
    stderr = np.empty(kmax + 1)
    for k, p in gegenbauer_matrices(G, d, kmax):
        H = A * p
        lam[k] = np.sum(C * H) / norm
        stderr[k] = _ustat_stderr(H - lam[k], c, C) / norm
    degrees = np.arange(kmax + 1, dtype=np.int64)
    return Spectrum(
        dim=d,
        degrees=degrees,
        eigenvalues=lam,
        multiplicities=multiplicity(d, degrees),
        trace=float(np.sum(c * np.diag(A)) / c.sum()),
        error=np.zeros(kmax + 1),
        kernel="gram",
        stderr=stderr,
    )


def _ustat_stderr(a: np.ndarray, c: np.ndarray, C: np.ndarray) -> float:
    """``N · stderr`` of a weighted U-statistic with centred pair values ``a`` (see above)."""
    B = C * a  # c_i c_j a_ij, zero diagonal
    pair = np.sum(B * B)  # Σ_{i≠j} c_i² c_j² a_ij²
    rows = B.sum(axis=1)  # c_m Σ_j c_j a_mj
    shared = np.sum(rows * rows) - pair  # Σ_m c_m² ((Σ_j c_j a_mj)² - Σ_j c_j² a_mj²)
    return float(np.sqrt(2.0 * pair + 4.0 * max(shared, 0.0)))


class EigDegrees(NamedTuple):
    """Eigenpairs of a sample Gram operator and the degree content of each eigenvector.

    Attributes:
      eigenvalues: float64 ``(n,)`` eigenvalues of ``K/n`` (or ``C^{1/2} K C^{1/2}``), descending.
      eigenvectors: float64 ``(n, n)``, column i belongs to ``eigenvalues[i]``.
      fractions: float64 ``(n, kmax + 1)``: the fraction of eigenvector i's energy in degree k
        (rows sum to ≤ 1; the rest lies above kmax or is sampling leakage).
      degree: int64 ``(n,)``, the dominant degree of each eigenvector.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    fractions: np.ndarray
    degree: np.ndarray


def eig_degrees(K, X, kmax: int, *, weights=None) -> EigDegrees:
    """Full eigendecomposition of the Gram operator with each eigenvector's degree content.

    The operator is ``K/n`` for uniform samples, or the symmetric ``C^{1/2} K C^{1/2}`` for
    quadrature weights ``c`` (similar to ``K C``). Each eigenvector (as a function on the
    sample, ``C^{-1/2} v``) is split into degrees with :func:`ntkspec.sphere.degree_energy`.
    Cost O(n³) plus O(kmax · n³) for the projections: meant for n up to a few thousand.
    """
    Xn = check_points(X)
    kmax = check_int("kmax", kmax, minimum=0, maximum=MAX_EIG_DEGREE)
    n = Xn.shape[0]
    A = _check_square(K, n)
    c = check_weights(weights, n)
    root = np.sqrt(c)
    mu, V = np.linalg.eigh(root[:, None] * (0.5 * (A + A.T)) * root[None, :])
    mu, V = mu[::-1], V[:, ::-1]
    F = V / np.where(root > 0, root, 1.0)[:, None]
    E = degree_energy(Xn, F, kmax, weights=None if weights is None else c)
    total = np.sum(c[:, None] * F * F, axis=0)
    fractions = E / np.where(total > 0, total, 1.0)[:, None]
    return EigDegrees(mu, V, fractions, np.argmax(fractions, axis=1).astype(np.int64))
