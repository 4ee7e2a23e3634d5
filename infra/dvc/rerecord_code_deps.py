"""Re-record the code dependencies of DVC stages in dvc.lock after code moved without a change in behaviour.

`dvc commit` would do this, but it hashes the stage's outputs too, and the outputs of the committed
full-recipe trainings (hours of CPU each) are not in a fresh checkout. This keeps every output hash and
param of the lock entry and re-hashes only the stage's source dependencies (paths under src/ or flows/, as
dvc.yaml now lists them). It refuses a stage whose command or params differ from its lock entry: that would
be a real change, and the stage must run.

    python infra/dvc/rerecord_code_deps.py train@cnn train@vgg19 train@resnet32 evaluate@cnn ...

Then check the behaviour did not change (bench/evaluate_release.py reproduces the committed cards).
"""

from __future__ import annotations

import sys

from dvc.repo import Repo

CODE_PREFIXES = ("src/", "flows/")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    repo = Repo(".")
    with repo.lock:
        return _rerecord(repo, argv)


def _rerecord(repo: Repo, names: list[str]) -> int:
    stages = {s.addressing: s for s in repo.index.stages}
    for name in names:
        stage = stages.get(name)
        if stage is None:
            print(f"{name}: no such stage in dvc.yaml", file=sys.stderr)
            return 1
        status = stage.status()
        changes = status.get(name, []) if status else []
        bad = [c for c in changes if isinstance(c, str) or not _code_or_missing_only(c)]
        if bad:
            print(f"{name}: changed beyond code dependencies ({bad}); run the stage instead", file=sys.stderr)
            return 1
        for dep in stage.deps:
            if str(dep.def_path).startswith(CODE_PREFIXES):
                dep.save()
        stage.dvcfile._dump_lockfile([stage])  # the lock entry: cmd, deps, params and outs as loaded
        print(f"{name}: code dependencies re-recorded")
    return 0


def _code_or_missing_only(change: dict) -> bool:
    """A status entry lists only source deps that changed, and deps/outs that are absent in this checkout."""
    for kind, entries in change.items():
        for path, what in entries.items():
            if kind == "changed deps" and str(path).startswith(CODE_PREFIXES):
                continue
            if what in ("deleted", "not in cache"):
                continue
            return False
    return True


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
