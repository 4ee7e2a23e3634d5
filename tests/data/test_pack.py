"""The one-file image pack sent to training hosts is byte-exact and refuses bad input."""

import numpy as np
import pytest

from fer_platform.data.dataset import DataError
from fer_platform.data.pack import pack_image_folders, unpack_image_folders
from fer_platform.data.readers import read_fer2013


def test_round_trip_is_byte_identical_and_reads_to_the_same_dataset(small_fer, small_dataset, tmp_path):
    info = pack_image_folders(small_fer, tmp_path / "pack.npz")
    assert info["files"] == 126 and info["shared_prefix"] > 0 and info["bytes_out"] < info["bytes_in"]
    assert unpack_image_folders(tmp_path / "pack.npz", tmp_path / "out") == 126
    for original in sorted(p for p in small_fer.rglob("*.jpg")):
        copy = tmp_path / "out" / original.relative_to(small_fer)
        assert copy.read_bytes() == original.read_bytes()
    assert read_fer2013(tmp_path / "out").content_hash() == small_dataset.content_hash()


def test_a_file_that_is_not_a_pack_is_a_data_error(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not an image pack"):
        unpack_image_folders(tmp_path / "junk.npz", tmp_path / "out")


def test_paths_outside_the_target_are_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", prefix=np.zeros(1, np.uint8), blob=np.zeros(2, np.uint8),
             offsets=np.array([0, 2]), paths=np.frombuffer(b"../escape.jpg", np.uint8))
    with pytest.raises(DataError, match="outside the target"):
        unpack_image_folders(tmp_path / "evil.npz", tmp_path / "out")
    assert not (tmp_path / "escape.jpg").exists()


def test_nothing_to_pack_is_a_data_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no files"):
        pack_image_folders(tmp_path, tmp_path / "pack.npz")
