"""Draw what MLflow's Compare view shows for the runs of a store: PublicTest accuracy per epoch of each
architecture's latest run, and their final PublicTest/PrivateTest accuracy (the README's picture).

    python bench/mlflow_comparison.py --store sqlite:///mlflow.db --out release/example_mlflow_comparison.png
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="sqlite:///mlflow.db")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    client = MlflowClient(tracking_uri=args.store)
    experiment = client.get_experiment_by_name("fer2013")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.arch_key != ''",
                              order_by=["attributes.start_time DESC"])
    latest = {}
    for run in runs:
        latest.setdefault(run.data.tags["arch_key"], run)
    fig, (curves, bars) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    for arch, run in sorted(latest.items()):
        history = sorted(client.get_metric_history(run.info.run_id, "publictest_accuracy"), key=lambda m: m.step)
        curves.plot([m.step for m in history], [m.value for m in history], marker="o", label=arch)
    curves.set(title="publictest_accuracy per epoch", xlabel="epoch")
    curves.legend(fontsize=7)
    names = sorted(latest)
    for offset, metric in ((-0.2, "publictest_final_accuracy"), (0.2, "privatetest_final_accuracy")):
        bars.bar([i + offset for i in range(len(names))], [latest[a].data.metrics.get(metric, 0) for a in names],
                 width=0.4, label=metric.replace("_final", ""))
    bars.set_xticks(range(len(names)), names, fontsize=7)
    bars.set(title="final accuracy")
    bars.legend(fontsize=7)
    fig.suptitle(f"MLflow experiment fer2013: {len(latest)} runs compared", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
