import equinox as eqx
import jax
import numpy as np

import ntkspec as ns
from ntkspec.interop.modules import from_equinox
from ntkspec.spectrum import gram_spectrum

key_x, key_y, key_net = jax.random.split(jax.random.key(0), 3)
X = ns.sample_sphere(key_x, 256, 3)  # 256 uniform points of S^2
y = 0.1 * ns.random_harmonic(key_y, X, 2)  # a degree-2 target

# Any Equinox module mapping one input to a scalar; Flax: from_linen / from_nnx.
net = eqx.nn.MLP(3, "scalar", width_size=512, depth=1, activation=jax.nn.relu, key=key_net)
apply_fn, params = from_equinox(net)  # apply_fn(params, X) -> (n,)

K = ns.empirical_ntk(apply_fn, params, X)  # (256, 256) empirical NTK at initialization
content = gram_spectrum(np.asarray(K, np.float64), X, kmax=4)  # its eigenvalue per degree
print(content.eigenvalues)

lr = 0.5 * ns.max_stable_lr(np.asarray(K, np.float64))  # half the stability limit 2/λ_max(K/n)
params, record = ns.train(apply_fn, params, X, y, lr=lr, steps=200, record_every=20, kmax=4)
print(record.norms[:, 2] / record.norms[0, 2])  # ‖Π_2 r_t‖ / ‖Π_2 r_0‖ along training

# Checks that keep this page honest (the docs test runs this file).
assert not record.diverged
assert record.norms[-1, 2] < 0.5 * record.norms[0, 2]
