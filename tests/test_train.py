import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ntkspec import losses, optimizers
from ntkspec._compat import enable_x64
from ntkspec.dynamics import (
    max_stable_lr,
    predict_residual_gram,
    predict_residual_vectors,
    sobolev_matrix,
)
from ntkspec.sphere import degree_energy, sample_sphere
from ntkspec.train import (
    TrainRecord,
    fit,
    record_degrees,
    record_loss,
    record_residual,
    record_test_degrees,
    record_test_residual,
    train,
)

N, D, FEATURES = 32, 3, 48
_W = np.random.default_rng(0).standard_normal((D, FEATURES))
_B = np.random.default_rng(0).uniform(0, 2 * np.pi, FEATURES)


def features(X):
    return jnp.cos(X @ jnp.asarray(_W, X.dtype) + jnp.asarray(_B, X.dtype))


def linear_apply(params, X):
    """f(x) = φ(x)·w + v: linear in (w, v), so its NTK is exactly K = Φ Φᵀ + 1."""
    return features(X) @ params["w"] + params["v"]


def _problem(dtype=np.float64):
    with enable_x64():
        X = np.asarray(sample_sphere(jax.random.key(1), N, D, dtype=jnp.float64))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(dtype)
    y = np.sin(3 * X[:, 0]) + X[:, 1] * X[:, 2]
    params = {
        "w": (0.1 * np.random.default_rng(1).standard_normal(FEATURES)).astype(dtype),
        "v": np.asarray(0.05, dtype=dtype),
    }
    Phi = np.cos(X.astype(np.float64) @ _W + _B)
    K = Phi @ Phi.T + 1.0
    r0 = Phi @ params["w"].astype(np.float64) + float(params["v"]) - y.astype(np.float64)
    return X, y, params, K, r0


def _run(X, y, params, **kw):
    with enable_x64():
        return train(linear_apply, jax.tree.map(jnp.asarray, params), X, y, **kw)


@pytest.mark.parametrize("loss", ["mse", "weighted", "sobolev"])
def test_linear_model_follows_exact_linear_dynamics(loss):
    # For a linear model GD on the residual is exactly r ← (I − η K M) r (M = I/n, C or S).
    X, y, params, K, r0 = _problem()
    c = np.random.default_rng(2).uniform(0.5, 1.5, N)
    c /= c.sum()  # quadrature weights sum to 1
    S = sobolev_matrix(X, 0.5, 4) if loss == "sobolev" else None
    weights = c if loss == "weighted" else None
    lr = 0.9 * max_stable_lr(K, loss=loss, weights=weights, sobolev=S)
    _, rec = _run(
        X,
        y,
        params,
        lr=lr,
        steps=60,
        record_every=10,
        kmax=5,
        loss=loss,
        weights=weights,
        sobolev=S,
    )
    assert not rec.diverged and rec.objective == loss and rec.lr == lr
    np.testing.assert_array_equal(rec.times, np.arange(0, 61, 10))
    _, R = predict_residual_vectors(
        K, r0, lr, 60, loss=loss, weights=weights, sobolev=S, times=rec.times
    )
    np.testing.assert_allclose(rec.residual, R, rtol=0, atol=1e-11 * np.abs(r0).max())
    assert np.linalg.norm(R[-1]) < 0.9 * np.linalg.norm(R[0])  # it did train
    for a in (rec.loss, rec.residual, rec.energies):
        assert a.dtype == np.float64
    M = {"mse": np.eye(N) / N, "weighted": np.diag(c), "sobolev": S}[loss]
    np.testing.assert_allclose(rec.loss, 0.5 * np.einsum("ti,ij,tj->t", R, M, R), rtol=1e-10)
    np.testing.assert_array_equal(
        rec.energies, degree_energy(X, rec.residual.T, 5, weights=weights)
    )


