"""The field split (#27): faces labelled through POST /feedback, written by the service's own writer and
`dvc add`-ed, are ingested as a split of their own; FER2013's artifact, which training reads, never holds them."""

import shutil

import cv2
import numpy as np
import pytest

from fer_platform import paths
from fer_platform.config import load_params
from fer_platform.data.dataset import DataError
from fer_platform.data.field import FIELD, load_field
from fer_platform.data.ingest import ingest
from fer_platform.labels import EMOTIONS
from fer_platform.serving.kept_faces import write_labelled
from tests.conftest import REPO


def _collect(root, dataset, n: int) -> dict[str, tuple[int, np.ndarray]]:
    """n PrivateTest faces labelled as /feedback writes them; {source id: (label, pixels)}."""
    faces = dataset.split("PrivateTest")
    picked = np.linspace(0, len(faces) - 1, n).astype(int)  # every emotion, not the first folder's alone
    written = {}
    for i in picked:
        path = write_labelled(root, f"{i:016x}", EMOTIONS[faces.labels[i]], faces.images[i])
        written[path.relative_to(root).as_posix()] = (int(faces.labels[i]), faces.images[i])
    return written


def test_collected_faces_become_a_dvc_version_that_ingest_reads_as_a_split_of_its_own(
        tmp_path, monkeypatch, small_fer, small_dataset):
    from dvc.repo import Repo

    monkeypatch.chdir(tmp_path)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(REPO / name, tmp_path / name)
    field = load_params("params.yaml").data.field
    assert field == load_params("params.yaml").serve.feedback.dir  # ingest reads where /feedback writes
    written = _collect(tmp_path / field, small_dataset, 12)

    Repo.init(str(tmp_path), no_scm=True)
    repo = Repo(str(tmp_path))
    repo.add(field)  # the collection's data version (field/faces.dvc)
    edges = {(a.addressing, b.addressing) for a, b in Repo(str(tmp_path)).index.graph.edges}
    assert ("ingest", f"{field}.dvc") in edges  # a new version of the faces re-runs the ingest stage

    manifest = ingest(small_fer, paths.DATASET, paths.MANIFEST, field, paths.FIELD)
    faces = load_field(paths.FIELD)
    assert len(faces) == manifest["field"]["n_images"] == 12 and manifest["field"]["split"] == FIELD
    assert sum(manifest["field"]["counts"].values()) == 12 and "12 faces from field/faces" in manifest["field"]["note"]
    for source_id, label, image in zip(faces.source_ids, faces.labels, faces.images, strict=True):
        assert (label, image.tobytes()) == (written[source_id][0], written[source_id][1].tobytes())

    # FER2013's artifact is byte for byte what it is without field faces: no train stage sees them (or re-runs).
    ingest(small_fer, tmp_path / "alone.npz", tmp_path / "alone.json")
    assert paths.DATASET.read_bytes() == (tmp_path / "alone.npz").read_bytes()
    assert manifest["split_sizes"] == {"Training": 42, "PublicTest": 42, "PrivateTest": 42}


@pytest.mark.parametrize("state", ["absent", "empty", "null"])
def test_no_field_faces_is_no_split_and_a_note_not_a_failure(tmp_path, small_fer, state):
    field = None if state == "null" else tmp_path / "field" / "faces"
    if state == "empty":
        (field / "happy").mkdir(parents=True)  # a label folder, no face yet
    manifest = ingest(small_fer, tmp_path / "ds.npz", tmp_path / "manifest.json", field, tmp_path / "field.npz")
    assert len(load_field(tmp_path / "field.npz")) == manifest["field"]["n_images"] == 0
    why = {"absent": f"no folder {field}", "empty": f"{field} holds no faces", "null": "data.field is null"}[state]
    assert manifest["field"]["note"].startswith(f"no field split ({why})")


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: cv2.imwrite(str(d / "happy" / "wide.png"), np.zeros((48, 64), np.uint8)),
     r"happy/wide.png: image is 64x48, expected 48x48"),
    (lambda d: (d / "happy" / "notes.txt").write_text("x"), r"happy/notes.txt: not an image file"),
    (lambda d: (d / "bored").mkdir(), r"unknown emotion folder 'bored'"),
])
def test_a_bad_field_file_is_named_and_nothing_is_written(tmp_path, small_fer, small_dataset, make, message):
    field = tmp_path / "faces"
    _collect(field, small_dataset, 3)
    (field / "happy").mkdir(exist_ok=True)
    make(field)
    with pytest.raises(DataError, match=message):
        ingest(small_fer, tmp_path / "out/ds.npz", tmp_path / "out/manifest.json", field, tmp_path / "out/field.npz")
    assert not (tmp_path / "out").exists()
