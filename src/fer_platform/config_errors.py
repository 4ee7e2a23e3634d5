"""params.yaml mistakes as one line each: `params.yaml:LINE: dotted.key: what is wrong (got VALUE)`, not
pydantic's raw report with a documentation link."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

Key = tuple[str, ...]


def problems(err: ValidationError, prefix: Key = (), place=None) -> list[tuple[Key, str]]:
    """(dotted key, message) per error; `place(loc)` may map a location to where it is set in the file."""
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(str(part) for part in e["loc"])
        key = place(loc) if place else (*prefix, *loc)
        if e["type"] == "extra_forbidden":
            message = "unknown key (a typo? it would otherwise be ignored)"
        elif e["type"] == "missing":
            message = "required, but not set"
        else:
            message = e["msg"].removeprefix("Value error, ")
            if "input" in e and not isinstance(e["input"], dict | list):
                message += f" (got {e['input']!r})"
        out.append((key, message))
    return out


def render(path: Path, text: str, items: list[tuple[Key, str]]) -> str:
    """One line per problem, with the line of params.yaml that sets the key (or its nearest parent)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        root = None
    return "\n".join(f"{path}:{_line(root, key)}: {'.'.join(key) or '(top level)'}: {message}"
                     for key, message in items)


def _line(node, key: Key) -> int:
    line = 1
    for part in key:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line
