"""One home per constant: where a file format cannot import it, the file must agree with the contract."""

import yaml

from fer_platform.config import PromoteSettings, ServeSettings, load_params
from fer_platform.contract import (
    EDGE_MIN_FACE,
    HAAR_MIN_FACE,
    HAAR_MIN_NEIGHBORS,
    HAAR_SCALE_FACTOR,
    MODEL_NAME,
)
from fer_platform.edge.cli import parse_args
from fer_platform.faces import DetectorSettings
from tests.conftest import REPO


def test_bentofile_repeats_neither_the_model_name_nor_the_wheel_version():
    """The build takes the model the service names and the wheel the package stage builds (#23, constants)."""
    bentofile = yaml.safe_load((REPO / "bentofile.yaml").read_text())
    assert "models" not in bentofile and "wheels" not in bentofile["python"]


def test_params_and_settings_defaults_name_the_same_registered_model():
    assert load_params(REPO / "params.yaml").promote.registered_model == MODEL_NAME
    assert PromoteSettings().registered_model == MODEL_NAME


def test_service_and_edge_find_faces_with_the_same_haar_defaults():
    serve = load_params(REPO / "params.yaml").serve
    defaults = (HAAR_SCALE_FACTOR, HAAR_MIN_NEIGHBORS, HAAR_MIN_FACE)
    assert (serve.haar_scale_factor, serve.haar_min_neighbors, serve.haar_min_face) == defaults
    settings = ServeSettings()
    assert (settings.haar_scale_factor, settings.haar_min_neighbors, settings.haar_min_face) == defaults
    detector = DetectorSettings()
    assert (detector.scale_factor, detector.min_neighbors, detector.min_face) == defaults
    assert parse_args(["--camera", "0"]).min_face == EDGE_MIN_FACE
