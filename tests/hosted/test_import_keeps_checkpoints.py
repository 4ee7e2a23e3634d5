"""`hosted import` never destroys a checkpoint: one already in artifacts/checkpoints/<arch> is set aside in
`superseded/` before the returned weights are installed. The returned results are built here (result.json,
the host's state.json, weights bytes), so the real import runs against a real dataset without a training."""

import json
import tarfile

from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.data.ingest import ingest
from fer_platform.hosted.host import RESULT
from fer_platform.hosted.importer import import_results
from fer_platform.training import checkpoints
from fer_platform.training.checkpoints import BEST, LAST, STATE, SUPERSEDED, fingerprint, fresh_state
from tests.conftest import REPO

ARCH = "cnn"


def _returned(root, fp: str, dataset_hash: str, weights: bytes):
    """What a host hands back for one finished architecture (fer_platform.hosted.host's layout)."""
    work, out = root / "work" / ARCH, root / "out"
    (work / "checkpoint").mkdir(parents=True)
    out.mkdir()
    (work / RESULT).write_text(json.dumps({"arch": ARCH, "dataset_sha256": dataset_hash, "fingerprint": fp,
                                           "settings": {}, "trained_on": {"backend": "test"},
                                           "truncated_by_deadline": False}))
    (work / "checkpoint" / STATE).write_text(json.dumps({**fresh_state(fp), "epoch": 2, "best_epoch": 2}))
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        tar.add(work / RESULT, arcname=f"{ARCH}/{RESULT}")
        tar.add(work / "checkpoint" / STATE, arcname=f"{ARCH}/checkpoint/{STATE}")
    (out / f"{ARCH}.keras").write_bytes(weights)
    return out


def _local_checkpoint(ckpt, fp: str, epoch: int) -> None:
    ckpt.mkdir(parents=True, exist_ok=True)
    for name in (LAST, BEST):
        (ckpt / name).write_bytes(f"local {fp} epoch {epoch}".encode())
    (ckpt / STATE).write_text(json.dumps({**fresh_state(fp), "epoch": epoch, "best_epoch": epoch}))


def test_import_sets_an_existing_checkpoint_aside_instead_of_overwriting_it(small_fer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # checkpoints live relative to the project root
    dataset_path = tmp_path / "artifacts/dataset/fer2013.npz"
    ingest(small_fer, dataset_path, tmp_path / "artifacts/dataset/manifest.json")
    dataset = load_dataset(dataset_path)
    fp = fingerprint(load_params(str(REPO / "params.yaml")).train_settings(ARCH), dataset)
    ckpt = tmp_path / "artifacts/checkpoints" / ARCH

    # 1. A local training of the same settings, interrupted at epoch 1: kept under a name nothing reuses.
    _local_checkpoint(ckpt, fp, epoch=1)
    out = _returned(tmp_path / "first", fp, dataset.content_hash(), b"returned weights")
    (item,) = import_results(out, str(REPO / "params.yaml"), dataset_path)
    assert (ckpt / LAST).read_bytes() == (ckpt / BEST).read_bytes() == b"returned weights"
    assert json.loads((ckpt / STATE).read_text())["epoch"] == 2
    (kept,) = (ckpt / SUPERSEDED).iterdir()
    assert item["kept"] == str(kept.relative_to(tmp_path))
    assert (kept / LAST).read_bytes() == f"local {fp} epoch 1".encode()
    assert json.loads((kept / STATE).read_text())["epoch"] == 1

    # 2. A local checkpoint of other settings: kept under its fingerprint, so those settings resume from it.
    _local_checkpoint(ckpt, "otherparams", epoch=5)
    import_results(_returned(tmp_path / "second", fp, dataset.content_hash(), b"again"), str(REPO / "params.yaml"),
                   dataset_path)
    assert (ckpt / LAST).read_bytes() == b"again"
    assert (ckpt / SUPERSEDED / "otherparams" / LAST).read_bytes() == b"local otherparams epoch 5"
    assert (kept / LAST).read_bytes() == f"local {fp} epoch 1".encode()  # the first one is still there
    assert not [p.name for p in ckpt.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert checkpoints.load_state(ckpt, "otherparams")["epoch"] == 5  # and it resumes, as any superseded checkpoint does
