"""Odd input and the environment (issue 11, part 4): each case misbehaved before."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkspec._io import atomic_write_json, atomic_write_text
from ntkspec.cli import main
from ntkspec.empirical import empirical_ntk
from ntkspec.experiments import load_config
from ntkspec.kernels import mlp_kernel
from ntkspec.models import mlp
from ntkspec.spectrum import gram_spectrum, spectrum
from ntkspec.sphere import degree_energy, sample_sphere


@pytest.fixture(scope="module")
def points():
    X = np.asarray(sample_sphere(jax.random.key(0), 40, 3), dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- OS errors
def _one_line_naming(err: Exception, path) -> str:
    text = str(err)
    assert "\n" not in text and str(path) in text, text
    assert ".tmp" not in text and "[Errno" not in text, text
    return text


def test_write_under_a_regular_file_names_the_path(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    target = blocked / "sub" / "metrics.json"
    with pytest.raises(OSError) as e:
        atomic_write_json(target, {"a": 1})
    assert "Not a directory" in _one_line_naming(e.value, target)


def test_write_onto_a_directory_names_the_path_not_the_temporary(tmp_path):
    target = tmp_path / "report.md"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as e:  # the same OSError subclass as before
        atomic_write_text(target, "x")
    _one_line_naming(e.value, target)
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary left


def test_cli_out_under_a_regular_file_is_one_line(tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    rc = main(["compare", "--preset", "tiny", "--quiet", "--out", str(blocked / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and str(blocked / "run") in err
    assert "[Errno" not in err and "Traceback" not in err


# ----------------------------------------------------------------------------- params
@pytest.mark.parametrize(
    "params",
    [
        None,
        {"w": "abc"},
        {"w": [1.0, "x"]},
        {"w": object()},
        {"w": np.array(["a"])},
        {"w": np.arange(3)},
    ],  # fmt: skip
    ids=["none", "str", "nested-str", "object", "str-array", "int-array"],
)
@pytest.mark.parametrize("method", ["jacobian", "ntk_vp", "structured"])
def test_empirical_ntk_params_not_arrays_is_a_type_error(params, method):
    model = mlp(1, 8)
    apply = model.apply if method == "structured" else (lambda p, x: x.sum(1))
    with pytest.raises(TypeError, match=r"Expected params to be a pytree of floating-point"):
        empirical_ntk(apply, params, np.eye(3)[:2], method=method)


def test_empirical_ntk_accepts_float_scalars_and_arrays():
    K = empirical_ntk(lambda p, x: p["a"] * x.sum(1) + p["b"], {"a": 2.0, "b": jnp.ones(())},
                      np.eye(3)[:2], method="jacobian")  # fmt: skip
    np.testing.assert_allclose(K, np.full((2, 2), 2.0), rtol=1e-6)  # (∂f/∂a)² + (∂f/∂b)²


# ----------------------------------------------------------------------------- overflow
def test_huge_values_rescaled_exactly_or_refused(points):
    f = points[:, 0] + points[:, 1] ** 2
    E = degree_energy(points, f, 3)
    # Quadratic: the energy of s·f is s² times that of f, to rounding, also near overflow.
    for s in (1e120, 1e150):
        np.testing.assert_allclose(degree_energy(points, s * f, 3) / s / s, E, rtol=1e-13)
    np.testing.assert_allclose(degree_energy(points, 1e-150 * f, 3) / 1e-150 / 1e-150, E,
                               rtol=1e-13)  # fmt: skip
    with pytest.raises(ValueError, match=r"overflow.*Rescale the values"):
        degree_energy(points, 1e160 * f, 3)


# ----------------------------------------------------------------------------- weights
@pytest.mark.parametrize("total", [2.0, 0.5, 1 + 1e-5])
def test_weights_not_summing_to_one_refused(points, total):
    n = len(points)
    c = np.full(n, total / n)
    K = mlp_kernel(1).gram(points)
    for call in (
        lambda: degree_energy(points, points[:, 0], 2, weights=c),
        lambda: gram_spectrum(K, points, 2, weights=c),
    ):
        with pytest.raises(ValueError, match=r"sum to 1.*weights / weights.sum\(\)"):
            call()


def test_weights_summing_to_one_accepted(points):
    n = len(points)
    c = np.random.default_rng(0).uniform(0.5, 1.5, n)
    c /= c.sum()
    f = points[:, 2]
    E = degree_energy(points, f, 2, weights=c)
    E_ref = degree_energy(points, f, 2, weights=c * (1 + 1e-12))  # within 1e-8·n
    np.testing.assert_allclose(E, E_ref, rtol=1e-10)


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_low_precision_points_usable_everywhere(dtype):
    X = sample_sphere(jax.random.key(1), 64, 3, dtype=dtype)
    assert X.dtype == dtype
    eps = float(jnp.finfo(dtype).eps)
    norms = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1)
    assert np.abs(norms - 1).max() <= 4 * eps
    f = np.asarray(X[:, 0], dtype=np.float64)
    E = degree_energy(X, f, 2)  # accepted; f is (nearly) pure degree 1
    assert E[1] > 0.9 * E.sum()
    gram = mlp_kernel(1).gram(X)
    assert np.isfinite(np.asarray(gram, dtype=np.float64)).all()


def test_zero_d_jax_arrays_accepted_like_numpy_scalars():
    a = spectrum(mlp_kernel(jnp.asarray(2), weight_var=jnp.asarray(2.0)), jnp.asarray(3),
                 jnp.asarray(6))  # fmt: skip
    b = spectrum(mlp_kernel(np.int64(2), weight_var=np.float64(2.0)), np.int64(3), np.int64(6))
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    X = sample_sphere(jax.random.key(0), jnp.asarray(4), jnp.asarray(3))
    assert X.shape == (4, 3)
    with pytest.raises(TypeError, match="integer"):
        spectrum(mlp_kernel(1), jnp.asarray(3.0), 4)
    with pytest.raises(TypeError, match="integer"):
        spectrum(mlp_kernel(1), jnp.asarray(True), 4)


# ----------------------------------------------------------------------------- TOML
def test_toml_with_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "run.toml"
    path.write_bytes("\ufeffdim = 4\ndegrees = [1, 2]\n".encode())
    cfg = load_config(path)
    assert cfg.data.dim == 4 and cfg.target.degrees == (1, 2)
