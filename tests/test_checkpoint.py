import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec import checkpoint


def _tree():
    return {"w": jnp.arange(3.0), "b": jnp.zeros((2, 2), dtype=jnp.int32)}


def test_fingerprint_depends_on_data_params_and_settings():
    p = _tree()
    X = np.ones((4, 3))
    base = checkpoint.fingerprint(p, (X,), ("mse", 10, 0.5))
    assert base == checkpoint.fingerprint(_tree(), (X.copy(),), ("mse", 10, 0.5))
    others = [
        checkpoint.fingerprint(p, (X + np.eye(4, 3) * 1e-12,), ("mse", 10, 0.5)),
        checkpoint.fingerprint(p, (X.astype(np.float32),), ("mse", 10, 0.5)),
        checkpoint.fingerprint(p, (X,), ("mse", 20, 0.5)),
        checkpoint.fingerprint({"w": p["w"] + 1, "b": p["b"]}, (X,), ("mse", 10, 0.5)),
        checkpoint.fingerprint({"w2": p["w"], "b": p["b"]}, (X,), ("mse", 10, 0.5)),
    ]
    assert len({base, *others}) == 1 + len(others)


def test_save_load_round_trip_and_step_of(tmp_path):
    path = tmp_path / "c.npz"
    params, state = _tree(), (jnp.asarray(0.5), {"m": jnp.ones(3)})
    records = {"times": np.array([0, 5, 10]), "loss": np.array([1.0, 0.5, 0.25]),
               "residual": np.ones((3, 4))}  # fmt: skip
    checkpoint.save(path, "abc", params, state, records, diverged=False)
    assert checkpoint.step_of(path) == 10
    zero = jax.tree.map(jnp.zeros_like, params)
    p, s, recs, diverged = checkpoint.load(path, "abc", zero, jax.tree.map(jnp.zeros_like, state))
    jax.tree.map(np.testing.assert_array_equal, p, params)
    jax.tree.map(np.testing.assert_array_equal, s, state)
    assert p["b"].dtype == jnp.int32 and not diverged
    assert set(recs) == set(records)
    for k in records:
        np.testing.assert_array_equal(recs[k], records[k])


def test_load_refuses_other_runs_and_bad_files(tmp_path):
    path = tmp_path / "c.npz"
    params = _tree()
    checkpoint.save(path, "abc", params, (), {"times": np.array([0])}, diverged=True)
    with pytest.raises(ValueError, match="belongs to a different run"):
        checkpoint.load(path, "xyz", params, ())
    with pytest.raises(ValueError, match="does not match the params structure"):
        checkpoint.load(path, "abc", {"w": jnp.arange(4.0), "b": params["b"]}, ())
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Cannot read checkpoint"):
        checkpoint.load(bad, "abc", params, ())
    assert checkpoint.step_of(bad) is None and checkpoint.step_of(tmp_path / "none.npz") is None
    with pytest.raises(ValueError, match="'times'"):
        checkpoint.save(path, "abc", params, (), {"loss": np.ones(1)}, diverged=False)
