"""Dotted `key: value` overrides of params.yaml (profiles, `dvc exp run -S`, tests) and the merge of an
architecture's settings over `train.common`: plain dict logic, no schema."""

from __future__ import annotations

import copy
from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_COMMON = "train.common."


def expand_overrides(train: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted `key: value` overrides, where `train.common.K` also overrides K in every arch that sets K itself.

    In params.yaml an arch's own value wins over `train.common` (resnet32's `epochs` is its recipe). An
    override of `train.common.K` (a profile, a test) means "K for every arch"; without this expansion a
    quick profile that shortens training would silently leave each arch with its own epochs at full length.
    An override that names the arch key explicitly keeps its own value.
    """
    expanded = dict(overrides)
    for key, value in overrides.items():
        if not key.startswith(_COMMON):
            continue
        field = key[len(_COMMON):]
        for arch, spec in (train.get("archs") or {}).items():
            if has_dotted(spec or {}, field):
                expanded.setdefault(f"train.archs.{arch}.{field}", value)
    return expanded


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of raw params (as read from params.yaml) with the expanded overrides set, as `dvc exp run -S` would."""
    result = copy.deepcopy(raw)
    for key, value in expand_overrides(raw.get("train", {}), overrides).items():
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def has_dotted(mapping: dict[str, Any], dotted: str) -> bool:
    node: Any = mapping
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
