import json

import numpy as np
import pandas as pd

from fer_platform.config import ValidateSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.labels import SPLIT_TO_CODE
from fer_platform.validation import suite
from fer_platform.data.splits import train_test_duplicate_mask
from fer_platform.validation.report import validate_dataset
from tests.conftest import SMALL_MAX_BLANK_FRACTION, SMALL_SPLIT_SIZES


def settings(**kw) -> ValidateSettings:
    kw.setdefault("max_blank_fraction", SMALL_MAX_BLANK_FRACTION)
    kw.setdefault("expected_split_sizes", SMALL_SPLIT_SIZES)
    return ValidateSettings(**kw)


def with_images(ds: FerDataset, images: np.ndarray) -> FerDataset:
    return FerDataset(images, ds.labels, ds.splits, ds.source_ids)


def test_real_subset_passes_and_writes_data_docs(tmp_path, small_dataset):
    report = validate_dataset(small_dataset, settings(), tmp_path / "docs")
    assert report.success, report.errors
    assert report.to_dict()["n_expectations"] >= 15
    assert (tmp_path / "docs" / "index.html").exists()
    json.dumps(report.to_dict())  # the summary is JSON-serialisable as written by the stage


def test_split_size_mismatch_is_an_error(tmp_path, small_dataset):
    report = validate_dataset(small_dataset, ValidateSettings(), tmp_path / "docs")  # full-size expectations
    assert not report.success
    assert any("expect_column_pair_values_to_be_equal" in e and "n_images" in e for e in report.errors)


def test_missing_class_in_a_split_is_an_error(tmp_path, small_dataset):
    keep = ~((small_dataset.splits == SPLIT_TO_CODE["PublicTest"]) & (small_dataset.labels == 1))
    ds = small_dataset.subset(keep)
    report = validate_dataset(ds, settings(expected_split_sizes={"Training": 42, "PrivateTest": 42}),
                              tmp_path / "docs")
    assert any("n_classes" in e for e in report.errors), report.errors


def test_gx_flags_bad_labels_and_pixel_counts(tmp_path, small_dataset):
    table = suite.image_table(small_dataset, np.full(len(small_dataset), 30.0))
    table.loc[3, "label"] = 9
    table.loc[5, "n_pixels"] = 2303
    table.loc[7, "split"] = "Validation"
    outcomes = suite.run_suites({"images": table}, tmp_path / "docs")
    failed = {(o["expectation"], o["kwargs"].get("column")) for o in outcomes if not o["success"]}
    assert ("expect_column_values_to_be_in_set", "label") in failed
    assert ("expect_column_values_to_be_between", "n_pixels") in failed
    assert ("expect_column_values_to_be_in_set", "split") in failed
    nulls = table.copy()
    nulls["pixel_std"] = nulls["pixel_std"].astype(object)
    nulls.loc[0, "pixel_std"] = None
    outcomes = suite.run_suites({"images": pd.DataFrame(nulls)}, tmp_path / "docs2")
    assert any(o["expectation"] == "expect_column_values_to_not_be_null" and not o["success"] for o in outcomes)


def _leak_one_test_image(ds: FerDataset) -> tuple[FerDataset, int, int]:
    train_i = int(np.flatnonzero(ds.splits == SPLIT_TO_CODE["Training"])[0])
    test_i = int(np.flatnonzero(ds.splits == SPLIT_TO_CODE["PrivateTest"])[0])
    images = ds.images.copy()
    images[train_i] = images[test_i]
    return with_images(ds, images), train_i, test_i


def test_train_test_duplicates_are_reported_as_a_leak_with_ids(tmp_path, small_dataset):
    ds, train_i, test_i = _leak_one_test_image(small_dataset)
    report = validate_dataset(ds, settings(), tmp_path / "docs")
    assert report.success  # a warning by default ...
    leak = [w for w in report.warnings if w.startswith("train/test leak: Training~PrivateTest")]
    assert leak and ds.source_ids[train_i] in leak[0] and ds.source_ids[test_i] in leak[0]
    # the subset already holds real leaks (blank faces repeat across splits): one more, at train_i
    baseline = train_test_duplicate_mask(small_dataset)
    assert not baseline[train_i] and train_test_duplicate_mask(ds).sum() == baseline.sum() + 1
    assert train_test_duplicate_mask(ds)[train_i]
    strict = validate_dataset(ds, settings(fail_on_train_test_leak=True), tmp_path / "docs")
    assert any(e.startswith("train/test leak") for e in strict.errors)  # ... an error when configured


def test_duplicates_within_a_split_are_counted(tmp_path, small_dataset):
    train = np.flatnonzero(small_dataset.splits == SPLIT_TO_CODE["Training"])
    images = small_dataset.images.copy()
    images[train[1]] = images[train[0]]
    images[train[2]] = images[train[0]]
    report = validate_dataset(with_images(small_dataset, images), settings(), tmp_path / "docs")
    within = report.duplicates["within_split"]["Training"]
    assert within["groups"] >= 1 and within["extra_copies"] >= 2


def test_blank_images_warn_and_too_many_fail(tmp_path, small_dataset):
    images = small_dataset.images.copy()
    public = np.flatnonzero(small_dataset.splits == SPLIT_TO_CODE["PublicTest"])
    images[public[0]] = 128
    ds = with_images(small_dataset, images)
    report = validate_dataset(ds, settings(max_blank_fraction=0.5), tmp_path / "docs")
    assert report.success and any("PublicTest: 1 blank images" in w for w in report.warnings)
    assert "train/angry/Training_10131352.jpg" in report.blanks["Training"]["examples"]  # the real one
    assert ds.source_ids[public[0]] in report.blanks["PublicTest"]["examples"]
    report = validate_dataset(ds, settings(max_blank_fraction=0.01), tmp_path / "docs")
    assert any(e.startswith("PublicTest: 1 blank") and "exceeds max_blank_fraction" in e for e in report.errors)


def test_data_docs_directory_is_replaced_whole(tmp_path, small_dataset):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "stale.html").write_text("old")
    validate_dataset(small_dataset, settings(), docs)
    assert not (docs / "stale.html").exists() and (docs / "index.html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".docs")]
