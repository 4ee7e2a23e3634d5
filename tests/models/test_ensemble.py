"""An ensemble as one graph: the mean of its members' probabilities, saved and loaded like any model."""

import numpy as np
import pytest

TINY = {"resnet32": {"blocks_per_stage": [1, 1, 1], "widths": [4, 8, 8]},
        "resnet_compact": {"blocks_per_stage": [1, 1, 1, 1], "widths": [4, 8, 8, 8], "dropout": 0.3}}


def test_ensemble_graph_is_the_mean_of_its_members_and_round_trips(small_dataset, tmp_path):
    import keras

    from fer_platform.models import build_model, load_model
    from fer_platform.models.ensemble import average_probabilities

    members = [build_model(a, augment={"flip": True}, **TINY[a]) for a in TINY]
    ensemble = average_probabilities(members)
    faces = small_dataset.images[:8, ..., None]
    expected = np.mean([m.predict(faces, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(faces, verbose=0), expected, atol=1e-6)
    ensemble.save(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(load_model(tmp_path / "ensemble.keras").predict(faces, verbose=0), expected, atol=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        average_probabilities(members[:1])
    with pytest.raises(ValueError, match="distinct model names"):
        average_probabilities([members[0], members[0]])
    wrong = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(7)], name="x")
    with pytest.raises(ValueError, match="image contract"):
        average_probabilities([members[0], wrong])
