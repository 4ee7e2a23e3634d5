"""Wall time of ingest + validate on the full FER2013 (target: <= 60 s on 2 cores).

    python bench/ingest_validate.py [--fer PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, write_result

from fer_platform.config import ValidateSettings
from fer_platform.data.dataset import load_dataset
from fer_platform.data.ingest import ingest
from fer_platform.validation.report import validate_dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            manifest = ingest(args.fer, Path(tmp) / "ds.npz", Path(tmp) / "manifest.json")
            t1 = time.perf_counter()
            report = validate_dataset(load_dataset(Path(tmp) / "ds.npz"), ValidateSettings(), Path(tmp) / "docs")
            t2 = time.perf_counter()
        runs.append({"ingest_s": round(t1 - t0, 2), "validate_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2)})
        assert report.success, report.errors
    write_result("ingest_validate", {
        "n_images": manifest["n_images"], "runs": runs,
        "median_total_s": statistics.median(r["total_s"] for r in runs), "target_s": 60,
        "note": "in-process functions (the DVC stages add ~5-10 s each for Prefect's temporary server)",
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
