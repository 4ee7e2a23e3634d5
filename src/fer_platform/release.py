"""The committed release model: export (with a model card) and bootstrap into an empty registry.

release/ holds model.keras (weights only, no optimizer state), model_card.json, MODEL_CARD.md and the
PrivateTest confusion matrix. `bootstrap_champion` registers it as the first `champion` so a fresh clone
can serve before anyone trains; later training competes with it through the normal promotion gate.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.evaluation.evaluate import evaluate_model, metrics_summary
from fer_platform.evaluation.plots import confusion_matrix_png, training_curves_png
from fer_platform.io import write_json
from fer_platform.labels import EMOTIONS, REPORT
from fer_platform.models.registry import load_model

RELEASE_DIR = Path("release")


def export_release(model_path: Path, arch: str, settings: TrainSettings, state: dict, dataset: FerDataset,
                   out_dir: Path, lineage: dict, notes: str = "") -> dict:
    """Strip optimizer state, evaluate on the full PublicTest/PrivateTest, write the model card."""
    from fer_platform.training.fit import weights_only

    clean = weights_only(load_model(model_path), settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    training_curves_png(state["history"], f"{arch} training", out_dir / "training_curves.png")
    return _write_release(clean, dataset, settings, out_dir, lineage, notes, {
        "arch": arch, "architecture": settings.architecture, "params": settings.model_dump(),
        "epochs_planned": settings.epochs, "epochs_completed": state["epoch"], "best_epoch": state["best_epoch"],
        "selection": "best epoch by PublicTest accuracy; PrivateTest reported once",
        "train_seconds": round(state["train_seconds"], 1), "hardware": _hardware(state),
    })


def ensemble_release(member_dirs: list[Path], dataset: FerDataset, out_dir: Path, lineage: dict,
                     notes: str = "") -> dict:
    """One release whose graph averages the probabilities of committed releases (dirs written by export)."""
    from fer_platform.models.ensemble import average_probabilities

    cards = [_read_card(d) for d in member_dirs]
    data_hash = dataset.content_hash()  # a sha256 over every image: once, not per member
    for member_dir, card in zip(member_dirs, cards):
        if "members" in card:
            raise ValueError(f"{member_dir}: is an ensemble already; list its members instead")
        if card["data"]["content_sha256"] != data_hash:
            raise ValueError(f"{member_dir}: trained and evaluated on other data "
                             f"({card['data']['content_sha256'][:12]} != {data_hash[:12]})")
    model = average_probabilities([load_model(d / "model.keras") for d in member_dirs],
                                  name="ensemble_" + "_".join(c["arch"] for c in cards))
    settings = TrainSettings.model_validate(cards[0]["params"])  # only its eval subset (none) and seed matter
    out_dir.mkdir(parents=True, exist_ok=True)
    members = [{key: card[key] for key in _MEMBER_KEYS} | {"source": str(d)} for d, card in zip(member_dirs, cards)]
    best_member = max(cards, key=lambda c: c["publictest"]["accuracy"])
    return _write_release(model, dataset, settings, out_dir, lineage, notes, {
        "arch": "+".join(c["arch"] for c in cards), "architecture": "ensemble (mean of member probabilities)",
        "params": {c["arch"]: c["params"] for c in cards},
        "epochs_planned": [c["epochs_planned"] for c in cards],
        "epochs_completed": [c["epochs_completed"] for c in cards],
        "best_epoch": [c["best_epoch"] for c in cards],
        "selection": (f"each member: best epoch by PublicTest accuracy; the ensemble is compared with its best "
                      f"member `{best_member['arch']}` ({best_member['publictest']['accuracy']:.4f}) on "
                      f"PublicTest only; PrivateTest reported once"),
        "train_seconds": round(sum(c["train_seconds"] for c in cards), 1),
        "hardware": " + ".join(dict.fromkeys(c["hardware"] for c in cards)),
        "members": members,
    })


_MEMBER_KEYS = ("arch", "architecture", "epochs_planned", "epochs_completed", "best_epoch", "train_seconds",
                "hardware", "code_commit", "publictest", "privatetest", "size_bytes")


def _read_card(release_dir: Path) -> dict:
    for name in ("model_card.json", "model.keras"):
        if not (release_dir / name).is_file():
            raise FileNotFoundError(f"{release_dir / name}: not found (a release directory written by "
                                    f"`python -m fer_platform.release export` has model.keras and model_card.json)")
    return json.loads((release_dir / "model_card.json").read_text())


def _write_release(model, dataset: FerDataset, settings: TrainSettings, out_dir: Path, lineage: dict, notes: str,
                   training: dict) -> dict:
    """Save the weights-only model, evaluate it on the full test splits, write the card and its matrix image."""
    import keras

    model.save(out_dir / "model.keras")
    full = settings.model_copy(update={"max_eval_per_class": None})
    reports = evaluate_model(model, dataset, full)
    summary = metrics_summary(training["arch"], reports)
    confusion_matrix_png(np.array(reports[REPORT]["confusion_matrix"]),
                         f"{training['arch']} PrivateTest: accuracy {reports[REPORT]['accuracy']:.4f}",
                         out_dir / "confusion_matrix_privatetest.png")
    card = {
        "registered_model": "fer-classifier", **training,
        "data": {"dvc_md5": lineage.get("data.dvc_md5"), "content_sha256": dataset.content_hash(),
                 "n_train": len(dataset.split("Training"))},
        "code_commit": lineage.get("git.commit"),
        "keras_version": keras.__version__, "backend": keras.backend.backend(),
        "publictest": summary["publictest"], "privatetest": summary["privatetest"],
        "confusion_matrix_privatetest": reports[REPORT]["confusion_matrix"],
        "size_bytes": (out_dir / "model.keras").stat().st_size,
        "notes": notes,
    }
    write_json(out_dir / "model_card.json", card)
    (out_dir / "MODEL_CARD.md").write_text(model_card_markdown(card))
    return card


def _hardware(state: dict) -> str:
    """Where the checkpoint was trained: recorded by a hosted run (fer_platform.training.hosted), else here."""
    host = state.get("trained_on")
    if host:
        return f"{host.get('device', '?')} (Keras {host.get('keras', '?')}, {host.get('backend', '?')} backend)"
    return f"{platform.machine()} CPU, {os.cpu_count()} cores (Keras {_keras_version()}, this machine)"


def _keras_version() -> str:
    import keras

    return keras.__version__


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def _training_line(card: dict) -> str:
    runs = card.get("members", [card])
    return "; ".join(f"{'`' + r['arch'] + '`: ' if len(runs) > 1 else ''}{r['epochs_completed']}/{r['epochs_planned']}"
                     f" epochs, best epoch {r['best_epoch']}, {_duration(r['train_seconds'])} on {r['hardware']}"
                     for r in runs)


def _recipe_heading(card: dict) -> str:
    if "members" not in card:
        return f"Training recipe (`params.yaml` `train.common` + `train.archs.{card['arch']}`):"
    scores = ", ".join(f"`{m['arch']}` {m['publictest']['accuracy']:.4f} / {m['privatetest']['accuracy']:.4f} "
                       f"(from `{m['source']}`, code `{str(m['code_commit'])[:7]}`)" for m in card["members"])
    return (f"Members (PublicTest / PrivateTest accuracy alone): {scores}. Their training recipes "
            f"(`params.yaml` `train.common` + `train.archs.<arch>` when each was trained):")


def model_card_markdown(card: dict) -> str:
    pub, priv = card["publictest"], card["privatetest"]
    recall = "\n".join(f"| {e} | {pub['recall'][e]:.3f} | {priv['recall'][e]:.3f} |" for e in EMOTIONS)
    return f"""# Model card: `{card['arch']}` (for registered model `{card['registered_model']}`)