def test_chunking_callback_and_determinism():
    X, y, params, K, _ = _problem()
    lr = 0.5 * max_stable_lr(K)
    calls = []
    _, a = _run(X, y, params, lr=lr, steps=28, record_every=1, kmax=3)
    p7, b = _run(
        X,
        y,
        params,
        lr=lr,
        steps=28,
        record_every=7,
        kmax=3,
        callback=lambda s, t: calls.append((s, t)),
    )
    _, c = _run(X, y, params, lr=lr, steps=25, record_every=10, kmax=3)
    assert calls == [(7, 28), (14, 28), (21, 28), (28, 28)]
    np.testing.assert_array_equal(c.times, [0, 10, 20, 25])  # the remainder chunk is recorded
    np.testing.assert_allclose(b.residual, a.residual[::7], rtol=0, atol=1e-13)
    np.testing.assert_allclose(c.residual, a.residual[[0, 10, 20, 25]], rtol=0, atol=1e-13)
    p7b, b2 = _run(X, y, params, lr=lr, steps=28, record_every=7, kmax=3)
    for f in ("times", "loss", "residual", "energies"):
        np.testing.assert_array_equal(getattr(b, f), getattr(b2, f))
    jax.tree.map(np.testing.assert_array_equal, p7, p7b)
    with enable_x64():
        np.testing.assert_allclose(
            np.asarray(linear_apply(p7, jnp.asarray(X))) - y, b.residual[-1], atol=1e-14
        )
    # the caller's params are copied, never donated
    assert np.asarray(params["w"]).shape == (FEATURES,)
    _, z = _run(X, y, params, lr=lr, steps=0, kmax=3)
    np.testing.assert_array_equal(z.times, [0])


def test_divergence_stops_and_keeps_finite_records():
    X, y, params, K, _ = _problem()
    lr = 1e4 * max_stable_lr(K)  # |1 − ημ|² ~ 1e8 per step: float64 overflows in ~40 steps
    p, rec = _run(X, y, params, lr=lr, steps=10_000, record_every=5, kmax=3)
    assert rec.diverged
    assert 0 < rec.times[-1] < 200 and len(rec.times) == len(rec.loss) == len(rec.residual)
    assert np.isfinite(rec.loss).all() and np.isfinite(rec.residual).all()
    assert rec.loss[-1] > 1e100
    with enable_x64():
        r = np.asarray(linear_apply(p, jnp.asarray(X))) - y  # params = those of the last record
    np.testing.assert_allclose(r, rec.residual[-1], rtol=1e-12)


def test_optax_sgd_equals_plain_gd_and_adam_runs():
    X, y, params, K, _ = _problem()
    lr = 0.5 * max_stable_lr(K)
    _, a = _run(X, y, params, lr=lr, steps=20, record_every=5, kmax=3)
    _, b = _run(X, y, params, steps=20, record_every=5, kmax=3, optimizer=optax.sgd(lr))
    np.testing.assert_allclose(b.residual, a.residual, rtol=0, atol=1e-13)
    assert np.isnan(b.lr)
    _, c = _run(
        X,
        y,
        params,
        steps=20,
        record_every=10,
        kmax=3,
        optimizer=optax.adam(1e-2),
        loss="weighted",
        weights=np.full(N, 1.0 / N),
    )
    assert c.loss[-1] < c.loss[0] and not c.diverged


def test_float32_training_records_float64():
    X, y, params, K, r0 = _problem(np.float32)
    lr = 0.5 * max_stable_lr(K)
    p, rec = train(linear_apply, params, X, y, lr=lr, steps=30, record_every=10, kmax=3)
    assert p["w"].dtype == jnp.float32
    assert rec.residual.dtype == rec.energies.dtype == rec.loss.dtype == np.float64
    _, R = predict_residual_vectors(K, r0, lr, 30, record_every=10)
    # float32 rounding in features and 30 steps: ~1e-6 relative to the residual scale
    np.testing.assert_allclose(rec.residual, R, rtol=0, atol=1e-4 * np.abs(r0).max())


def test_record_save_load(tmp_path):
    X, y, params, K, _ = _problem()
    _, rec = _run(X, y, params, lr=0.5 * max_stable_lr(K), steps=6, record_every=3, kmax=2)
    for name in ("r.json", "r.npz"):
        q = TrainRecord.load(rec.save(tmp_path / name))
        for f in ("times", "loss", "residual", "energies", "degrees"):
            np.testing.assert_array_equal(getattr(q, f), getattr(rec, f))
        assert (q.diverged, q.objective, q.lr) == (rec.diverged, rec.objective, rec.lr)
    np.testing.assert_allclose(rec.norms**2, rec.energies)
    assert rec.steps_to_fraction(0.999).shape == (3,)


