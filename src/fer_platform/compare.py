"""`make compare`: DVC experiments against HEAD in a terminal's width: one row per headline metric (accuracy of
each architecture on PublicTest and PrivateTest, the robustness mean), then one per param that differs, one
column per experiment. `dvc exp show` puts everything in columns (about 980 characters here) and cuts the params
off; `dvc exp diff NAME` lists every changed number of one experiment.

    python -m fer_platform.compare [--width 120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from fer_platform.errors import UserError, entry_point

HEADLINE = (("publictest", "accuracy"), ("privatetest", "accuracy"), ("publictest", "robustness_mean"))
METRICS_PREFIX, METRICS_SUFFIX = "reports/metrics/", ".json"
# What a profile changes but a reader does not compare: the profiles themselves.
IGNORED_PARAMS = ("profiles.",)


def flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value
    return out


def columns(exp_show: list[dict]) -> list[tuple[str, dict, dict]]:
    """(name, headline metrics, flat params) for HEAD and then each of its experiments, from `dvc exp show --json`."""
    out = []
    for entry in exp_show:
        if entry["rev"] == "workspace":
            continue
        revs = [("HEAD", entry)] + [(exp.get("name") or exp["revs"][0]["rev"][:7], exp["revs"][0])
                                    for exp in entry.get("experiments") or []]
        for name, rev in revs:
            data = rev.get("data") or {}
            metrics = {}
            for path, content in (data.get("metrics") or {}).items():
                arch = path.removeprefix(METRICS_PREFIX).removesuffix(METRICS_SUFFIX)
                for split, key in HEADLINE:
                    value = ((content.get("data") or {}).get(split) or {}).get(key)
                    if value is not None:
                        metrics[f"{arch} {split} {key.replace('_', ' ')}"] = value
            params = flatten("", ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}, {})
            out.append((name, metrics, {k: v for k, v in params.items() if not k.startswith(IGNORED_PARAMS)}))
    return out


def table(cols: list[tuple[str, dict, dict]], width: int = 120) -> str:
    """Rows: headline metrics, then the params whose value is not the same in every column."""
    if len(cols) < 2:
        raise UserError("no experiments to compare yet: `make run` (or `dvc exp run`) makes one")
    metric_keys = sorted({k for _, m, _ in cols for k in m})
    param_keys = sorted({k for _, _, p in cols for k in p if len({json.dumps(c[2].get(k)) for c in cols}) > 1})
    key_width = min(44, max(len(k) for k in [*metric_keys, *param_keys, "metric / param"]))
    n = max(1, (width - key_width) // 15)
    shown = cols[: n]  # HEAD and the newest experiments that fit
    cell = max(8, min(22, (width - key_width) // len(shown) - 1))

    def fit(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + "…"

    def line(key: str, values: list[str]) -> str:
        return fit(key, key_width).ljust(key_width) + "".join(" " + fit(v, cell).rjust(cell) for v in values)

    lines = [line("metric / param", [name for name, _, _ in shown]), "-" * min(width, key_width + (cell + 1) * len(shown))]
    lines += [line(k, [f"{m[k]:.4f}" if k in m else "-" for _, m, _ in shown]) for k in metric_keys]
    if param_keys:
        lines.append("")
        lines += [line(k, [json.dumps(p[k]) if k in p else "-" for _, _, p in shown]) for k in param_keys]
    if len(shown) < len(cols):
        lines.append(f"({len(cols) - len(shown)} older experiments left out; `dvc exp show` lists every one)")
    return "\n".join(lines)


@entry_point("compare", also=(OSError, ValueError, KeyError))  # ValueError: not JSON; KeyError: another layout
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_platform.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=120)
    args = parser.parse_args(argv)
    dvc = Path(sys.executable).with_name("dvc")  # the environment's, also when it is not activated
    out = subprocess.run([str(dvc) if dvc.exists() else "dvc", "exp", "show", "--json"], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise UserError(f"dvc exp show failed: {out.stderr.strip()[-500:]}")
    print(table(columns(json.loads(out.stdout)), max(args.width, 60)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
