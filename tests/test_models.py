import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec import _compat
from ntkspec.empirical import empirical_ntk
from ntkspec.kernels import mlp_kernel
from ntkspec.models import MLP, mlp
from ntkspec.sphere import sample_sphere


def _numpy_forward(params, X, depth, width, phi, sw, sb, sw0):
    """Independent float64 NumPy transcription of the NTK parametrization (module docstring)."""
    P = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params]
    h = np.sqrt(sw0) * X @ P[0]["w"] + np.sqrt(sb) * P[0]["b"]
    for layer in P[1:]:
        h = np.sqrt(sw / width) * phi(h) @ layer["w"] + np.sqrt(sb) * layer["b"]
    assert h.shape == (len(X), 1) and len(P) == depth + 1
    return h[:, 0]


@pytest.mark.parametrize(
    "activation, np_phi, sw, sb, sw0",
    [
        ("relu", lambda h: np.maximum(h, 0.0), 2.0, 0.0, 1.0),
        ("tanh", np.tanh, 1.3, 0.2, 0.7),
        ("identity", lambda h: h, 1.0, 0.5, 2.0),
    ],
)
def test_apply_matches_numpy_reference(activation, np_phi, sw, sb, sw0):
    X = np.asarray(sample_sphere(jax.random.key(1), 9, 4))
    with _compat.enable_x64():
        net = mlp(
            2, 16, activation, weight_var=sw, bias_var=sb, first_layer_var=sw0, dtype=jnp.float64
        )
        params = net.init(jax.random.key(0), 4)
        got = np.asarray(net.apply(params, X))
    ref = _numpy_forward(params, X, 2, 16, np_phi, sw, sb, sw0)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_defaults_match_mlp_kernel():
    for act in ["relu", "erf", "tanh"]:
        net = mlp(2, 8, act)
        ref = mlp_kernel(2, act)
        assert (net.weight_var, net.bias_var, net.first_layer_var) == (
            ref.weight_var,
            ref.bias_var,
            ref.first_layer_var,
        )
        assert net.kernel() == ref
    assert mlp(1, 8).weight_var == 2.0 and mlp(1, 8, "erf").weight_var == 1.0
    assert mlp(1, 8, bias_var=0.3, first_layer_var=0.5).kernel() == mlp_kernel(
        1, "relu", 2.0, 0.3, 0.5
    )


def test_init_shapes_dtype_and_determinism():
    net = mlp(3, 5)
    assert isinstance(net, MLP)
    p = net.init(jax.random.key(7), 4)
    assert [layer["w"].shape for layer in p] == [(4, 5), (5, 5), (5, 5), (5, 1)]
    assert [layer["b"].shape for layer in p] == [(5,), (5,), (5,), (1,)]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(p))
    same = net.init(jax.random.key(7), 4)
    other = net.init(jax.random.key(8), 4)
    for a, b, c in zip(
        jax.tree.leaves(p), jax.tree.leaves(same), jax.tree.leaves(other), strict=True
    ):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    with _compat.enable_x64():
        p64 = mlp(1, 5, dtype=jnp.float64).init(jax.random.key(7), 4)
        assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(p64))
    # The draws do not depend on the activation or variances (only on key and shapes).
    q = mlp(3, 5, "erf", bias_var=0.4).init(jax.random.key(7), 4)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q), strict=True):
        np.testing.assert_array_equal(a, b)


def test_apply_single_point_jit_and_eager_agree():
    net = mlp(2, 32, "erf", bias_var=0.1)
    p = net.init(jax.random.key(0), 3)
    X = sample_sphere(jax.random.key(1), 6, 3, dtype=jnp.float32)
    eager = net.apply(p, X)
    assert eager.shape == (6,)
    np.testing.assert_allclose(jax.jit(net.apply)(p, X), eager, rtol=1e-6, atol=1e-6)
    single = jax.vmap(net.apply, in_axes=(None, 0))(p, X)
    np.testing.assert_allclose(single, eager, rtol=1e-6, atol=1e-6)
    assert net.apply(p, X[0]).shape == ()


