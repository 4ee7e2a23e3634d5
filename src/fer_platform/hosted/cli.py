"""The command line of the GPU-host workflow: `train` and `soft-labels` (there), `import` (here), `one`
(internal)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer_platform import hosted, paths, version
from fer_platform.config import load_params
from fer_platform.errors import entry_point
from fer_platform.hosted.host import soft_labels, train_many, train_one
from fer_platform.hosted.importer import import_results
from fer_platform.models.architectures import check_recipes


@entry_point("hosted")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_platform.hosted", description=hosted.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="(on the host) train architectures in parallel processes")
    train.add_argument("--images-pack", type=Path, required=True)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--work", type=Path, default=Path("/tmp/fer-hosted"))
    train.add_argument("--arch", action="append", required=True)
    train.add_argument("--return-weights", default="", help="comma-separated archs whose models come back")
    train.add_argument("--deadline-s", type=float, default=420.0, help="no epoch ends later than this")
    train.add_argument("--grace-s", type=float, default=75.0, help="then unfinished processes are killed")
    train.add_argument("--params", default="params.yaml")
    one = sub.add_parser("one", help=argparse.SUPPRESS)
    one.add_argument("--arch", required=True)
    one.add_argument("--params", default="params.yaml")
    one.add_argument("--dataset", type=Path, required=True)
    one.add_argument("--work", type=Path, required=True)
    one.add_argument("--deadline", type=float, required=True)
    soft = sub.add_parser("soft-labels", help="(on the host) the trained archs' mean probabilities on every "
                                              "Training face, for a student's distill.teacher")
    soft.add_argument("--arch", action="append", required=True)
    soft.add_argument("--work", type=Path, default=Path("/tmp/fer-hosted"))
    soft.add_argument("--out", type=Path, required=True)
    soft.add_argument("--student", required=True, help="the arch whose Training faces get soft labels")
    soft.add_argument("--params", default="params.yaml")
    imp = sub.add_parser("import", help="(here) install returned results for the pipeline and MLflow")
    imp.add_argument("results", type=Path)
    imp.add_argument("--params", default="params.yaml")
    imp.add_argument("--dataset", type=Path, default=paths.DATASET)
    args = parser.parse_args(argv)
    if args.command == "train":
        params = load_params(args.params)
        check_recipes(params, args.params)  # a builder argument typo is one line here, not a failure on the host
        known = params.architectures()
        unknown = sorted(set(args.arch) - set(known))
        if unknown:
            parser.error(f"unknown --arch {unknown}; params.yaml has: {', '.join(known)}")
        return train_many(args.arch, args.params, args.images_pack, args.work, args.out, args.deadline_s,
                          [a for a in args.return_weights.split(",") if a], args.grace_s)
    if args.command == "soft-labels":
        soft_labels(args.arch, args.work, args.out, args.params, args.student)
        return 0
    if args.command == "one":
        train_one(args.arch, args.params, args.dataset, args.work, args.deadline)
        return 0
    for item in import_results(args.results, args.params, args.dataset):
        print(json.dumps(item))
    return 0
