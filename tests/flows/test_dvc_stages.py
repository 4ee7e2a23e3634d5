"""dvc.yaml declares what each stage reads (#23.7): the code its flow imports, the data and params it uses, and
none of the execution-only settings, so `dvc status` says exactly which stages a change makes stale."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import REPO

# Modules that change how a stage runs or reports, never what it computes: entry plumbing, file writing,
# error text, MLflow logging. (labels/contract are the frozen release contract: tests/test_contract.py.)
PLUMBING = ("fer_platform.cli", "fer_platform.io", "fer_platform.paths", "fer_platform.errors",
            "fer_platform.config_errors", "fer_platform.overrides", "fer_platform.prefect_api",
            "fer_platform.workspace", "fer_platform.lineage", "fer_platform.labels", "fer_platform.contract",
            "fer_platform", "fer_platform.models", "fer_platform.models.architectures")
STAGE_FLOWS = {"ingest": "flows.ingest", "validate": "flows.validate", "in_frame": "flows.in_frame",
               "train": "flows.train", "evaluate": "flows.evaluate", "promote": "flows.promote",
               "package": "flows.package"}


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    base = REPO / ("src" if parts[0] == "fer_platform" else "") / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(module: str, seen: set[str] | None = None) -> set[str]:
    """Every fer_platform/flows module `module` imports, transitively, lazy imports inside functions included;
    not through PLUMBING (what entry plumbing imports, e.g. the layers registered for loading a model, runs for
    the plumbing, not for the stage)."""
    seen = set() if seen is None else seen
    path = _module_file(module)
    if path is None or module in seen:
        return seen
    seen.add(module)
    if module in PLUMBING:
        return seen
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        if isinstance(node, ast.ImportFrom) and node.module:  # `from pkg import submodule`
            names += [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in ("fer_platform", "flows") and _module_file(name):
                imported_modules(name, seen)
    return seen


def _stage(name: str) -> dict:
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    return stage.get("do", stage)


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def test_each_stage_depends_on_all_the_code_its_flow_runs():
    missing = {}
    for stage, flow in STAGE_FLOWS.items():
        deps = [d for d in _stage(stage)["deps"]]
        for module in imported_modules(flow):
            logging_only = module.startswith("fer_platform.tracking") and stage != "promote"
            if module in PLUMBING or logging_only or module.startswith("flows.") and module != flow:
                continue  # another flow module is another stage's code (checked as that stage)
            path = _module_file(module)
            if not _covered(path, deps):
                missing.setdefault(stage, []).append(path.relative_to(REPO).as_posix())
    assert not missing, missing


def test_execution_only_settings_are_not_dependencies_and_promote_reads_what_it_declares():
    assert "pipeline" not in _stage("train")["params"]  # a retry delay must not retrain, re-promote, re-register
    promote = _stage("promote")
    assert {"artifacts/dataset/fer2013.npz", "reports/plots", "reports/metrics"} <= set(promote["deps"])
    assert "train" in promote["params"]


def test_the_field_split_goes_from_the_feedback_folder_to_evaluate_and_promote_and_never_to_training():
    """#27: ingest depends on the folder holding data.field, which a committed file keeps in every clone (DVC fails
    a stage whose dependency is missing), and writes the field split to a file of its own that evaluate and
    promote read and no stage before them does (collecting faces must not retrain)."""
    import subprocess

    from fer_platform.config import load_params

    faces = REPO / load_params(REPO / "params.yaml").data.field
    ingest = _stage("ingest")
    folder = next(d for d in ingest["deps"] if _covered(faces, [d]))
    assert folder != "data"  # data.dvc's folder changes only with FER2013's version
    kept = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert kept and not [p for p in kept.splitlines() if _covered(REPO / p, [faces.relative_to(REPO).as_posix()])]
    split = "artifacts/dataset/field.npz"
    assert split in ingest["outs"] and all(split in _stage(s)["deps"] for s in ("evaluate", "promote"))
    assert not [s for s in ("validate", "in_frame", "train") if split in _stage(s)["deps"]]


def test_every_architecture_a_run_evaluates_is_plotted_and_each_file_evaluate_writes_is_an_output(tmp_path):
    """#23.7: the plots listed four architectures by hand, so an arch a profile adds (gpu72's three) was never
    plotted. DVC itself resolves dvc.yaml here, with one more arch than the committed params."""
    import shutil
    import subprocess
    import sys

    from dvc.repo import Repo

    from fer_platform.evaluation.evaluate import write_evaluation
    from fer_platform.evaluation.metrics import classification_report

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["archs"]["added_by_a_profile"] = {"architecture": "cnn"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    repo = Repo(str(tmp_path))
    repo.index.check_graph()  # no overlapping outputs
    plotted = _plotted_files(repo)
    outputs = {str(Path(o.def_path)) for o in repo.index.outs}
    for arch in params["train"]["archs"]:
        assert f"reports/plots/{arch}/history.csv" in plotted, arch
        assert f"reports/plots/{arch}/predictions_privatetest.csv" in plotted, arch

    # What evaluate writes is exactly what the stage declares: a new file is not left out of the cache.
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}]
    true, predicted = np.arange(14) % 7, np.arange(14) % 5
    report = {**classification_report(true, predicted), "_true": true, "_predicted": predicted}
    written = write_evaluation("cnn", {"PublicTest": report, "PrivateTest": report}, history,
                               tmp_path / "metrics.json", tmp_path / "reports/plots/cnn")
    declared = {p for p in outputs if p.startswith("reports/plots/cnn/") or p == "reports/plots/cnn"}
    assert {str(p.relative_to(tmp_path)) for p in written.values()} == declared


def _plotted_files(repo) -> set[str]:
    """Every data file DVC plots: stage outputs marked as plots, and the files top-level plots name."""
    files = {str(Path(out.def_path)) for out in repo.index.outs if out.plot}
    for definitions in repo.index._plots.values():
        for definition in definitions:
            if isinstance(definition, str):
                files.add(definition)
                continue
            (plot_id, props), = definition.items()
            y = (props or {}).get("y")
            files.update(y if isinstance(y, dict) else [plot_id])
    return files