def test_custom_callable_activation_equals_named():
    p = mlp(2, 16, "sin").init(jax.random.key(0), 3)
    X = sample_sphere(jax.random.key(1), 5, 3, dtype=jnp.float32)
    np.testing.assert_array_equal(mlp(2, 16, jnp.sin).apply(p, X), mlp(2, 16, "sin").apply(p, X))


def test_centered_is_zero_at_init_with_same_ntk():
    X = sample_sphere(jax.random.key(1), 7, 3, dtype=jnp.float32)
    plain = mlp(2, 64, "relu", bias_var=0.1)
    cent = mlp(2, 64, "relu", bias_var=0.1, centered=True)
    p = plain.init(jax.random.key(3), 3)
    pc = cent.init(jax.random.key(3), 3)
    assert len(pc) == 2
    for a, b in zip(jax.tree.leaves(pc[0]), jax.tree.leaves(p), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cent.apply(pc, X), 0.0)
    np.testing.assert_array_equal(jax.jit(cent.apply)(pc, X), 0.0)
    K = empirical_ntk(plain.apply, p, X)
    np.testing.assert_allclose(empirical_ntk(cent.apply, pc, X), K, rtol=1e-6)
    np.testing.assert_allclose(empirical_ntk(cent.apply, pc, X, method="jacobian"), K, rtol=1e-5)
    # After a parameter change the copies differ and the output is no longer zero.
    moved = (pc[0], jax.tree.map(lambda a: a * 1.01, pc[1]))
    assert np.abs(np.asarray(cent.apply(moved, X))).max() > 0


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(depth=0, width=4), ValueError, "depth >= 1"),
        (dict(depth=1.5, width=4), TypeError, "depth to be an integer"),
        (dict(depth=1, width=0), ValueError, "width >= 1"),
        (dict(depth=1, width=4, activation="swish"), ValueError, "activation to be one of"),
        (dict(depth=1, width=4, weight_var=-1.0), ValueError, "weight_var"),
        (dict(depth=1, width=4, bias_var=-0.1), ValueError, "bias_var >= 0"),
        (dict(depth=1, width=4, centered=1), TypeError, "centered"),
        (dict(depth=1, width=4, dtype=jnp.int32), TypeError, "floating dtype"),
    ],
)
def test_mlp_rejects_bad_config(kwargs, err, match):
    with pytest.raises(err, match=match):
        mlp(**kwargs)


