"""The nested experiment configuration: sections, presets, TOML, flat 0.1 keys, errors."""

import pytest

from ntkspec.experiments.config import (
    FLAT_KEYS,
    PRESETS,
    ExperimentConfig,
    from_flat,
    load_config,
)

#: The 0.1 ``CompareConfig`` fields and their defaults (as released in 0.1, CHANGELOG): a flat
#: 0.1 configuration must keep meaning what it meant.
DEFAULTS_0_1 = {
    "dim": 3, "depth": 1, "activation": "relu", "weight_var": None, "bias_var": 0.0,
    "first_layer_var": None, "width": 8192, "n": 512, "sampling": "uniform",
    "degrees": (1, 2, 4), "amplitudes": (0.1, 0.1, 0.1), "lr": None, "lr_fraction": 0.25,
    "allow_unstable": False, "allow_unlearnable": False, "steps": 1500, "record_every": 10,
    "seed": 0,
}  # fmt: skip


def test_defaults_match_the_old_flat_defaults():
    # Every flat 0.1 field maps to a section key with the same default value.
    new = load_config()
    for flat, (section, key) in FLAT_KEYS.items():
        assert getattr(getattr(new, section), key) == DEFAULTS_0_1[flat], flat


def test_flat_keys_cover_every_old_field():
    assert set(FLAT_KEYS) == set(DEFAULTS_0_1)
    # ... and a flat mapping of every field gives the same config as its sections.
    flat = load_config(DEFAULTS_0_1)
    assert flat == load_config(from_flat(DEFAULTS_0_1)) == load_config()


def test_flat_mapping_and_overrides():
    cfg = load_config({"n": 64, "sampling": "equispaced", "dim": 2, "degrees": [1, 3]})
    assert (cfg.data.n, cfg.data.distribution, cfg.data.dim) == (64, "equispaced", 2)
    assert cfg.target.amplitudes == (0.1, 0.1)
    assert from_flat({"lr": 0.5}) == {"optimizer": {"lr": 0.5}}
    cfg = load_config(preset="tiny", overrides={"optimizer.kind": "momentum", "run.seed": None})
    assert cfg.optimizer.kind == "momentum" and cfg.model.width == 1024 and cfg.run.seed == 0


def test_toml_sections(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        "[model]\nfactory = 'mymod:make'\n[data]\nn = 100\ndistribution = 'vmf'\nkappa = 3.0\n"
        "mean = [0.0, 0.0, 1.0]\n[loss]\nkind = 'weighted'\nweights = 'voronoi'\n"
        "[optimizer]\nkind = 'nesterov'\nbeta = 0.5\n[run]\nsteps = 10\n"
    )
    cfg = load_config(path)
    assert cfg.model.factory == "mymod:make"
    assert cfg.data.mean == (0.0, 0.0, 1.0) and cfg.data.params()["kappa"] == 3.0
    assert (cfg.loss.kind, cfg.loss.weights) == ("weighted", "voronoi")
    assert (cfg.optimizer.kind, cfg.optimizer.beta, cfg.run.steps) == ("nesterov", 0.5, 10)
    # Round trip through to_dict.
    assert load_config(cfg.to_dict()) == cfg
    assert load_config(cfg) == cfg


def test_every_preset_is_valid():
    # The 0.1 presets keep their names (sphere3 is the default), with vmf added.
    assert {"sphere3", "circle", "tiny", "vmf"} <= set(PRESETS)
    for name in PRESETS:
        assert isinstance(load_config(preset=name), ExperimentConfig)
    assert load_config(preset="sphere3") == load_config()
    circle = load_config(preset="circle")
    assert (circle.data.dim, circle.data.distribution) == (2, "equispaced")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"data": {"n": 1}}, "data.n"),
        ({"model": {"depth": 0}}, "model.depth"),
        ({"model": {"factory": "no_colon"}}, "model.factory"),
        ({"model": {"activation": "nope"}}, "model.activation"),
        ({"data": {"distribution": "vmf"}}, "kappa"),
        ({"data": {"distribution": "warped_circle", "a": 0.5}}, "data.dim = 2"),
        ({"data": {"colour": 1}}, "data.colour"),
        ({"target": {"degrees": [1, 1]}}, "target.degrees"),
        ({"target": {"amplitudes": [0.1, 0.2, 0.3, 0.4]}}, "target.amplitudes"),
        ({"loss": {"kind": "weighted"}}, "loss.weights"),
        ({"loss": {"kind": "sobolev"}}, "loss.s"),
        ({"loss": {"kind": "mse", "s": 1.0}}, "loss.s"),
        ({"optimizer": {"kind": "adam"}}, "optimizer.lr"),
        ({"optimizer": {"kind": "sgd"}}, "optimizer.batch_size"),
        ({"optimizer": {"kind": "gd", "batch_size": 4}}, "optimizer.batch_size"),
        ({"optimizer": {"beta": 1.0}}, "optimizer.beta"),
        ({"optimizer": {"lr_fraction": 1.5}}, "optimizer.lr_fraction"),
        ({"run": {"steps": 0}}, "run.steps"),
        ({"run": {"projection": "magic"}}, "run.projection"),
        ({"n": 64, "data": {}}, "n -> [data] n"),
        ({"bogus": 1}, "bogus"),
        ({"data": 3}, "[data]"),
    ],
)
def test_one_line_errors_name_the_key(values, message):
    with pytest.raises((ValueError, TypeError)) as info:
        load_config(values)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_bad_toml_and_preset(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[data\nn = 3")
    with pytest.raises(ValueError, match="Invalid TOML"):
        load_config(path)
    with pytest.raises(ValueError, match="preset"):
        load_config(preset="nope")
    with pytest.raises(TypeError, match="TOML path"):
        load_config(3.5)


def test_module_docstring_example_is_a_valid_config(tmp_path):
    import textwrap

    import ntkspec.experiments.config as module

    doc = module.__doc__
    block = doc.split("::\n\n", 1)[1].split("\n\nEvery error", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(textwrap.dedent(block))
    cfg = load_config(path)
    assert (cfg.data.distribution, cfg.loss.weights, cfg.optimizer.kind) == (
        "vmf",
        "voronoi",
        "momentum",
    )


def test_grid_data():
    cfg = load_config({"data": {"distribution": "grid", "degree": 4, "n": 15}})
    assert (cfg.data.n, cfg.data.degree) == (15, 4)
    with pytest.raises(ValueError, match="Expected data.n = 15, the size of the degree-4 grid"):
        load_config({"data": {"distribution": "grid", "degree": 4, "n": 16}})
    with pytest.raises(ValueError, match="data.degree"):
        load_config({"data": {"distribution": "grid"}})
    with pytest.raises(ValueError, match="data.degree only"):
        load_config({"data": {"degree": 3}})
