"""plan_72.sh trains twice on one host work folder: the second `train` must not unpack and decode the pack again
(its ~11 s come out of the student's deadline), but a different pack must."""

from fer_platform.data.pack import pack_image_folders
from fer_platform.hosted import host


def test_a_second_train_on_the_same_pack_reuses_the_dataset(small_fer, tmp_path, monkeypatch):
    pack, work = tmp_path / "pack.npz", tmp_path / "work"
    pack_image_folders(small_fer, pack)
    work.mkdir()
    first = host.dataset_from_pack(pack, work)
    calls = []
    monkeypatch.setattr(host, "unpack_image_folders", lambda *a: calls.append(a))
    again = host.dataset_from_pack(pack, work)
    assert calls == [] and again.content_hash() == first.content_hash()
    other = tmp_path / "other.npz"
    pack_image_folders(small_fer, other)  # another file: unpacked, never trusted from the stamp
    monkeypatch.undo()
    assert host.dataset_from_pack(other, work).content_hash() == first.content_hash()
    assert (work / "dataset.source").read_text().startswith(str(other.resolve()))
