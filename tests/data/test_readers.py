import numpy as np
import pytest

from fer_platform.data.dataset import DataError, load_dataset
from fer_platform.data.ingest import ingest
from fer_platform.data.readers import read_fer2013, write_challenge_csv
from fer_platform.labels import EMOTIONS, SPLITS


def test_image_folders_read_into_the_canonical_arrays(small_dataset):
    assert len(small_dataset) == 126
    assert small_dataset.images.dtype == np.uint8 and small_dataset.images.shape[1:] == (48, 48)
    counts = small_dataset.counts()
    assert all(counts[s][e] == 6 for s in SPLITS for e in EMOTIONS)
    first = small_dataset.source_ids[0]
    assert first.startswith("train/angry/Training_")  # train/ then test/, sorted: stable relative ids
    # label comes from the folder, split from the file-name prefix
    i = list(small_dataset.source_ids).index(next(s for s in small_dataset.source_ids if "train/happy/" in s))
    assert EMOTIONS[small_dataset.labels[i]] == "happy" and SPLITS[small_dataset.splits[i]] == "Training"


def test_challenge_csv_built_from_real_images_reads_back_identically(tmp_path, small_dataset):
    csv_path = tmp_path / "fer2013.csv"
    write_challenge_csv(small_dataset, csv_path)
    from_csv = read_fer2013(csv_path)
    np.testing.assert_array_equal(from_csv.images, small_dataset.images)
    np.testing.assert_array_equal(from_csv.labels, small_dataset.labels)
    np.testing.assert_array_equal(from_csv.splits, small_dataset.splits)
    assert from_csv.source_ids[0] == "row:1"


def test_ingest_writes_dataset_and_manifest(tmp_path, small_fer):
    manifest = ingest(small_fer, tmp_path / "out/ds.npz", tmp_path / "out/manifest.json")
    loaded = load_dataset(tmp_path / "out/ds.npz")
    assert manifest["n_images"] == len(loaded) == 126
    assert manifest["split_sizes"] == {"Training": 42, "PublicTest": 42, "PrivateTest": 42}
    assert manifest["content_sha256"] == loaded.content_hash()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds.npz", "manifest.json"]  # no temp files


def _first(root, pattern):
    return sorted(root.glob(pattern))[0]


def test_corrupt_jpeg_is_named_and_nothing_is_written(tmp_path, fer_copy):
    victim = _first(fer_copy, "train/sad/*.jpg")
    victim.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataError, match=rf"{victim.name}: not a decodable image"):
        ingest(fer_copy, tmp_path / "out/ds.npz", tmp_path / "out/manifest.json")
    assert not (tmp_path / "out" / "ds.npz").exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_wrong_image_size_is_named(fer_copy):
    import cv2

    victim = _first(fer_copy, "test/fear/PublicTest_*.jpg")
    cv2.imwrite(str(victim), np.zeros((64, 48), np.uint8))
    with pytest.raises(DataError, match=rf"{victim.name}: image is 48x64, expected 48x48"):
        read_fer2013(fer_copy)


def test_unknown_emotion_folder_is_named(fer_copy):
    (fer_copy / "train" / "sad").rename(fer_copy / "train" / "sadness")
    with pytest.raises(DataError, match="unknown emotion folder 'sadness'; known: angry"):
        read_fer2013(fer_copy)


def test_missing_split_is_reported(fer_copy):
    for path in fer_copy.glob("test/*/PrivateTest_*.jpg"):
        path.unlink()
    with pytest.raises(DataError, match="split\\(s\\) PrivateTest have no images"):
        read_fer2013(fer_copy)


def test_file_with_a_foreign_split_prefix_is_named(fer_copy):
    victim = _first(fer_copy, "train/angry/*.jpg")
    victim.rename(victim.with_name("PublicTest_1.jpg"))
    with pytest.raises(DataError, match="PublicTest_1.jpg: file name must start with one of Training_ .*got .PublicTest."):
        read_fer2013(fer_copy)


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        read_fer2013(tmp_path / "nowhere")


@pytest.fixture
def csv_lines(tmp_path, small_dataset):
    path = tmp_path / "fer2013.csv"
    write_challenge_csv(small_dataset, path)
    return path, path.read_text().splitlines()


def test_csv_missing_column(csv_lines):
    path, lines = csv_lines
    path.write_text("\n".join([lines[0].replace("Usage", "usage_typo"), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="missing column\\(s\\) Usage"):
        read_fer2013(path)


def test_csv_pixels_of_wrong_length_name_the_row(csv_lines):
    path, lines = csv_lines
    label, pixels, usage = lines[3].split(",")
    lines[3] = ",".join([label, pixels.rsplit(" ", 1)[0], usage])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="row 3 \\(line 4\\): pixels has 2303 values, expected 2304"):
        read_fer2013(path)


def test_csv_out_of_range_values_and_labels(csv_lines):
    path, lines = csv_lines
    label, pixels, usage = lines[2].split(",")
    path.write_text("\n".join([*lines[:2], ",".join(["9", pixels, usage]), *lines[3:]]) + "\n")
    with pytest.raises(DataError, match="row 2 .*emotion 9 is outside 0..6"):
        read_fer2013(path)
    path.write_text("\n".join([*lines[:2], ",".join([label, "300" + pixels[pixels.index(" "):], usage])]) + "\n")
    with pytest.raises(DataError, match="row 2 .*pixel values must be in 0..255"):
        read_fer2013(path)


def test_csv_with_a_byte_order_mark_reads_like_without(csv_lines, small_dataset):
    path, lines = csv_lines
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel and some editors save "UTF-8"
    assert read_fer2013(path).content_hash() == read_fer2013(path).content_hash()
    assert len(read_fer2013(path)) == len(small_dataset)


def test_csv_that_is_not_utf8_or_has_extra_fields_is_named(csv_lines):
    path, lines = csv_lines
    path.write_bytes(("\n".join([lines[0], lines[1] + ",r\xe9sum\xe9", *lines[2:]]) + "\n").encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_fer2013(path)
    path.write_text("\n".join([lines[0], lines[1] + ",extra", *lines[2:]]) + "\n")
    with pytest.raises(DataError, match="row 1 .*1 more field"):
        read_fer2013(path)


def test_a_file_that_is_not_an_image_is_named_not_skipped(fer_copy):
    (fer_copy / "train" / "happy" / "notes.txt").write_text("not a face")
    (fer_copy / "train" / "happy" / ".DS_Store").write_bytes(b"\x00")  # OS metadata: hidden files are ignored
    with pytest.raises(DataError, match="notes.txt: not an image file"):
        read_fer2013(fer_copy)
