"""The one home of ntkspec's input limits, and its precision policy.

Every bound that a public function, CLI flag or config key checks an input against is a named
constant here; the ``#:`` comment above each in the source gives the reason for its value
(memory, time, the range of a float, the bits of a seed). The bounds turn hangs, memory errors and
overflows on absurd inputs into a clear ``ValueError`` that names the argument and the limit
("Expected dim <= 100000; got 100001."); none is a statement about accuracy. Two families:
the analytic side (kernels, spectra, learning-curve theory: cheap per dimension and degree)
and the training side (networks trained on sampled data: :mod:`ntkspec.experiments`,
``ntkspec ntk``), where every input costs memory and the bounds are tighter
(``MAX_TRAIN_DIM`` < ``MAX_DIM``, ``MAX_TRAIN_DEPTH`` < ``MAX_DEPTH``, …).

Precision policy (docs/theory.md §5.6). Spectra, energies and predictions are float64 whatever
JAX's global x64 flag is. ntkspec never flips that flag: each callee that needs float64 JAX
scopes it itself with ``ntkspec._compat.enable_x64()`` (a no-op when x64 is already on), and
NumPy code is float64 anyway. Training may run in float32 (the dtype of the parameters); the
residual energies it records are float64.
"""

from __future__ import annotations

__all__ = [
    "MAX_AMPLITUDE",
    "MAX_AUTO_KMAX",
    "MAX_DEGREE",
    "MAX_DENSE_POINTS",
    "MAX_DEPTH",
    "MAX_DIM",
    "MAX_EIG_DEGREE",
    "MAX_FEATURES",
    "MAX_GRID_DEGREE",
    "MAX_GRID_POINTS",
    "MAX_HARMONIC_TERMS",
    "MAX_KRR_DEGREE",
    "MAX_LIST_ENTRY",
    "MAX_MULTIPLICITY_DIGITS",
    "MAX_NTK_DEGREE",
    "MAX_PANELS",
    "MAX_POINTS",
    "MAX_QUAD_ORDER",
    "MAX_RECORDS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_SERIES_ORDER",
    "MAX_STEPS",
    "MAX_TEST",
    "MAX_TRAIN",
    "MAX_TRAIN_DEPTH",
    "MAX_TRAIN_DIM",
    "MAX_TRAIN_FEATURES",
    "MAX_TRIALS",
    "MAX_WEIGHT_DEGREE",
    "MAX_WIDTH",
]

# ----------------------------------------------------------------------------- sphere, spectra
#: Ambient dimension d of spectra and learning-curve theory (spectrum, krr, curve_report):
#: refuses absurd d before its arrays and loops turn into a hang or a memory error.
MAX_DIM = 100_000
#: Highest degree k of spectra, harmonics, projections, losses and predictions: the work and
#: memory grow like kmax per point (and like kmax² for a spectrum).
MAX_DEGREE = 100_000
#: ``sphere.multiplicity`` builds N(d, k) as an exact integer only up to this many decimal
#: digits: the big-integer arithmetic beyond takes seconds to minutes (``log=True`` has no cap).
MAX_MULTIPLICITY_DIGITS = 100_000
#: ``sphere.random_harmonic`` terms: it builds a terms × terms Gram of zonal terms.
MAX_HARMONIC_TERMS = 4096
#: Panels of the θ quadrature of ``spectrum`` (given, or reached by adaptive doubling): 32 nodes
#: each, so at most 2¹⁸ nodes, every degree of the Gegenbauer recurrence running over all.
MAX_PANELS = 1 << 13
#: ``spectrum.eig_degrees`` kmax: each degree projects all n eigenvectors, O(kmax · n³) work.
MAX_EIG_DEGREE = 10_000
#: ``curve_report`` grows the spectrum up to this degree at most (cost ~ kmax², ~1 s at 10⁴).
MAX_AUTO_KMAX = 20_000

