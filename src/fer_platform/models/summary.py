"""A model's layer table as text (for summary.txt beside a trained model and for its MLflow run)."""

from __future__ import annotations


def model_summary_text(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=110)
    return "\n".join(lines)
