import jax
import numpy as np

import ntkspec as ns
from ntkspec import arch_models

# Fourier features of scale β: the spectrum is flat up to a knee near k ≈ √β, then falls fast.
for beta in [16.0, 64.0, 256.0]:
    lam = ns.spectrum(ns.fourier_kernel(beta), dim=3, kmax=60).eigenvalues
    knee = int(np.argmax(lam / lam[0] < np.exp(-0.5)))  # first degree below e^{-1/2} λ_0
    print(f"fourier β = {beta:5.0f}: knee at k = {knee:2d}, √β = {np.sqrt(beta):4.1f}")

# Residual MLPs: with α = 1/√L the kernel settles as the depth L grows (O(1/L)); with α = 1
# it degenerates (λ_1/λ_0 keeps falling, by ~40 % per doubling of L).
ratios = {}
for alpha in ["1/sqrt(L)", 1.0]:
    r = [ns.spectrum(ns.resnet_kernel(L, alpha), dim=3, kmax=2).eigenvalues for L in (2, 4, 8)]
    ratios[alpha] = np.array([x[1] / x[0] for x in r])
    print(f"resnet α = {alpha}: λ_1/λ_0 at L = 2, 4, 8:", np.round(ratios[alpha], 4))

# SIREN (ω0 = 30, Gaussian first layer so that the kernel is zonal). sin(ω0 W x) is odd in x,
# so the even degrees vanish; the odd ones decay slowly: a weak spectral bias.
lam = ns.spectrum(ns.siren_kernel(2, omega0=30.0), dim=3, kmax=21).eigenvalues
print("siren λ_k/λ_1, k = 1, 5, 11, 21:", np.round(lam[[1, 5, 11, 21]] / lam[1], 3))

# The trainable networks have these kernels at infinite width: compare an empirical NTK.
X = ns.sample_sphere(jax.random.key(0), 64, 3)
net = arch_models.resnet(depth=2, width=512, alpha=0.5)
params = net.init(jax.random.key(1), 3)
K_emp = np.asarray(ns.empirical_ntk(net, params, X), np.float64)
K_inf = np.asarray(net.kernel().gram(X), np.float64)
err = np.linalg.norm(K_emp - K_inf) / np.linalg.norm(K_inf)
print(f"resnet width 512: ‖K_emp − K_∞‖/‖K_∞‖ = {err:.3f}")

# Checks that keep this page honest (the docs test runs this file).
assert err < 0.15  # finite-width fluctuations are O(1/√width)
assert np.all(np.diff(ratios[1.0]) < 0)  # α = 1: the normalized spectrum keeps changing
assert np.all(np.abs(np.diff(ratios["1/sqrt(L)"])) < np.abs(np.diff(ratios[1.0])))
assert np.all(lam[0::2] < 1e-12 * lam[1])  # an odd kernel
