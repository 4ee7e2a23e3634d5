"""The Great Expectations suites over the ingested table, run in an ephemeral context (no GX project on disk)
with Data Docs written to a chosen directory.

GX validates two tables derived from the canonical dataset: one row per image (ids, label, split and pixel
statistics: 2304 values per image in 0..255) and one row per split (size against params, classes present).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fer_platform.contract import NUM_PIXELS
from fer_platform.data.dataset import FerDataset
from fer_platform.labels import NUM_CLASSES, SPLITS

IMAGE_COLUMNS = ["source_id", "label", "split", "n_pixels", "pixel_min", "pixel_max", "pixel_std"]
SPLIT_COLUMNS = ["split", "n_images", "expected_images", "n_classes"]


def image_table(dataset: FerDataset, std: np.ndarray) -> pd.DataFrame:
    flat = dataset.images.reshape(len(dataset), -1)
    return pd.DataFrame(
        {
            "source_id": dataset.source_ids.astype(object),
            "label": dataset.labels.astype(np.int64),
            "split": np.array(SPLITS, dtype=object)[dataset.splits],
            "n_pixels": np.full(len(dataset), flat.shape[1], dtype=np.int64),
            "pixel_min": flat.min(axis=1).astype(np.int64),
            "pixel_max": flat.max(axis=1).astype(np.int64),
            "pixel_std": std.astype(np.float64),
        }
    )


def split_table(dataset: FerDataset, expected_sizes: dict[str, int]) -> pd.DataFrame:
    rows = []
    for code, name in enumerate(SPLITS):
        labels = dataset.labels[dataset.splits == code]
        n = len(labels)
        # A split without a configured size is checked against itself (its size is not pinned).
        rows.append((name, n, expected_sizes.get(name, n), len(np.unique(labels))))
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)


def _image_expectations(gxe) -> list:
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=IMAGE_COLUMNS, exact_match=True),
        gxe.ExpectColumnValuesToBeOfType(column="label", type_="int64"),
        gxe.ExpectColumnValuesToBeOfType(column="n_pixels", type_="int64"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(NUM_CLASSES))),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="split", value_set=list(SPLITS)),
        gxe.ExpectColumnValuesToBeBetween(column="n_pixels", min_value=NUM_PIXELS, max_value=NUM_PIXELS),
        gxe.ExpectColumnValuesToBeBetween(column="pixel_min", min_value=0, max_value=255),
        gxe.ExpectColumnValuesToBeBetween(column="pixel_max", min_value=0, max_value=255),
        gxe.ExpectColumnValuesToBeUnique(column="source_id"),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in IMAGE_COLUMNS],
    ]


def _split_expectations(gxe) -> list:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(column_A="n_images", column_B="expected_images"),
        gxe.ExpectColumnValuesToBeBetween(column="n_classes", min_value=NUM_CLASSES, max_value=NUM_CLASSES),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
    ]


def run_suites(tables: dict[str, pd.DataFrame], docs_dir: Path) -> list[dict]:
    """Validate each table with its suite; write Data Docs to `docs_dir`; return one summary per expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # heavy: imported only when validating
    import great_expectations.expectations as gxe

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.add_data_docs_site(
        site_name="fer2013",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("fer2013")
    expectations = {"images": _image_expectations(gxe), "splits": _split_expectations(gxe)}
    outcomes: list[dict] = []
    for table_name, frame in tables.items():
        batch = source.add_dataframe_asset(table_name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=f"fer2013_{table_name}"))
        for expectation in expectations[table_name]:
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"fer2013_{table_name}", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"fer2013_{table_name}",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
                result_format="SUMMARY",
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        for run_result in result.run_results.values():
            for r in run_result.results:
                cfg = r.expectation_config
                outcomes.append(
                    {
                        "table": table_name,
                        "expectation": cfg.type,
                        "kwargs": {k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
                        "success": bool(r.success),
                        "unexpected_count": r.result.get("unexpected_count"),
                        "unexpected_examples": (r.result.get("partial_unexpected_list") or [])[:5],
                        "observed_value": r.result.get("observed_value"),
                    }
                )
    return outcomes