def test_validation():
    X, y, params, K, _ = _problem()
    kw = dict(steps=2, kmax=2)
    cases = [
        (dict(kw), "lr"),
        (dict(kw, lr=0.1, optimizer=optax.sgd(0.1)), "lr=None"),
        (dict(kw, lr=0.1, loss="weighted"), "weights"),
        (dict(kw, lr=0.1, loss="sobolev"), "sobolev"),
        (dict(kw, lr=0.1, sobolev=np.eye(N)), "loss='sobolev'"),
        (dict(kw, lr=0.1, loss="huber"), "loss"),
        (dict(kw, lr=0.1, record_every=0), "record_every"),
        (dict(kw, lr=-1.0), "lr"),
        (dict(kw, lr=0.1, optimizer=None, mesh="data"), "Mesh"),
    ]
    for extra, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            _run(X, y, params, **extra)
    with pytest.raises(ValueError, match="targets"):
        _run(X, y[:-1], params, lr=0.1, **kw)
    with pytest.raises(ValueError, match="unit norm"):
        _run(2 * X, y, params, lr=0.1, **kw)
    with pytest.raises(ValueError, match="return shape"), enable_x64():
        train(lambda p, X: jnp.stack([linear_apply(p, X)] * 2, 1), params, X, y, lr=0.1, **kw)


