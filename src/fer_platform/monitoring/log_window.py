"""A window of the service's prediction log (serving.prediction_log's rotating JSON-lines files)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from fer_platform.errors import UserError

LOG_GLOB = "predictions.jsonl*"


def read_window(directory: str | Path, since: datetime | None = None, last: int | None = None,
                model: str | None = None) -> list[dict]:
    """The log's records in time order: those at or after `since`, of `model` (a BentoML tag) when given, and
    of those the newest `last`. A line that is not a record (cut short by a crash) is skipped."""
    directory = Path(directory)
    files = sorted(directory.glob(LOG_GLOB)) if directory.is_dir() else []
    if not files:
        raise UserError(f"{directory}: no prediction log here ({LOG_GLOB}; serve.prediction_log.dir in params.yaml)")
    records = []
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                record["_time"] = datetime.fromisoformat(record["time"])
            except (ValueError, KeyError, TypeError):
                continue
            if (since is None or record["_time"] >= since) and (model is None or record.get("model") == model):
                records.append(record)
    records.sort(key=lambda r: r["_time"])
    return records[-last:] if last else records
