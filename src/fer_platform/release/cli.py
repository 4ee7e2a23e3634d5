"""python -m fer_platform.release export|ensemble: write a release directory (see fer_platform.release)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer_platform import version
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.errors import entry_point
from fer_platform.lineage import lineage_tags
from fer_platform.paths import DATASET
from fer_platform.release import MODEL_FILE, ONNX_FILE, RELEASE_DIR
from fer_platform.release.export import ensemble_release, export_release, read_card, refresh_card, write_onnx
from fer_platform.training.checkpoints import BEST, STATE


@entry_point("release", also=(ValueError,))  # a bad card or checkpoint file is the user's to fix
def main(argv: list[str] | None = None) -> int:
    """python -m fer_platform.release export --arch A --checkpoint-dir DIR [--epochs N] [--out DIR]
    python -m fer_platform.release ensemble --member DIR --member DIR [...] --out DIR
    python -m fer_platform.release onnx [--release DIR]
    python -m fer_platform.release card [--release DIR]"""
    parser = argparse.ArgumentParser(prog="python -m fer_platform.release")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write release/ from a training checkpoint directory")
    export.add_argument("--arch", required=True)
    export.add_argument("--checkpoint-dir", required=True, type=Path)
    export.add_argument("--epochs", type=int, help="the epochs the run was planned with (if overridden)")
    export.add_argument("--dataset", type=Path, default=DATASET)
    export.add_argument("--params", default="params.yaml")
    export.add_argument("--notes", default="")
    export.add_argument("--tta", choices=["centre", "ten_crop"], default="centre",
                        help="a model trained on crops: serve the centre crop or ten crops (choose on PublicTest)")
    export.add_argument("--out", type=Path, default=RELEASE_DIR,
                        help="where to write the model and its card (default: release/, what bootstrap serves)")
    ensemble = sub.add_parser("ensemble", help="write one release averaging the probabilities of releases")
    ensemble.add_argument("--member", action="append", required=True, type=Path,
                          help="a release directory (model.keras + model_card.json); repeat, at least twice")
    ensemble.add_argument("--dataset", type=Path, default=DATASET)
    ensemble.add_argument("--notes", default="")
    ensemble.add_argument("--tta", choices=["centre", "ten_crop"], default="centre",
                          help="members trained on crops: centre crop or ten crops each")
    ensemble.add_argument("--out", type=Path, required=True,
                          help="where to write it (not one of the members: they are read, never replaced)")
    onnx = sub.add_parser("onnx", help="(re)write a release's model.onnx, parity-checked against its model.keras")
    onnx.add_argument("--dataset", type=Path, default=DATASET)
    onnx.add_argument("--release", type=Path, default=RELEASE_DIR)
    again = sub.add_parser("card", help="evaluate a release's model again and rewrite its card (the weights stay)")
    again.add_argument("--dataset", type=Path, default=DATASET)
    again.add_argument("--release", type=Path, default=RELEASE_DIR)
    args = parser.parse_args(argv)
    if args.command == "onnx":
        return _onnx(args.release, args.dataset)
    if args.command == "card":
        read_card(args.release)  # fail fast, before reading 35k images
        card = refresh_card(args.release, load_dataset(args.dataset), lineage_tags())
        args.out = args.release
    elif args.command == "ensemble":
        if args.out.resolve() in {m.resolve() for m in args.member}:
            parser.error(f"--out {args.out} is one of the members; write the ensemble elsewhere, then move it")
        for member in args.member:  # fail fast, before reading 35k images
            read_card(member)
        card = ensemble_release(args.member, load_dataset(args.dataset), args.out, lineage_tags(), args.notes,
                                args.tta)
    else:
        settings = load_params(args.params).train_settings(args.arch)
        if args.epochs:
            settings = settings.model_copy(update={"epochs": args.epochs})
        for name in (STATE, BEST):  # fail fast, before reading 35k images
            if not (args.checkpoint_dir / name).is_file():
                raise FileNotFoundError(f"{args.checkpoint_dir / name}: not found (--checkpoint-dir is a "
                                        f"training's checkpoint folder, e.g. artifacts/checkpoints/{args.arch})")
        state = json.loads((args.checkpoint_dir / STATE).read_text())
        card = export_release(args.checkpoint_dir / BEST, args.arch, settings, state,
                              load_dataset(args.dataset), args.out, lineage_tags(), args.notes, args.tta)
    print(f"{args.out}/: {card['arch']} PublicTest {card['publictest']['accuracy']:.4f}, "
          f"PrivateTest {card['privatetest']['accuracy']:.4f}, {card['size_bytes'] / 1e6:.1f} MB")
    return 0


def _onnx(release: Path, dataset: Path) -> int:
    from fer_platform.models import load_model  # Keras: only once the arguments are fine

    read_card(release)
    parity = write_onnx(load_model(release / MODEL_FILE, compile=False), load_dataset(dataset), release)
    print(f"{release / ONNX_FILE}: max |p_keras - p_onnx| {parity['max_abs_diff']:.1e} on {parity['faces']} "
          f"PrivateTest faces, labels identical")
    return 0
