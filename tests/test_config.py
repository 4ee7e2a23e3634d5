"""params.yaml validation: unknown keys and wrong types are errors; overrides reach every architecture."""

from pathlib import Path

import pytest
import yaml

from fer_platform.config import ConfigError, apply_overrides, load_params
from tests.conftest import REPO


def test_committed_params_validate_and_cover_every_architecture():
    params = load_params(REPO / "params.yaml")
    assert {"cnn", "vgg19", "resnet32"} <= set(params.architectures())
    from fer_platform.models import known_architectures

    for arch in params.architectures():
        assert params.train_settings(arch).architecture in known_architectures()


def _write(tmp_path, mutate) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    mutate(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_rejected_with_its_name(tmp_path):
    path = _write(tmp_path, lambda r: r["promote"].update(min_improvment=0.1))
    with pytest.raises(ConfigError, match="min_improvment"):
        load_params(path)


def test_wrong_type_is_not_coerced(tmp_path):
    path = _write(tmp_path, lambda r: r["train"]["archs"]["vgg19"].update(epochs="3"))
    with pytest.raises(ConfigError, match=r"params.yaml:\d+: train\.archs\.vgg19\.epochs: .*valid integer \(got '3'\)"):
        load_params(path)


def test_train_common_is_checked_even_where_every_arch_overrides_the_key(tmp_path):
    def shadowed_bad_epochs(raw):
        raw["train"]["common"]["epochs"] = "3"
        for spec in raw["train"]["archs"].values():
            spec["epochs"] = 5
    with pytest.raises(ConfigError, match=r"(?s)train\.common.*epochs"):
        load_params(_write(tmp_path, shadowed_bad_epochs))
    with pytest.raises(ConfigError, match=r"(?s)train\.common.*epocs"):
        load_params(_write(tmp_path, lambda r: r["train"]["common"].update(epocs=3)))


def test_missing_and_malformed_params_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_quick_profile_shortens_every_arch_even_those_with_their_own_epochs(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert any("epochs" in (spec or {}) for spec in raw["train"]["archs"].values())  # the case that matters
    quick = load_params(REPO / "params.yaml").profile("quick")
    path = _write(tmp_path, lambda r: r.update(apply_overrides(r, quick)))
    params = load_params(path)
    assert {params.train_settings(arch).epochs for arch in params.architectures()} == {3}


def test_common_override_reaches_nested_arch_keys_but_an_explicit_arch_override_wins():
    raw = {"train": {"common": {"epochs": 40, "augment": {"flip": True}},
                     "archs": {"a": {"epochs": 30, "augment": {"flip": False}}, "b": {"epochs": 20}, "c": None}}}
    out = apply_overrides(raw, {"train.common.epochs": 3, "train.archs.b.epochs": 5,
                                "train.common.augment.flip": True})
    assert out["train"]["archs"] == {"a": {"epochs": 3, "augment": {"flip": True}}, "b": {"epochs": 5}, "c": None}
    assert out["train"]["common"] == {"epochs": 3, "augment": {"flip": True}}
    assert raw["train"]["archs"]["a"]["epochs"] == 30  # the input is not modified


def test_each_mistake_is_one_line_with_the_file_line_and_key(tmp_path):
    def mistakes(raw):
        raw["promote"]["min_improvment"] = 0.1
        raw["serve"]["max_in_flight"] = 0
    path = _write(tmp_path, mistakes)
    with pytest.raises(ConfigError) as caught:
        load_params(path)
    lines = str(caught.value).splitlines()
    text = path.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}:") for line in lines), lines
    for line, key in zip(sorted(lines), ("promote.min_improvment", "serve.max_in_flight"), strict=True):
        number = int(line.split(":")[1])
        assert f": {key}: " in line and key.rsplit(".", 1)[1] in text[number - 1], (line, text[number - 1])
    assert "pydantic" not in str(caught.value) and "errors.pydantic.dev" not in str(caught.value)


def test_a_registered_model_name_the_model_store_cannot_take_is_one_line(tmp_path):
    """#23.9: the name is also the BentoML model-store entry the service loads, which takes lowercase letters,
    digits, '-', '_' and '.' only; a name that MLflow takes but BentoML does not failed at packaging."""
    path = _write(tmp_path, lambda r: r["promote"].update(registered_model="FER Classifier"))
    with pytest.raises(ConfigError, match=r"params.yaml:\d+: promote\.registered_model: .*lowercase") as caught:
        load_params(path)
    assert len(str(caught.value).splitlines()) == 1


def test_the_feedback_folder_must_be_the_field_split_ingest_reads(tmp_path):
    """/feedback writes labelled faces to serve.feedback.dir and ingest reads data.field: one folder, two keys."""
    path = _write(tmp_path, lambda r: r["serve"].setdefault("feedback", {}).update(dir="elsewhere/faces"))
    with pytest.raises(ConfigError, match=r"params.yaml:\d+: serve\.feedback\.dir: must be data\.field's folder"):
        load_params(path)
    off = _write(tmp_path, lambda r: (r["data"].update(field=None),
                                      r["serve"].setdefault("feedback", {}).update(dir="elsewhere/faces")))
    assert load_params(off).data.field is None  # no field split: nothing to agree with
    spelt = _write(tmp_path, lambda r: r["serve"].setdefault("feedback", {}).update(dir="./field/faces/"))
    assert load_params(spelt).serve.feedback.dir == "./field/faces/"  # the same folder, written otherwise
