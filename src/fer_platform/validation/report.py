"""Run every validation over a canonical dataset and decide: errors fail the stage, warnings are reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fer_platform.config import ValidateSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.io import atomic_dir
from fer_platform.labels import SPLITS, TRAIN
from fer_platform.validation import checks, suite


@dataclass
class ValidationReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    expectations: list[dict] = field(default_factory=list)
    duplicates: dict = field(default_factory=dict)
    blanks: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "errors": self.errors,
            "warnings": self.warnings,
            "n_expectations": len(self.expectations),
            "n_failed_expectations": sum(not e["success"] for e in self.expectations),
            "counts": self.counts,
            "duplicates": self.duplicates,
            "blank_images": self.blanks,
            "expectations": self.expectations,
        }


def validate_dataset(dataset: FerDataset, settings: ValidateSettings, docs_dir: Path) -> ValidationReport:
    report = ValidationReport(counts=dataset.counts())
    std = checks.pixel_std(dataset)
    tables = {
        "images": suite.image_table(dataset, std),
        "splits": suite.split_table(dataset, settings.expected_split_sizes),
    }
    with atomic_dir(docs_dir) as tmp_docs:
        report.expectations = suite.run_suites(tables, tmp_docs)
    for outcome in report.expectations:
        if not outcome["success"]:
            detail = outcome["unexpected_examples"] or outcome["observed_value"]
            count = outcome["unexpected_count"]
            rows = "" if count is None else f" for {count} rows"
            report.errors.append(
                f"GX {outcome['table']}: {outcome['expectation']}({_short(outcome['kwargs'])}) failed{rows}: {detail}"
            )
    n = settings.examples_per_finding
    report.duplicates = checks.duplicate_report(dataset, dataset.image_digests(), n)
    for split, entry in report.duplicates["within_split"].items():
        if entry["extra_copies"]:
            report.warnings.append(
                f"{split}: {entry['extra_copies']} exact duplicate images in {entry['groups']} groups, "
                f"e.g. {entry['examples'][:2]}"
            )
    for pair, entry in report.duplicates["across_splits"].items():
        if not entry["images"]:
            continue
        message = f"{pair}: {entry['images']} images appear in both splits, e.g. {entry['examples'][:2]}"
        if pair.startswith(TRAIN):
            message = f"train/test leak: {message}"
            (report.errors if settings.fail_on_train_test_leak else report.warnings).append(message)
        else:
            report.warnings.append(message)
    conflicting = report.duplicates["conflicting_labels"]
    if conflicting["groups"]:
        report.warnings.append(
            f"{conflicting['groups']} duplicate groups carry different labels, e.g. {conflicting['examples'][:2]}"
        )
    report.blanks = checks.blank_report(dataset, std, settings.blank_std_threshold, n)
    for split in SPLITS:
        entry = report.blanks[split]
        if not entry["count"]:
            continue
        message = (
            f"{split}: {entry['count']} blank images ({entry['fraction']:.3%}, pixel std < "
            f"{settings.blank_std_threshold}), e.g. {entry['examples']}"
        )
        too_many = entry["fraction"] > settings.max_blank_fraction
        (report.errors if too_many else report.warnings).append(
            message + (f" exceeds max_blank_fraction {settings.max_blank_fraction}" if too_many else "")
        )
    return report


def _short(kwargs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in kwargs.items() if k in ("column", "column_A", "column_B"))