| | |
|---|---|
| architecture | `{card['architecture']}` ({card['arch']}), Keras {card['keras_version']} |
| data | FER2013, DVC md5 `{card['data']['dvc_md5']}`, {card['data']['n_train']} Training images before leak removal |
| code | commit `{card['code_commit']}` |
| training | {_training_line(card)} |
| selection | {card['selection']} |
| PublicTest accuracy | {pub['accuracy']:.4f} (macro-F1 {pub['macro_f1']:.4f}, n={pub['n']}) |
| **PrivateTest accuracy** | **{priv['accuracy']:.4f}** (macro-F1 {priv['macro_f1']:.4f}, n={priv['n']}) |
| size | {card['size_bytes'] / 1e6:.1f} MB (`model.keras`, weights only) |

Input: raw 48x48 grayscale uint8 faces `(N, 48, 48, 1)`; rescaling and (train-only) augmentation are in the
graph. Output: probabilities over {', '.join(EMOTIONS)}. Load it with `fer_platform.models.load_model(path)`,
which registers our augmentation layer (`FaceAugment`, identity at inference) before Keras deserialises it.

Per-class recall:

| class | PublicTest | PrivateTest |
|---|---:|---:|
{recall}

![PrivateTest confusion matrix](confusion_matrix_privatetest.png)

{_recipe_heading(card)}

```json
{json.dumps(card['params'], indent=2)}
```

