"""Data-parallel training through the Keras distribution API: a real JAX training on this CPU's one-device mesh,
and a clear error where it cannot run."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from fer_platform.config import Params, apply_overrides
from fer_platform.training.checkpoints import settings_identity
from tests.conftest import REPO
from tests.training.recipes import small_cnn


def _settings(**overrides):
    return small_cnn(2, **overrides)


def test_distribution_is_not_part_of_a_checkpoints_identity():
    assert settings_identity(_settings()) == settings_identity(_settings(**{"train.common.distribution": "data_parallel"}))


def test_data_parallel_needs_the_jax_backend():
    import keras

    from fer_platform.training.distribution import DistributionUnavailable, apply_distribution

    if keras.backend.backend() == "jax":
        pytest.skip("this session runs Keras on JAX")
    with pytest.raises(DistributionUnavailable, match="needs the JAX backend"):
        apply_distribution(_settings(**{"train.common.distribution": "data_parallel"}))


_TRAIN_ON_JAX = """
import json, sys
from pathlib import Path
import keras, numpy as np
from fer_platform.data.readers import read_fer2013
from fer_platform.models import load_model
from fer_platform.training.fit import train_architecture
from tests.training.test_distribution import _settings
settings = _settings(**{"train.common.distribution": "data_parallel"})
dataset = read_fer2013(sys.argv[1])
out = Path(sys.argv[2])
result = train_architecture("cnn", settings, dataset, out / "ckpt", out / "model", tracking=False)
dist = keras.distribution.distribution()
probs = np.asarray(load_model(out / "model/model.keras").predict(dataset.images[:8, ..., None], verbose=0))
print(json.dumps({"backend": keras.backend.backend(), "distribution": type(dist).__name__,
                  "mesh": dict(zip(dist.device_mesh.axis_names, dist.device_mesh.shape)),
                  "epochs": result.epochs_completed, "finite": bool(np.isfinite(probs).all())}))
"""


@pytest.mark.slow
def test_a_data_parallel_training_on_jax_over_a_one_device_mesh(tmp_path, small_fer):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _TRAIN_ON_JAX, str(small_fer), str(tmp_path)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "[cnn] data_parallel over 1 device(s): cpu:0" in out.stdout, out.stdout[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"backend": "jax", "distribution": "DataParallel", "mesh": {"batch": 1}, "epochs": 2,
                      "finite": True}, report