def test_apply_and_init_reject_bad_inputs():
    net = mlp(2, 8)
    p = net.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        net.apply(p, jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        net.apply(p, jnp.ones((2, 4, 3)))
    with pytest.raises(ValueError, match=r"layer 0 .* w: \(3, 9\)"):
        mlp(2, 9).apply(p, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="depth \\+ 1 = 4"):
        mlp(3, 8).apply(p, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="pair"):
        mlp(2, 8, centered=True).apply(p, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="d >= 1"):
        net.init(jax.random.key(0), 0)
    with pytest.raises(TypeError, match="PRNG key"):
        net.init(0, 3)


# ----------------------------------------------------------------------------- NNGP limit
def test_output_covariance_over_inits_matches_nngp():
    # Depth 1: conditional on the first layer, Cov[f f'] = (σ_w²/m) Σ_j φ(h_j)φ(h_j') + σ_b²,
    # whose mean over the first layer is exactly the NNGP at any width m, so the only error is
    # Monte-Carlo: std ≈ √((K_ii K_jj + K_ij²)/M) ≤ √(2/M)·q_1 ≈ 0.01·q_1 for M = 20000 inits.
    # Tolerance 5σ = 0.05·q_1.
    M, m = 20000, 32
    X = sample_sphere(jax.random.key(5), 6, 3, dtype=jnp.float32)
    net = mlp(1, m, "relu", bias_var=0.1)
    keys = jax.random.split(jax.random.key(0), M)
    F = jax.jit(jax.vmap(lambda k: net.apply(net.init(k, 3), X)))(keys)  # (M, n)
    F = np.asarray(F, np.float64)
    cov = F.T @ F / M
    ref = np.asarray(net.kernel().gram(X, which="nngp"))
    q1 = net.kernel().kappa_one("nngp")
    np.testing.assert_allclose(cov, ref, atol=0.05 * q1)
    # The test can fail: a wrong first-layer scale (σ_w0² -> σ_w0²/d) is far outside it.
    wrong = mlp(1, m, "relu", bias_var=0.1, first_layer_var=1 / 3).kernel()
    assert np.abs(np.asarray(wrong.gram(X, which="nngp")) - cov).max() > 0.1 * q1


def test_readout_covariance_across_wide_layer_matches_nngp():
    # Depth 3: f is linear in the standard-normal readout (w_out, b_out), so the output
    # covariance over the readout draw is exactly J_out J_outᵀ (J_out = ∂f/∂readout). Across a
    # wide last hidden layer it converges to the NNGP with relative error ~ C/√m; measured
    # C ≈ 1–3 (relu largest), so we allow 6/√m at m = 2048 (≈ 0.13), a ≥ 2× margin.
    m = 2048
    X = sample_sphere(jax.random.key(5), 20, 3, dtype=jnp.float32)
    p = mlp(3, m).init(jax.random.key(0), 3)  # the draws do not depend on the activation
    for activation in ["relu", "erf"]:
        net = mlp(3, m, activation)

        def f_of_readout(readout, x, net=net):
            return net.apply([*p[:-1], readout], x)

        J = jax.vmap(jax.grad(f_of_readout), in_axes=(None, 0))(p[-1], X)
        J = np.concatenate([np.asarray(J["w"]).reshape(len(X), -1), np.asarray(J["b"])], axis=1)
        ref = np.asarray(net.kernel().gram(X, which="nngp"))
        err = np.linalg.norm(J @ J.T - ref) / np.linalg.norm(ref)
        assert err < 6 / np.sqrt(m), (activation, err)


# ----------------------------------------------------------------------------- NTK limit
_WIDTHS = (256, 1024, 4096)
_SEEDS = 4


@pytest.mark.parametrize("depth", [1, 3])
def test_empirical_ntk_at_init_converges_to_mlp_kernel(depth):
    # Relative Frobenius error of the empirical NTK at init on 20 points of S^2, averaged over
    # 4 fixed seeds. Theory: fluctuations ~ C/√m (at depth 1 the mean over inits is exact, so
    # it is pure fluctuation; deeper nets add an O(1/m) bias). Measured: √m·err ≈ 1–2.5 for
    # erf/tanh and 1.5–3.7 for relu (fluctuations grow with depth, Hanin & Nica 2020), across
    # all widths. Checks: (i) err(4096) < 6/√4096 ≈ 0.094, a ≥ 1.6× margin over the largest
    # measured C; (ii) the log-log slope of err vs width is < -0.25 (theory -0.5; 4-seed
    # averages measured -0.35 to -0.45).
    X = sample_sphere(jax.random.key(11), 20, 3, dtype=jnp.float32)
    configs = [("relu", 0.0), ("relu", 0.1), ("erf", 0.0), ("tanh", 0.0)]
    refs = {c: np.asarray(mlp_kernel(depth, c[0], bias_var=c[1]).gram(X)) for c in configs}
    errs = {c: [] for c in configs}
    for m in _WIDTHS:
        # Parameter draws depend only on (key, shapes): share them across activations.
        inits = [mlp(depth, m).init(jax.random.key(s), 3) for s in range(_SEEDS)]
        for act, bv in configs:
            net = mlp(depth, m, act, bias_var=bv)
            ref = refs[act, bv]
            e = [np.linalg.norm(np.asarray(empirical_ntk(net.apply, p, X)) - ref) for p in inits]
            errs[act, bv].append(np.mean(e) / np.linalg.norm(ref))
        del inits
    for c, e in errs.items():
        slope = np.polyfit(np.log(_WIDTHS), np.log(e), 1)[0]
        assert e[-1] < 6 / np.sqrt(_WIDTHS[-1]), (c, e)
        assert slope < -0.25, (c, e, slope)


# ----------------------------------------------------------------------------- trained bias, sine
def test_trained_bias_init_and_forward():
    # bias_var = 0: hidden biases start at zero, so the output at init is that of the bias-free
    # net; the readout bias keeps its N(0, 1) draw (scaled by σ_b = 0). With bias_var > 0 the
    # hidden bias term √(σ_b² + β²)·b has b ~ N(0, σ_b²/(σ_b² + β²)): same law as σ_b·N(0, 1).
    X = np.asarray(sample_sphere(jax.random.key(2), 6, 3))
    plain, trained = mlp(2, 32), mlp(2, 32, trained_bias=0.7)
    p, pt = plain.init(jax.random.key(4), 3), trained.init(jax.random.key(4), 3)
    for layer in pt[:-1]:
        np.testing.assert_array_equal(layer["b"], 0.0)
    np.testing.assert_array_equal(pt[-1]["b"], p[-1]["b"])
    np.testing.assert_array_equal(trained.apply(pt, X), plain.apply(p, X))
    both = mlp(2, 32, bias_var=0.3, trained_bias=0.7)
    pb = both.init(jax.random.key(4), 3)
    with_bias = mlp(2, 32, bias_var=0.3)
    np.testing.assert_allclose(
        both.apply(pb, X), with_bias.apply(with_bias.init(jax.random.key(4), 3), X), rtol=1e-5
    )
    assert trained.trained_bias == 0.7 and trained.kernel() == mlp_kernel(2, trained_bias=0.7)
    with pytest.raises(ValueError, match="trained_bias >= 0"):
        mlp(1, 4, trained_bias=-1.0)


def test_trained_bias_gradient_scale_in_every_hidden_layer():
    # ∂f/∂b_l of hidden layers carries √(σ_b² + β²): the structured (layer-wise) NTK equals the
    # autodiff Jacobian contraction for a trained-bias net, centered or not.
    X = sample_sphere(jax.random.key(1), 9, 3, dtype=jnp.float32)
    for net in (
        mlp(3, 48, "tanh", bias_var=0.1, trained_bias=0.5),
        mlp(2, 48, trained_bias=1.0, centered=True),
    ):
        p = net.init(jax.random.key(0), 3)
        K1 = empirical_ntk(net.apply, p, X, method="structured")
        K2 = empirical_ntk(net.apply, p, X, method="jacobian")
        np.testing.assert_allclose(K1, K2, rtol=2e-5, atol=1e-5)


_MC_WIDTHS = (256, 1024, 4096)


@pytest.mark.parametrize(
    "depth, activation, kwargs",
    [
        (1, "relu", dict(trained_bias=1.0)),
        (2, "relu", dict(trained_bias=0.5, bias_var=0.1)),
        (2, "sin", dict(first_layer_var=4.0)),
        (1, "cos", dict(first_layer_var=2.0, trained_bias=0.3)),
    ],
)
def test_empirical_ntk_at_init_converges_to_trained_bias_and_sine_kernels(
    depth, activation, kwargs
):
    # Relative Frobenius error of the empirical NTK at init (4 fixed seeds, 20 points of S^2)
    # against mlp_kernel with the same arguments. Fluctuations are ~C/√m (Jacot et al. 2018;
    # measured √m·err ≈ 1–3 for relu in test_empirical_ntk_at_init_converges_to_mlp_kernel):
    # err(4096) < 6/√4096 and a log-log slope in m below -0.25 (theory -0.5). The two-layer
    # relu case with β² = 1 is Basri et al.'s (t + 1) k0(t) + k1(t).
    X = sample_sphere(jax.random.key(11), 20, 3, dtype=jnp.float32)
    ref = np.asarray(mlp_kernel(depth, activation, **kwargs).gram(X))
    errs = []
    for m in _MC_WIDTHS:
        net = mlp(depth, m, activation, **kwargs)
        e = [
            np.linalg.norm(
                np.asarray(empirical_ntk(net.apply, net.init(jax.random.key(s), 3), X)) - ref
            )
            for s in range(4)
        ]
        errs.append(np.mean(e) / np.linalg.norm(ref))
    slope = np.polyfit(np.log(_MC_WIDTHS), np.log(errs), 1)[0]
    assert errs[-1] < 6 / np.sqrt(_MC_WIDTHS[-1]), errs
    assert slope < -0.25, (errs, slope)
