import json

import numpy as np
import pytest

from ntkspec.curves import DegreeCurves, steps_to_fraction
from ntkspec.dynamics import Prediction
from ntkspec.train import TrainRecord


def _geometric(q=(0.9, 0.5, 1.0), T=40):
    t = np.arange(0, T + 1, 4)
    init = np.array([2.0, 1.0, 3.0])
    norms = init[None, :] * np.asarray(q)[None, :] ** t[:, None]
    return DegreeCurves(t, np.arange(3), norms, init, source="spectrum", meta={"lr": 0.1})


def test_steps_to_fraction_is_exact_for_geometric_decay():
    c = _geometric()
    out = c.steps_to_fraction(0.25)
    # log-linear interpolation is exact for q^t: t* = log(f)/log(q), even between records
    np.testing.assert_allclose(out[:2], np.log(0.25) / np.log([0.9, 0.5]), rtol=1e-12)
    assert out[2] == np.inf  # never decays


def test_steps_to_fraction_zero_initial_and_missing_zero_record():
    assert np.isnan(steps_to_fraction([1, 2], [[0.0], [0.0]], [0.0], 0.5)[0])
    # without a record at t = 0 the initial norm stands in for it
    out = steps_to_fraction([2, 4], [[0.5], [0.25]], [1.0], 0.5)
    assert out[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\)"):
        steps_to_fraction([0], [[1.0]], [1.0], 1.0)


def test_normalized():
    c = DegreeCurves(
        np.arange(2), np.arange(2), np.array([[1.0, 0.0], [0.5, 0.0]]), np.array([2.0, 0.0])
    )
    n = c.normalized()
    np.testing.assert_allclose(n[:, 0], [0.5, 0.25])
    assert np.isnan(n[:, 1]).all()


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_round_trip_keeps_non_finite_values(tmp_path, suffix):
    c = _geometric()
    norms = c.norms.copy()
    norms[1, 0], norms[2, 1] = np.inf, np.nan
    c = DegreeCurves(c.times, c.degrees, norms, c.initial, "gram", "emp", {"lr": 0.1, "k": [1, 2]})
    back = DegreeCurves.load(c.save(tmp_path / f"c{suffix}"))
    np.testing.assert_array_equal(back.norms, norms)
    np.testing.assert_array_equal(back.times, c.times)
    assert (back.source, back.label, back.meta) == ("gram", "emp", {"lr": 0.1, "k": [1, 2]})
    if suffix == ".json":
        d = json.loads((tmp_path / "c.json").read_text())
        assert d["norms"][1][0] == "inf" and d["norms"][2][1] == "nan"


def test_load_refuses_other_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"times": [0]}')
    with pytest.raises(ValueError, match="degrees"):
        DegreeCurves.load(p)


def test_prediction_and_train_record_are_degree_curves():
    assert issubclass(Prediction, DegreeCurves) and issubclass(TrainRecord, DegreeCurves)
    z = np.zeros((2, 3))
    rec = TrainRecord(np.arange(2), np.ones(2), z, np.array([[4.0, 1.0, 0.0], [1.0, 1.0, 0.0]]),
                      np.arange(3), False, "mse", 0.1)  # fmt: skip
    np.testing.assert_array_equal(rec.initial, [2.0, 1.0, 0.0])
    np.testing.assert_array_equal(rec.normalized()[1, :2], [0.5, 1.0])
    plain = rec.to_curves()
    assert type(plain) is DegreeCurves and plain.source == "measured"


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"norms \(T, K\)"):
        DegreeCurves(np.arange(3), np.arange(2), np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="initial of shape"):
        DegreeCurves(np.arange(2), np.arange(2), np.ones((2, 2)), np.ones(3))
