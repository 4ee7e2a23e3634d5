"""Ingest FER2013 (image folders or challenge CSV) into the canonical dataset artifact, and the field dataset
(data.field: faces labelled through POST /feedback) into a split of its own."""

from __future__ import annotations

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.data.ingest import ingest


@task(name="read-and-write-canonical-dataset")
def ingest_task(source: str, dataset: str, manifest: str, field: str | None, field_dataset: str) -> dict:
    return ingest(source, dataset, manifest, field, field_dataset)


@flow(name="ingest", log_prints=True)
def ingest_flow(params: str = "params.yaml", source: str | None = None) -> dict:
    """Read FER2013 from `data.source` (or --source) and the field faces from `data.field`; write the canonical
    dataset, the field split and the manifest."""
    settings = load_params(params).data
    manifest = ingest_task(source or settings.source, str(paths.DATASET), str(paths.MANIFEST), settings.field,
                           str(paths.FIELD))
    print(f"ingested {manifest['n_images']} images: {manifest['split_sizes']} -> {paths.DATASET}")
    print(manifest["field"]["note"])
    return manifest


def main(argv: list[str] | None = None) -> int:
    return run_stage(
        "ingest",
        ingest_flow,
        argv,
        lambda p: p.add_argument("--source", help="override data.source: an image-folder root or a CSV"),
        lambda args, params: [(args["source"] or params.data.source,
                               "the FER2013 image folders or fer2013.csv; `dvc pull data.dvc` fetches the pinned copy")],
    )


if __name__ == "__main__":
    raise SystemExit(main())
