"""A release's model card as Markdown (MODEL_CARD.md), from its model_card.json."""

from __future__ import annotations

import json

from fer_platform.labels import EMOTIONS


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

{_recipe_heading(card)}

```json
{json.dumps(card['params'], indent=2)}
```

{card['notes']}
"""


