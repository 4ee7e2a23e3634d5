"""The drift report: one self-contained HTML page (plots as embedded PNGs) of a monitoring.drift result."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from fer_platform.face_stats import NUMERIC_FIELDS
from fer_platform.io import write_with
from fer_platform.labels import EMOTIONS


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(reference: dict, window: list[dict]) -> dict[str, str]:
    """{name: base64 PNG}: the label mix, and each numeric field's histogram, reference against window."""
    import matplotlib  # here: ~1 s to import, and only the report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ref = np.array([reference["labels"][e] for e in EMOTIONS], float)
    cur = np.array([sum(r["label"] == e for r in window) for e in EMOTIONS], float)
    x = np.arange(len(EMOTIONS))
    ax.bar(x - 0.2, ref / max(ref.sum(), 1), 0.4, label=f"reference ({int(ref.sum())})")
    ax.bar(x + 0.2, cur / max(cur.sum(), 1), 0.4, label=f"window ({int(cur.sum())})")
    ax.set_xticks(x, EMOTIONS)
    ax.set_ylabel("share of faces")
    ax.legend()
    out["labels"] = _png(fig)
    plt.close(fig)
    fig, axes = plt.subplots(2, 3, figsize=(10, 5))
    for ax, field in zip(axes.flat, NUMERIC_FIELDS, strict=True):
        a, b = np.asarray(reference["fields"][field], float), np.array([r[field] for r in window], float)
        edges = np.histogram_bin_edges(np.concatenate([a, b]) if len(b) else a, bins=30)
        ax.hist(a, edges, density=True, alpha=0.5, label="reference")
        if len(b):
            ax.hist(b, edges, density=True, alpha=0.5, label="window")
        ax.set_title(field)
    axes.flat[0].legend()
    fig.tight_layout()
    out["fields"] = _png(fig)
    plt.close(fig)
    return out


def render(result: dict, reference: dict, window: list[dict], title: str) -> str:
    rows = "".join(
        f"<tr class={'drift' if r['drift'] else 'ok'}><td>{f}</td><td>{r['psi']:.3f}</td><td>{r['ks']:.3f}</td>"
        f"<td>{r['ks_p']:.2g}</td><td>{r['reference_mean']:.3g}</td><td>{r['window_mean']:.3g}</td>"
        f"<td>{'drift' if r['drift'] else ''}</td></tr>" for f, r in result["fields"].items())
    if result["labels"]:
        r = result["labels"]
        rows += (f"<tr class={'drift' if r['drift'] else 'ok'}><td>label mix</td><td>{r['psi']:.3f}</td>"
                 f"<td colspan=4></td><td>{'drift' if r['drift'] else ''}</td></tr>")
    images = "".join(f'<img alt="{name}" src="data:image/png;base64,{png}">'
                     for name, png in plots(reference, window).items())
    limits = html.escape(str(result.get("thresholds", "")))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 10px;text-align:right}} .drift{{background:#fdd}}
</style></head><body><h1>{html.escape(title)}</h1>
<p><b>{html.escape(result['verdict'])}</b>: {result['n']} faces in the window against {result['reference_n']}
reference faces; drifted: {html.escape(', '.join(result['drifted']) or 'nothing')}. Thresholds: {limits}</p>
<table><tr><th>field</th><th>PSI</th><th>KS</th><th>KS p</th><th>reference mean</th><th>window mean</th><th></th></tr>
{rows}</table>{images}</body></html>
"""


def write_report(path: Path, result: dict, reference: dict, window: list[dict], title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render(result, reference, window, title)
    write_with(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))  # never a half-written report
    return path