{card['notes']}
"""


def bootstrap_champion(registered_model: str, release_dir: Path = RELEASE_DIR) -> dict:
    """Register release/model.keras as `champion` if the registry has none; otherwise leave it alone."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from fer_platform import tracking
    from fer_platform.registry import CHAMPION, register_version
    from fer_platform.training.fit import log_keras_model

    card_path = release_dir / "model_card.json"
    if not card_path.exists():
        raise FileNotFoundError(f"{card_path}: no committed release model to bootstrap from")
    card = json.loads(card_path.read_text())
    mlflow = tracking.configure()
    client = MlflowClient()
    try:
        current = client.get_model_version_by_alias(registered_model, CHAMPION)
        return {"bootstrapped": False, "reason": f"{registered_model}@{CHAMPION} exists (version {current.version})"}
    except MlflowException:
        pass
    model = load_model(release_dir / "model.keras")
    with mlflow.start_run(run_name=f"release-{card['arch']}") as run:
        mlflow.set_tags({"arch_key": card["arch"], "architecture": card["architecture"], "release": "true",
                         "data.dvc_md5": str(card["data"]["dvc_md5"]), "git.commit": str(card["code_commit"])})
        mlflow.log_params({"release.epochs_completed": card["epochs_completed"],
                           "release.best_epoch": card["best_epoch"]})
        mlflow.log_metrics({"publictest_accuracy": card["publictest"]["accuracy"],
                            "privatetest_final_accuracy": card["privatetest"]["accuracy"],
                            "publictest_macro_f1": card["publictest"]["macro_f1"],
                            "privatetest_macro_f1": card["privatetest"]["macro_f1"]})
        for name in ("MODEL_CARD.md", "model_card.json", "confusion_matrix_privatetest.png"):
            if (release_dir / name).exists():
                mlflow.log_artifact(str(release_dir / name), artifact_path="release")
        info = log_keras_model(model)
    reason = f"bootstrap: committed release model (PrivateTest {card['privatetest']['accuracy']:.4f})"
    version = register_version(client, registered_model, info.model_uri, CHAMPION, {
        "arch": card["arch"], "run_id": run.info.run_id,
        "promotion.decision": CHAMPION, "promotion.reason": reason,
        "publictest_accuracy": f"{card['publictest']['accuracy']:.4f}",
        "privatetest_accuracy": f"{card['privatetest']['accuracy']:.4f}",
    })
    return {"bootstrapped": True, "version": version, "reason": reason}



def main(argv: list[str] | None = None) -> int:
    """python -m fer_platform.release export --arch A --checkpoint-dir DIR [--epochs N] [--out DIR]
    python -m fer_platform.release ensemble --member DIR --member DIR [...] --out DIR"""
    import argparse

    from fer_platform import tracking
    from fer_platform.config import load_params
    from fer_platform.data.dataset import load_dataset
    from fer_platform.paths import DATASET

    parser = argparse.ArgumentParser(prog="python -m fer_platform.release")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write release/ from a training checkpoint directory")
    export.add_argument("--arch", required=True)
    export.add_argument("--checkpoint-dir", required=True, type=Path)
    export.add_argument("--epochs", type=int, help="the epochs the run was planned with (if overridden)")
    export.add_argument("--dataset", type=Path, default=DATASET)
    export.add_argument("--params", default="params.yaml")
    export.add_argument("--notes", default="")
    export.add_argument("--out", type=Path, default=RELEASE_DIR,
                        help="where to write the model and its card (default: release/, what bootstrap serves)")
    ensemble = sub.add_parser("ensemble", help="write one release averaging the probabilities of releases")
    ensemble.add_argument("--member", action="append", required=True, type=Path,
                          help="a release directory (model.keras + model_card.json); repeat, at least twice")
    ensemble.add_argument("--dataset", type=Path, default=DATASET)
    ensemble.add_argument("--notes", default="")
    ensemble.add_argument("--out", type=Path, required=True,
                          help="where to write it (not one of the members: they are read, never replaced)")
    args = parser.parse_args(argv)
    if args.command == "ensemble":
        if args.out.resolve() in {m.resolve() for m in args.member}:
            parser.error(f"--out {args.out} is one of the members; write the ensemble elsewhere, then move it")
        try:
            for member in args.member:  # fail fast, before reading 35k images
                _read_card(member)
            card = ensemble_release(args.member, load_dataset(args.dataset), args.out, tracking.lineage_tags(),
                                    args.notes)
        except (ValueError, FileNotFoundError) as err:
            print(f"release: error: {err}", file=sys.stderr)
            return 1
    else:
        settings = load_params(args.params).train_settings(args.arch)
        if args.epochs:
            settings = settings.model_copy(update={"epochs": args.epochs})
        state = json.loads((args.checkpoint_dir / "state.json").read_text())
        card = export_release(args.checkpoint_dir / "best.keras", args.arch, settings, state,
                              load_dataset(args.dataset), args.out, tracking.lineage_tags(), args.notes)
    print(f"{args.out}/: {card['arch']} PublicTest {card['publictest']['accuracy']:.4f}, "
          f"PrivateTest {card['privatetest']['accuracy']:.4f}, {card['size_bytes'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