_MESH_SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from jax.sharding import Mesh
    import test_train as tt
    from ntkspec.dynamics import max_stable_lr
    assert len(jax.devices()) == 4, jax.devices()
    X, y, params, K, _ = tt._problem()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    for loss, extra in [("mse", {}), ("sobolev", {"sobolev": tt.sobolev_matrix(X, 1.0, 3)})]:
        lr = 0.5 * max_stable_lr(K, loss=loss, **extra)
        _, a = tt.train(tt.linear_apply, params, X, y, lr=lr, steps=12, record_every=4, kmax=3,
                        loss=loss, **extra)
        _, b = tt.train(tt.linear_apply, params, X, y, lr=lr, steps=12, record_every=4, kmax=3,
                        loss=loss, mesh=mesh, **extra)
        assert a.residual[-1] @ a.residual[-1] < a.residual[0] @ a.residual[0]
        np.testing.assert_allclose(b.residual, a.residual, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    try:
        tt.train(tt.linear_apply, params, X[:30], y[:30], lr=lr, steps=1, kmax=1, mesh=mesh)
    except ValueError as e:
        assert "divisible" in str(e)
    else:
        raise AssertionError("expected a ValueError for n % 4 != 0")
    print("MESH-OK")
    """
)


def test_sharded_over_mesh_matches_single_device():
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(here), str(here.parent), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", _MESH_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=here.parent,
    )
    assert out.returncode == 0 and "MESH-OK" in out.stdout, out.stderr[-3000:]


# ----------------------------------------------------------------------------- values, fit
def _loss_value(kind, X):
    c = np.random.default_rng(2).uniform(0.5, 1.5, N)
    return {
        "mse": losses.mse(),
        "weighted": losses.weighted(c / c.sum()),
        "sobolev": losses.sobolev(0.5, kmax=4),
    }[kind]


@pytest.mark.parametrize("kind", ["mse", "weighted", "sobolev"])
@pytest.mark.parametrize("name", ["gd", "momentum", "nesterov"])
def test_linear_model_follows_the_optimizer_transfer(kind, name):
    # Linear in (w, v): K = Φ Φᵀ + 1 exactly, so optax's GD / heavy ball / Nesterov on the
    # quadratic loss is exactly the companion recursion per eigen-direction of K M.
    X, y, params, K, r0 = _problem()
    loss = _loss_value(kind, X)
    gd_limit = max_stable_lr(K, loss=loss, X=X)
    make = {"gd": optimizers.gd, "momentum": optimizers.momentum, "nesterov": optimizers.nesterov}
    args = () if name == "gd" else (0.9,)
    limit = max_stable_lr(K, loss=loss, X=X, optimizer=make[name](1.0, *args))
    assert limit == pytest.approx(make[name](1.0, *args).max_stable_lr(2 / gd_limit), rel=1e-12)
    opt = make[name](0.9 * limit, *args)
    with enable_x64():
        run = fit(linear_apply, jax.tree.map(jnp.asarray, params), X, y, optimizer=opt,
                  loss=loss, steps=120, record_every=10)  # fmt: skip
    R_meas = run.records["residual"]
    _, R = predict_residual_vectors(K, r0, opt, 120, loss=loss, X=X, times=run.times)
    scale = np.abs(r0).max()
    np.testing.assert_allclose(R_meas, R, rtol=0, atol=1e-10 * scale)
    assert np.linalg.norm(R[-1]) < 0.5 * np.linalg.norm(R[0])  # it did train
    p = predict_residual_gram(K, X, r0, opt, 120, kmax=4, loss=loss, times=run.times)
    E = degree_energy(X, R_meas.T, 4)
    np.testing.assert_allclose(p.norms**2, E, rtol=0, atol=1e-10 * scale**2)
    assert p.method == name and p.meta["optimizer"]["name"] == name


def test_train_accepts_values_and_records_meta():
    X, y, params, K, r0 = _problem()
    opt = optimizers.momentum(0.3 * max_stable_lr(K), 0.5)
    _, rec = _run(X, y, params, optimizer=opt, steps=20, record_every=5, kmax=3,
                  loss=losses.mse())  # fmt: skip
    _, R = predict_residual_vectors(K, r0, opt, 20, times=rec.times)
    np.testing.assert_allclose(rec.residual, R, rtol=0, atol=1e-11 * np.abs(r0).max())
    assert rec.lr == opt.lr and rec.meta["optimizer"]["beta"] == 0.5 and rec.objective == "mse"
    with pytest.raises(ValueError, match="prediction-only"):
        _run(X, y, params, optimizer=optimizers.flow(0.1), steps=2, kmax=2)
    with pytest.raises(ValueError, match="key="):
        _run(X, y, params, optimizer=optimizers.sgd(0.1, 4), steps=2, kmax=2)
    with pytest.raises(ValueError, match="deterministic optimizer"):
        _run(X, y, params, lr=0.1, steps=2, kmax=2, key=jax.random.key(0))


def test_times_schedule_records_exactly_there():
    X, y, params, K, _ = _problem()
    lr = 0.5 * max_stable_lr(K)
    _, a = _run(X, y, params, lr=lr, steps=30, kmax=3)
    _, b = _run(X, y, params, lr=lr, steps=30, kmax=3, times=[1, 2, 4, 8, 16])
    np.testing.assert_array_equal(b.times, [0, 1, 2, 4, 8, 16, 30])
    np.testing.assert_allclose(b.residual, a.residual[b.times], rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="either record_every or times"):
        _run(X, y, params, lr=lr, steps=30, kmax=3, times=[1], record_every=2)
    with pytest.raises(ValueError, match="strictly increasing"):
        _run(X, y, params, lr=lr, steps=30, kmax=3, times=[4, 2])


def test_fit_on_any_inputs_with_held_out_recorders():
    # Inputs off the sphere (a 5-D box): training and residual/loss recorders need no sphere.
    rng = np.random.default_rng(5)
    Z = rng.uniform(-1, 1, (40, 5))
    Zt = rng.uniform(-1, 1, (7, 5))
    W = rng.standard_normal((5, 30))
    feats = lambda A: jnp.tanh(A @ jnp.asarray(W, A.dtype))  # noqa: E731
    apply = lambda p, A: feats(A) @ p  # noqa: E731
    y, yt = np.sin(Z[:, 0]), np.sin(Zt[:, 0])
    with enable_x64():
        recorders = [record_loss(), record_test_residual(Zt, yt)]
        run = fit(apply, jnp.zeros(30), Z, y, optimizer=optimizers.gd(0.5), steps=50,
                  record_every=25, recorders=recorders)  # fmt: skip
        p_ref = np.zeros(30)
        Phi = np.asarray(feats(jnp.asarray(Z)))
        for _ in range(50):
            p_ref = p_ref - 0.5 * Phi.T @ (Phi @ p_ref - y) / 40
    np.testing.assert_allclose(np.asarray(run.params), np.asarray(p_ref), rtol=0, atol=1e-12)
    Phit = np.asarray(feats(jnp.asarray(Zt)))
    np.testing.assert_allclose(run.records["test_residual"][-1], Phit @ p_ref - yt, atol=1e-12)
    r_end = Phi @ p_ref - y
    assert run.records["loss"][-1] == pytest.approx(0.5 * np.mean(r_end**2), rel=1e-12)
    assert set(run.records) == {"loss", "test_residual"} and not run.diverged
    with pytest.raises(ValueError, match="unit norm"):
        record_degrees(Z, 3)
    X, _, _, _, _ = _problem()
    with pytest.raises(ValueError, match="built for the 40 training points; it was built for 32"):
        fit(apply, jnp.zeros(30), Z, y, optimizer=optimizers.gd(0.5), steps=1,
            recorders=[record_degrees(X, 2)])  # fmt: skip
    with enable_x64():  # Adam trains (no linear prediction, but a real run)
        run = fit(apply, jnp.zeros(30), Z, y, optimizer=optimizers.adam(1e-2), steps=40,
                  record_every=20)  # fmt: skip
    assert run.records["loss"][-1] < 0.5 * run.records["loss"][0]


def test_fit_per_degree_recorders_on_the_sphere():
    X, y, params, K, r0 = _problem()
    Xt = X[:8] * -1.0
    yt = y[:8]
    opt = optimizers.gd(0.5 * max_stable_lr(K))
    with enable_x64():
        run = fit(linear_apply, jax.tree.map(jnp.asarray, params), X, y, optimizer=opt,
                  steps=10, record_every=5,
                  recorders=[record_degrees(X, 3), record_test_degrees(Xt, yt, 2),
                             record_residual()])  # fmt: skip
        out_t = np.asarray(linear_apply(run.params, jnp.asarray(Xt))) - yt
    train_curves, test_curves = run.records["degrees"], run.records["test_degrees"]
    E = degree_energy(X, run.records["residual"].T, 3)
    np.testing.assert_allclose(train_curves.norms, np.sqrt(E), rtol=1e-13)
    np.testing.assert_allclose(test_curves.norms[-1] ** 2, degree_energy(Xt, out_t, 2), rtol=1e-10)
    assert (train_curves.label, test_curves.label) == ("train", "test")
    np.testing.assert_array_equal(test_curves.times, [0, 5, 10])


def test_sgd_expected_residual_is_the_gd_prediction():
    # E r_t = (I − η K/n)^t r_0 for independent uniform batches (optimizers module docstring).
    # Monte Carlo over 64 seeds: the mean's error is ~ sd/8; we require it within 4 standard
    # errors per coordinate (a deterministic bound for these fixed keys), and the spread is
    # real (single runs differ from the mean by far more than the tolerance).
    X, y, params, K, r0 = _problem()
    lr = 0.5 * max_stable_lr(K)
    seeds = 64
    for replace in (False, True):
        opt = optimizers.sgd(lr, 8, replace=replace)
        R = []
        with enable_x64():
            for s in range(seeds):
                run = fit(linear_apply, jax.tree.map(jnp.asarray, params), X, y, optimizer=opt,
                          steps=12, record_every=12, key=jax.random.key(s))  # fmt: skip
                R.append(run.records["residual"][-1])
        R = np.asarray(R)
        _, pred = predict_residual_vectors(K, r0, opt, 12, times=[12])
        se = R.std(axis=0, ddof=1) / np.sqrt(seeds)
        assert np.all(np.abs(R.mean(axis=0) - pred[0]) < 4 * se + 1e-12)
        assert R.std(axis=0).max() > 10 * se.max() / np.sqrt(seeds) and se.max() > 1e-4
    with pytest.raises(ValueError, match="not an unbiased"):
        fit(linear_apply, params, X, y, optimizer=optimizers.sgd(lr, 4), steps=1,
            loss=losses.sobolev(1.0, kmax=2), key=jax.random.key(0))  # fmt: skip


def test_fit_resumes_a_stochastic_run_exactly(tmp_path):
    X, y, params, K, _ = _problem()
    opt = optimizers.sgd(0.5 * max_stable_lr(K), 8)
    kw = dict(optimizer=opt, steps=40, record_every=5, key=jax.random.key(3))

    def go(**extra):
        with enable_x64():
            return fit(linear_apply, jax.tree.map(jnp.asarray, params), X, y, **kw, **extra)

    ref = go()
    ckpt = tmp_path / "c.npz"

    def stop(done, total):
        if done == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        go(checkpoint=ckpt, checkpoint_every=10, callback=stop)
    again = go(checkpoint=ckpt)
    np.testing.assert_array_equal(again.records["residual"], ref.records["residual"])
    np.testing.assert_array_equal(again.params["w"], ref.params["w"])
