"""A release's model card as Markdown (MODEL_CARD.md), from its model_card.json."""

from __future__ import annotations

import json

from fer_platform.labels import EMOTIONS

INTENDED_USE = """## Intended use and limitations

- Intended use: reading the expression a face shows in a webcam or photo, for research, demos and
  interactive applications that a person chose to use. Not for decisions about people (hiring, policing,
  insurance, education or health), and not as a lie detector.
- What it measures: one of seven labels for the visible expression of a face. An expression is not an
  emotion: people smile when they are not happy and look neutral when they are not; it cannot read what
  someone feels.
- Data: FER2013 (35,887 web images found by keyword search, 48x48 grayscale). Its faces are mostly adult and
  its demographics are not documented; many expressions are posed; labels are noisy (human agreement is
  about 65%). Accuracy on other populations, children, spontaneous expressions, profile views, low light or
  occluded faces is lower; the robustness table below measures some of this, not all.
"""


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


def _tta_line(pub: dict, priv: dict) -> str:
    parts = [f"{label}: PublicTest {pub[key]:.4f}, PrivateTest {priv[key]:.4f}"
             for key, label in (("flip_accuracy", "flip"), ("ten_crop_accuracy", "ten crops")) if key in pub]
    return "; ".join(parts) or "not evaluated"


def _params(card: dict) -> str:
    return f", {card['n_params'] / 1e6:.2f} M parameters" if "n_params" in card else ""


def _real_faces(pub: dict, priv: dict) -> str:
    """The robustness table and the pipeline accuracy, when the card's evaluation measured them."""
    if "robustness" not in priv:
        return ""
    rows = "\n".join(f"| {name} | {', '.join(f'{sev}: {acc:.3f}' for sev, acc in priv['robustness']['accuracy'][name].items())}"
                     f" | {pub['robustness']['per_perturbation'][name]:.3f} | {acc:.3f} |"
                     for name, acc in priv["robustness"]["per_perturbation"].items())
    trained = ", ".join(priv["robustness"]["trained_with"]) or "none"
    unseen = priv.get("robustness_unseen_mean")
    text = f"""
Robustness (fer_platform.perturbations: seeded perturbations of the test faces; the recipe trains with {trained}):

| perturbation | PrivateTest accuracy by severity | PublicTest mean | PrivateTest mean |
|---|---|---:|---:|
{rows}
| **mean** | | {pub['robustness_mean']:.3f} | **{priv['robustness_mean']:.3f}** |
""" + (f"| mean of those not trained with | | {pub['robustness_unseen_mean']:.3f} | {unseen:.3f} |\n" if unseen else "")
    if "pipeline" in priv:
        p = priv["pipeline"]
        text += (f"\nPipeline accuracy (evaluation.in_frame: {p['n']} PrivateTest faces at 60-250 px in 640x480 frames, "
                 f"found by the service's Haar detector): {p['detection_rate']:.1%} found, "
                 f"{p['accuracy_on_detected']:.4f} of those right, {p['end_to_end_accuracy']:.4f} end to end.\n")
    return text


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
| test-time augmentation (reported, not served unless named here) | {_tta_line(pub, priv)} |
| served crops | {card.get('tta', 'none (whole face)')} |
| size | {card['size_bytes'] / 1e6:.1f} MB (`model.keras`, weights only){_params(card)} |

Input: raw 48x48 grayscale uint8 faces `(N, 48, 48, 1)`; rescaling and (train-only) augmentation are in the
graph. Output: probabilities over {', '.join(EMOTIONS)}. Load it with `fer_platform.models.load_model(path)`,
which registers our augmentation layer (`FaceAugment`, identity at inference) before Keras deserialises it.

Per-class recall:

| class | PublicTest | PrivateTest |
|---|---:|---:|
{recall}

![PrivateTest confusion matrix](confusion_matrix_privatetest.png)
{_real_faces(pub, priv)}
{INTENDED_USE}

{_recipe_heading(card)}

```json
{json.dumps(card['params'], indent=2)}
```

{card['notes']}
"""


