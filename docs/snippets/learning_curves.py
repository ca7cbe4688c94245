import jax
import numpy as np

import ntkspec as ns
from ntkspec.generalization import learning_curve
from ntkspec.krr import kernel_regression_curve

# Kernel ridge regression with the NTK of a 3-hidden-layer ReLU network on S^4 (d = 5); the
# target has energy 1/2 in degree 1 and 1/2 in degree 2; a small ridge δ = 0.1.
kernel = ns.mlp_kernel(depth=3)
spec = ns.spectrum(kernel, dim=5, kmax=200)
energies = [0.0, 0.5, 0.5]  # v_k² = ‖Π_k f*‖², k = 0, 1, 2
n = [10, 40, 160]

theory = learning_curve(spec, energies, n, ridge=0.1)  # eigenlearning, per degree
print("predicted test MSE", theory.test_mse)
print("learnability of degrees 0..3\n", theory.learnability[:, :4])

# Measured: KRR on fresh uniform samples, 8 independent draws (nested sample sizes).
measured = kernel_regression_curve(
    kernel, jax.random.key(0), dim=5, energies=energies, n=n, trials=8, ridge=0.1
)
print("measured test MSE ", measured.excess_mse.mean(axis=0))

# Checks that keep this page honest (the docs test runs this file).
assert np.all(np.diff(theory.test_mse) < 0)  # more data, smaller error
ratio = measured.excess_mse.mean(axis=0) / theory.excess_mse
# The theory is asymptotic and 8 draws scatter by ~10-20 % (seen across keys): allow 25-35 %.
assert np.all((ratio > 0.75) & (ratio < 1.35)), ratio
