"""`make data` without the DVC remote beside the checkout: check that params.yaml's `data.source` is a FER2013 the
readers take (image folders or the challenge CSV) before anything runs, and say how to get one if it is not.

    python -m fer_platform.data.source_check [params.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

from fer_platform.config import load_params
from fer_platform.errors import UserError, entry_point

KAGGLE = "https://www.kaggle.com/datasets/msambare/fer2013 (image folders) or the challenge's fer2013.csv"


def check_source(source: Path) -> str:
    """What `source` is ("image folders" or "CSV"), or UserError saying how to provide one."""
    if source.is_file() and source.suffix == ".csv":
        return "CSV"
    if (source / "train").is_dir() and (source / "test").is_dir():
        return "image folders"
    raise UserError(f"no DVC remote (../shared/dvc-store) and data.source {source} is not a FER2013: download it "
                    f"from {KAGGLE}, then unpack the folders to {source}/ (train/<emotion>/, test/<emotion>/) or set "
                    "data.source in params.yaml to the CSV file")


@entry_point("data")
def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    params = args[0] if args else "params.yaml"
    source = Path(load_params(params).data.source)
    kind = check_source(source)
    print(f"data: no DVC remote here; using your own FER2013 at {source} ({kind}); ingest reads it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
