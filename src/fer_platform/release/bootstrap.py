"""Make a fresh clone servable: release/model.keras becomes `champion` of an empty registry."""

from __future__ import annotations

import json
from pathlib import Path

from fer_platform.models import load_model
from fer_platform.release import CARD_FILE, MODEL_FILE, RELEASE_DIR
from fer_platform.tracking.model_versions import CHAMPION, alias_lock, aliased_version
from fer_platform.tracking.release_runs import register_release


def bootstrap_champion(registered_model: str, release_dir: Path = RELEASE_DIR) -> dict:
    """Register release/model.keras as `champion` if the registry has none; otherwise leave it alone."""
    card_path = release_dir / CARD_FILE
    if not card_path.exists():
        raise FileNotFoundError(f"{card_path}: no committed release model to bootstrap from")
    card = json.loads(card_path.read_text())
    with alias_lock(registered_model):  # a promotion running meanwhile is never overwritten
        current = aliased_version(registered_model, CHAMPION)
        if current is not None:
            return {"bootstrapped": False,
                    "reason": f"{registered_model}@{CHAMPION} exists (version {current.version})"}
        reason = f"bootstrap: committed release model (PrivateTest {card['privatetest']['accuracy']:.4f})"
        version = register_release(card, load_model(release_dir / MODEL_FILE), release_dir, registered_model,
                                   CHAMPION, reason, champion_seen=None)
    return {"bootstrapped": True, "version": version, "reason": reason}
