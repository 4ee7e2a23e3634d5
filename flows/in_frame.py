"""Place test faces into camera-like frames and find them again with the service's own detector, once for
every architecture (evaluation.in_frame): what the evaluate stage's pipeline accuracy classifies."""

from __future__ import annotations

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.evaluation.in_frame import save_searches, search_test_splits
from fer_platform.faces import DetectorSettings, FaceDetector


@task(name="search-test-faces-in-frames")
def in_frame_task(params: str) -> dict:
    loaded = load_params(params)
    serve = loaded.serve  # the service's own Haar settings: what /detect would find in these frames
    detector = FaceDetector(DetectorSettings(serve.haar_scale_factor, serve.haar_min_neighbors, serve.haar_min_face))
    searches = search_test_splits(load_dataset(paths.DATASET), loaded.evaluate.in_frame_faces, detector=detector)
    save_searches(paths.IN_FRAME, searches)
    return {split: {"faces": len(labels), "detected": int(found.found.sum())}
            for split, (labels, found) in searches.items()}


@flow(name="in_frame", log_prints=True)
def in_frame_flow(params: str = "params.yaml") -> dict:
    """Compose each sampled PublicTest/PrivateTest face into a 640x480 frame and run the Haar detector on it."""
    result = in_frame_task(params)
    for split, counts in result.items():
        print(f"{split}: {counts['detected']} of {counts['faces']} faces found in their frames")
    return result


def main(argv: list[str] | None = None) -> int:
    return run_stage("in_frame", in_frame_flow, argv, None,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest")])


if __name__ == "__main__":
    raise SystemExit(main())
