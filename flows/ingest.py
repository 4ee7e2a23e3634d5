"""Ingest FER2013 (image folders or challenge CSV) into the canonical dataset artifact."""

from __future__ import annotations

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.data.ingest import ingest


@task(name="read-and-write-canonical-dataset")
def ingest_task(source: str, dataset: str, manifest: str) -> dict:
    return ingest(source, dataset, manifest)


@flow(name="ingest", log_prints=True)
def ingest_flow(params: str = "params.yaml", source: str | None = None) -> dict:
    """Read FER2013 from `data.source` (or --source) and write the canonical dataset and manifest."""
    settings = load_params(params).data
    manifest = ingest_task(source or settings.source, str(paths.DATASET), str(paths.MANIFEST))
    print(f"ingested {manifest['n_images']} images: {manifest['split_sizes']} -> {paths.DATASET}")
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