# ----------------------------------------------------------------------------- kernels
#: Deepest infinite-width kernel or network (kernels, architectures, models, arch_models): the
#: layer recursion is unrolled when traced, so compile time and memory grow with depth.
MAX_DEPTH = 100
#: Largest Gauss–Hermite order of ``mlp_kernel`` (numpy's weights overflow to NaN beyond ~370).
MAX_QUAD_ORDER = 256
#: Taylor order N of kernel series (taylor.kernel_taylor, architectures' series): O(N² · depth).
MAX_SERIES_ORDER = 20_000
#: Features J of ``power_law_kernel``: one float64 weight each, and every kernel value sums J
#: cosines.
MAX_FEATURES = 100_000

# ----------------------------------------------------------------------------- samples, quadrature
#: Largest sample of a distribution's ``sample``: n × d float64 values in memory.
MAX_SAMPLES = 10_000_000
#: Most points of the dense quadrature-weight methods ("lsq", "kernel"): an n × n float64
#: matrix (512 MiB at 8192) and its O(n³) solve.
MAX_DENSE_POINTS = 8192
#: Most points of a product Gauss grid (``quadrature.gauss_grid``): memory, n × d float64.
MAX_GRID_POINTS = 1_000_000
#: Recorded times of a dynamics prediction: one float64 row of kmax + 1 values per record.
MAX_RECORDS = 10_000_000

# ----------------------------------------------------------------------------- kernel regression
#: Largest training set of krr / curve_report: every trial diagonalizes a max(n) × max(n) Gram.
MAX_TRAIN = 8192
#: Held-out points per KRR draw: a test_points × max(n) float64 cross-Gram per trial.
MAX_TEST = 20000
#: KRR draws (trials run one after another: time).
MAX_TRIALS = 100_000
#: Target degrees and per-degree errors of krr / curve_report: one test_points-long Gegenbauer
#: evaluation and projection per degree and trial.
MAX_KRR_DEGREE = 1000

# ----------------------------------------------------------------------------- training side
#: Seeds are 32-bit: with JAX x64 off, ``jax.random.key`` keeps only the low 32 bits.
MAX_SEED = 2**32 - 1
#: Points of a training data set (experiments data.n, width_study, ``ntkspec ntk``): compare
#: holds several dense n × n float64 matrices and diagonalizes them (O(n³)).
MAX_POINTS = 16384
#: Ambient dimension of training data (experiments data.dim, width_study): each network's
#: first layer is width × d and every sampled point is stored.
MAX_TRAIN_DIM = 1000
#: Hidden width of a trained network (model.width, ``ntkspec ntk --width``): width² weights per
#: layer, so this only refuses absurd values early.
MAX_WIDTH = 1 << 20
#: Depth of a trained network (model.depth): each layer is a width × width matrix, initialized,
#: compiled and differentiated; stricter than ``MAX_DEPTH`` (kernels).
MAX_TRAIN_DEPTH = 64
#: Frozen Fourier / power-law features of a trained network (model.features): a features ×
#: width first layer; stricter than ``MAX_FEATURES`` (kernels).
MAX_TRAIN_FEATURES = 1 << 16
#: Kmax of the empirical-NTK studies (width_study, ``ntkspec ntk``): gram_spectrum projects an
#: n × n Gram onto every degree, ~ n² · kmax work and memory.
MAX_NTK_DEGREE = 10_000
#: Entries of integer lists in configs (target.degrees, width_study widths): each entry is a
#: degree to fit and measure or a network to build.
MAX_LIST_ENTRY = 10_000
#: data.degree, the exactness degree of a "grid" data set (its size must also be data.n).
MAX_GRID_DEGREE = 1000
#: loss.degree, the "lsq" exactness degree of loss weights: one n × n Gegenbauer matrix per
#: degree, O(L · n²) work on n <= MAX_POINTS points.
MAX_WEIGHT_DEGREE = 200
#: Targets stay in the lazy regime only when small; this bound only refuses absurd values.
MAX_AMPLITUDE = 1e6
#: Training steps of a run (run.steps): time, and one record per run.record_every steps.
MAX_STEPS = 10**7
