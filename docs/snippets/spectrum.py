import ntkspec as ns

# The infinite-width NTK of a two-layer ReLU network (one hidden layer, He scaling).
kernel = ns.mlp_kernel(depth=1)
spec = ns.spectrum(kernel, dim=3, kmax=8)  # Funk–Hecke eigenvalues on S^2, float64
print(spec.eigenvalues[:5])  # 1/2, 1/3, 5/64, 0, 1/192
print(spec.multiplicities[:5])  # N(3, k) = 2k + 1
print(spec.sum_rule_residual())  # κ(1) − Σ_k N(d, k) λ_k: the tail beyond kmax

# The NNGP of the same network, and a deeper network's NTK decay rate.
nngp = ns.spectrum(kernel, dim=3, kmax=8, which="nngp")
deep = ns.spectrum(ns.mlp_kernel(depth=4), dim=3, kmax=400)
print(deep.decay_exponent(100, 400))  # close to −d = −3

# Checks that keep this page honest (the docs test runs this file).
assert abs(spec.eigenvalues[1] - 1 / 3) < 1e-13 and abs(spec.eigenvalues[3]) < 1e-13
assert abs(deep.decay_exponent(100, 400) + 3) < 0.1
assert (nngp.eigenvalues[:3] > 0).all()
