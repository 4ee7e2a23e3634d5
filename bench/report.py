"""Render bench/results/*.json as the Markdown table in bench/README.md.

    python bench/report.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS

HEADER = """# Benchmarks

Each script writes `results/<name>.json` (with commit and machine); `python bench/report.py` renders this table.

| benchmark | result | target | commit | machine |
|---|---|---|---|---|
"""


def row(r: dict) -> str:
    name, where = r["benchmark"], f"{r['machine']['cores']} cores {r['machine']['cpu']}"
    if name == "ingest_validate":
        totals = " / ".join(f"{run['total_s']:.1f}" for run in r["runs"])
        result = f"{r['median_total_s']:.1f} s median ingest+validate (runs: {totals} s), {r['n_images']} images"
        target = f"<= {r['target_s']} s"
    elif name == "fer_package":
        result = f"PrivateTest accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f} (n={r['n']}); {r['caveat']}"
        target = "peer baseline"
    elif "reproduces_model_card" in r:  # bench/evaluate_release.py, for the release or any exported model
        p = r["privatetest"]
        result = (f"{r['arch']}: PrivateTest {p['accuracy']:.4f} vs model card {p['model_card_accuracy']:.4f} "
                  f"-> reproduces: {r['reproduces_model_card']}")
        target = "model card to 0.1 pt"
    else:
        result, target = json.dumps({k: v for k, v in r.items() if k not in ("machine",)})[:120], ""
    return f"| {name} | {result} | {target} | {r['commit']} | {where} |"


def main() -> int:
    rows = [row(json.loads(p.read_text())) for p in sorted(RESULTS.glob("*.json"))]
    out = Path(__file__).with_name("README.md")
    out.write_text(HEADER + "\n".join(rows) + "\n")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
